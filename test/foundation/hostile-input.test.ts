import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { testApp, llmEvent, type TestApp } from '../helpers/app.ts';
import { fixedClock } from '../../src/shared/clock.ts';

/**
 * Hostile input (issue 13): NUL characters, lone surrogates, huge and exotic strings, deep JSON,
 * in every parameter and every string field, answer 4xx naming what is wrong — never 500 — and
 * never cost the valid part of a batch.
 */
let app: TestApp;
beforeAll(async () => {
  app = await testApp({ clock: fixedClock('2026-03-10T12:00:00Z') });
  const r = await app.request('POST', '/v1/events', { body: [llmEvent('seed-1', { data: { team: 'red' } })] });
  expect(r.status).toBe(202);
});
afterAll(() => app.close());

const RANGE = 'from=2026-03-01T00:00:00Z&to=2026-03-11T00:00:00Z';

describe('NUL in parameters', () => {
  const cases: Array<[string, string, string, unknown?]> = [
    ['GET', `/v1/usage?${RANGE}&filter[team]=%00`, 'filter[team]'],
    ['GET', `/v1/export?${RANGE}&filter[team]=%00`, 'filter[team]'],
    ['GET', `/v1/usage/top?${RANGE}&filter[team]=a%00b`, 'filter[team]'],
    ['GET', `/v1/usage/top/series?${RANGE}&filter[team]=%00&window=day`, 'filter[team]'],
    ['GET', `/v1/meters/llm_tokens/query?${RANGE}&filter[team]=%00`, 'filter[team]'],
    ['GET', `/v1/usage?${RANGE}&tz=Asia/Seoul%00`, 'tz'],
    ['GET', `/v1/events?subject=%00`, 'subject'],
    ['GET', `/v1/meters/%00/query`, 'slug'],
    ['DELETE', `/v1/keys/%00`, 'id'],
    ['GET', `/v1/gateway/keys/%00/policy`, 'id'],
    ['GET', `/v1/usage?${RANGE}&filter%00=x`, 'filter\\u0000'],
    ['POST', '/v1/keys', 'name', { name: 'k\u0000', scopes: ['read'] }],
    ['POST', '/v1/keys', 'team', { name: 'k', scopes: ['read'], team: 'red\ud800' }],
    ['POST', '/v1/meters', 'event_type', { slug: 'nul_meter', event_type: 'app\u0000', aggregation: 'count' }],
    ['POST', '/v1/meters', 'group_by', { slug: 'nul_key_meter', event_type: 'app', aggregation: 'count', group_by: { ['g\u0000']: '$.g' } }],
  ];
  for (const [method, url, param, body] of cases) {
    it(`NUL in parameters: ${method} ${url}${body ? ' ' + JSON.stringify(body) : ''} → 400 naming ${param}`, async () => {
      const r = await app.request(method, url, body === undefined ? {} : { body });
      expect(r.status, JSON.stringify(r.body)).toBe(400);
      expect(r.body.error.type).toBe('invalid_request');
      expect(r.body.error.param).toBe(param);
      expect(r.body.error.message).toMatch(/NUL|surrogate/);
    });
  }

  it('NUL in parameters: nothing was stored (no key, no meter)', async () => {
    const keys = await app.request('GET', '/v1/keys');
    expect(JSON.stringify(keys.body)).not.toContain('\\u0000');
    expect((await app.request('GET', '/v1/meters/nul_meter')).status).toBe(404);
  });

  it('deep JSON: a 100,000-deep body on another route answers 400 BODY_TOO_DEEP', async () => {
    const n = 100_000;
    const r = await app.request('POST', '/v1/keys', { rawBody: '{"name":' + '['.repeat(n) + ']'.repeat(n) + '}', headers: { 'content-type': 'application/json' } });
    expect(r.status).toBe(400);
    expect(r.body.error.code).toBe('BODY_TOO_DEEP');
    expect(r.body.error.message).toMatch(/deeper than 64 levels/);
  });

  it('cursors that are not ones the API returned → 400, not a database error', async () => {
    const far = Buffer.from('+275760-09-13T00:00:00.000Z|1').toString('base64url');
    const big = Buffer.from('2026-01-01T00:00:00.000Z|99999999999999999999999').toString('base64url');
    for (const url of [`/v1/events?cursor=${far}`, `/v1/events?cursor=${big}`, '/v1/events/rejected?cursor=99999999999999999999999']) {
      const r = await app.request('GET', url);
      expect(r.status, `${url} → ${JSON.stringify(r.body)}`).toBe(400);
      expect(r.body.error.param).toBe('cursor');
    }
  });

  it('unauthenticated hostile input is still 401 first', async () => {
    const r = await app.request('GET', `/v1/usage?${RANGE}&filter[team]=%00`, { key: null });
    expect(r.status).toBe(401);
  });
});

// --- The property: arbitrary strings everywhere ------------------------------------------------

/** Percent-encodes any JS string, lone surrogates included (as the bytes a broken encoder would send). */
function encodeAny(s: string): string {
  let out = '';
  for (const ch of s) {
    const c = ch.codePointAt(0)!;
    if (c >= 0xd800 && c <= 0xdfff) out += `%${(0xe0 | (c >> 12)).toString(16)}%${(0x80 | ((c >> 6) & 0x3f)).toString(16)}%${(0x80 | (c & 0x3f)).toString(16)}`;
    else out += encodeURIComponent(ch);
  }
  return out;
}

const loneSurrogate = fc.integer({ min: 0xd800, max: 0xdfff }).map((c) => String.fromCharCode(c));
const hostileChar = fc.oneof(
  fc.constant('\u0000'),
  loneSurrogate,
  fc.string({ unit: 'binary', minLength: 1, maxLength: 1 }), // any code point, every plane
  fc.constantFrom('"', '\\', '%', '&', '=', '[', ']', '{', '\n', '\u2028', '\uFEFF', '\u{10FFFF}', '😀'),
);
const hostileString = fc.oneof(
  { weight: 6, arbitrary: fc.array(hostileChar, { maxLength: 24 }).map((a) => a.join('')) },
  { weight: 1, arbitrary: fc.tuple(hostileChar, fc.integer({ min: 9_000, max: 11_000 })).map(([c, n]) => 'x'.repeat(n) + c) }, // ~10 kB
  { weight: 1, arbitrary: fc.constantFrom('', ' ', '0', '-1', 'null', '2026-03-01T00:00:00Z', '9999-12-31T23:59:59+14:00', '0001-01-01T00:00:00Z') },
);

/** Every string field of an event, as a setter on a fresh valid event. */
const FIELDS: Array<[string, (e: any, s: string) => void]> = [
  ['id', (e, s) => (e.id = s)],
  ['source', (e, s) => (e.source = s)],
  ['type', (e, s) => (e.type = s)],
  ['subject', (e, s) => (e.subject = s)],
  ['time', (e, s) => (e.time = s)],
  ['specversion', (e, s) => (e.specversion = s)],
  ['datacontenttype', (e, s) => (e.datacontenttype = s)],
  ['extension', (e, s) => (e.traceparent = s)],
  ['extension key', (e, s) => (e[s] = 'v')],
  ['data.provider', (e, s) => (e.data.provider = s)],
  ['data.model', (e, s) => (e.data.model = s)],
  ['data.team', (e, s) => (e.data.team = s)],
  ['data.project', (e, s) => (e.data.project = s)],
  ['data.api_key', (e, s) => (e.data.api_key = s)],
  ['data.feature', (e, s) => (e.data.feature = s)],
  ['data.region', (e, s) => (e.data.region = s)],
  ['data.status', (e, s) => (e.data.status = s)],
  ['data.cost', (e, s) => (e.data.cost = s)],
  ['data key', (e, s) => (e.data[s] = 1)],
  ['nested data value', (e, s) => (e.data.meta = { tags: ['a', s], deep: { v: s } })],
  ['nested data key', (e, s) => (e.data.meta = { [s]: { [s]: s } })],
  ['media data', (e, s) => Object.assign(e, { type: 'media.track.started', data: { room: s, participant: 'p', track: 't', kind: 'video' } })],
  ['snapshot data', (e, s) => Object.assign(e, { type: 'resource.snapshot', data: { host: s, traffic_bytes_total: s } })],
];

let run = 0;

describe('hostile input property', () => {
  it('arbitrary strings in every string field of an event: never a 500, the valid part of the batch always stored', async () => {
    await fc.assert(
      fc.asyncProperty(fc.constantFrom(...FIELDS), hostileString, async ([, set], s) => {
        const n = ++run;
        const good = [llmEvent(`p${n}-a`, { data: { team: 'prop' } }), llmEvent(`p${n}-b`, { data: { team: 'prop' } })];
        const poisoned: any = llmEvent(`p${n}-x`, { data: { team: 'prop' } });
        set(poisoned, s);
        const r = await app.request('POST', '/v1/events', { body: [good[0], poisoned, good[1]] });
        expect(r.status, JSON.stringify(r.body).slice(0, 500)).toBe(202);
        // The two valid events are stored (as accepted, or as duplicates when the poisoned one took an id first).
        expect(r.body.accepted + r.body.duplicates).toBeGreaterThanOrEqual(2);
        expect(r.body.rejected.every((x: any) => x.index === 1)).toBe(true);
        const listed = await app.request('GET', `/v1/events?source=test&limit=1000&from=2026-01-09T10:00:00Z&to=2026-01-09T10:00:01Z`);
        const ids = new Set(listed.body.data.map((x: any) => x.id));
        expect(ids.has(`p${n}-a`) && ids.has(`p${n}-b`)).toBe(true);
      }),
      { numRuns: 60 },
    );
    expect((await app.request('GET', '/v1/events/rejected?limit=1000')).status).toBe(200);
  });

  const READS: Array<[string, string[]]> = [
    [`/v1/usage?${RANGE}&window=day&group_by=team`, ['from', 'to', 'tz', 'window', 'group_by', 'filter[team]', 'filter[model]', 'filter[subject]']],
    [`/v1/usage/top?${RANGE}`, ['from', 'to', 'tz', 'by', 'measure', 'limit', 'filter[team]']],
    [`/v1/usage/top/series?${RANGE}&window=day`, ['from', 'to', 'tz', 'by', 'measure', 'limit', 'window', 'filter[feature]']],
    [`/v1/export?${RANGE}`, ['from', 'to', 'tz', 'window', 'format', 'kind', 'anonymize', 'type', 'group_by', 'filter[team]']],
    ['/v1/summary?', ['tz']],
    [`/v1/meters/llm_tokens/query?${RANGE}`, ['from', 'to', 'tz', 'window', 'group_by', 'stat', 'filter[team]']],
    [`/v1/meters/llm_requests/query?${RANGE}`, ['from', 'tz', 'filter[model]']],
    ['/v1/events?', ['type', 'subject', 'source', 'from', 'to', 'limit', 'cursor']],
    ['/v1/events/rejected?', ['limit', 'cursor']],
    ['/v1/meters?', ['x']],
  ];

  it('arbitrary strings in every query parameter of the read routes: never a 500', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom(...READS).chain(([url, params]) => fc.tuple(fc.constant(url), fc.constantFrom(...params))),
        hostileString,
        fc.boolean(),
        async ([url, param], s, asKey) => {
          const base = new URLSearchParams(url.split('?')[1]);
          base.delete(param);
          const extra = asKey ? `${encodeAny(s)}=1` : `${encodeAny(param)}=${encodeAny(s)}`;
          const full = `${url.split('?')[0]}?${[base.toString(), extra].filter(Boolean).join('&')}`;
          const r = await app.request('GET', full);
          expect(r.status, `${full.slice(0, 200)} → ${JSON.stringify(r.body).slice(0, 300)}`).toBeLessThan(500);
          expect(r.body?.error === undefined || typeof r.body.error.message === 'string').toBe(true);
        },
      ),
      { numRuns: 150 },
    );
  });

  it('arbitrary strings as path ids: never a 500', async () => {
    await fc.assert(
      fc.asyncProperty(fc.constantFrom('GET /v1/meters/:x', 'GET /v1/meters/:x/query', 'DELETE /v1/keys/:x', 'GET /v1/gateway/keys/:x/policy', 'GET /v1/entitlements/:x'), hostileString, async (route, s) => {
        const [method, path] = route.split(' ') as [string, string];
        const r = await app.request(method, path.replace(':x', encodeAny(s) || '%20'));
        expect(r.status, `${route} ${JSON.stringify(s).slice(0, 80)} → ${JSON.stringify(r.body).slice(0, 300)}`).toBeLessThan(500);
      }),
      { numRuns: 40 },
    );
  });
});
