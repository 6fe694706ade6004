import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { testApp, llmEvent, type TestApp } from '../helpers/app.ts';
import { fixedClock } from '../../src/shared/clock.ts';

/**
 * Issue 13 items 5 and 6: a NUL or a lone surrogate anywhere in one event, or data nested
 * thousands deep, failed the whole batch with 500. Now that event alone is rejected, by index,
 * with a reason naming the field; the others are stored.
 */
let app: TestApp;
beforeAll(async () => {
  app = await testApp({ clock: fixedClock('2026-03-10T12:00:00Z') });
});
afterAll(() => app.close());

const valid = (tag: string) => Array.from({ length: 5 }, (_, i) => llmEvent(`${tag}-ok-${i}`));

const poisons: Array<[string, (id: string) => Record<string, unknown>, string]> = [
  ['NUL in id', (id) => llmEvent(`${id}\u0000x`), 'id'],
  ['lone surrogate in id', (id) => llmEvent(`${id}\ud800`), 'id'],
  ['NUL in source', (id) => llmEvent(id, { source: 'a\u0000b' }), 'source'],
  ['NUL in type', (id) => ({ ...llmEvent(id), type: 'custom\u0000' }), 'type'],
  ['NUL in subject', (id) => llmEvent(id, { subject: 'user\u0000' }), 'subject'],
  ['lone low surrogate in subject', (id) => llmEvent(id, { subject: '\udc00user' }), 'subject'],
  ['NUL in a data value', (id) => llmEvent(id, { data: { model: 'gpt\u0000x' } }), 'data.model'],
  ['lone surrogate in a data value', (id) => llmEvent(id, { data: { feature: 'f\ud83d' } }), 'data.feature'],
  ['NUL in a data key', (id) => llmEvent(id, { data: { 'k\u0000': 1 } }), 'data'],
  ['lone surrogate in a nested data key', (id) => llmEvent(id, { data: { meta: { ['\ud800']: 'v' } } }), 'data.meta'],
  ['NUL deep in data', (id) => ({ ...llmEvent(id), type: 'app.thing', data: { a: { b: [1, { c: 'x\u0000' }] } } }), 'data.a.b.1.c'],
  ['NUL in an extension attribute', (id) => ({ ...llmEvent(id), traceparent: '\u0000' }), 'traceparent'],
  ['NUL in a key of the envelope', (id) => ({ ...llmEvent(id), ['ext\u0000']: 'x' }), 'event'],
];

describe('NUL and lone surrogates in an event', () => {
  for (const [name, make, param] of poisons) {
    it(`${name}: that event is rejected naming ${param}; the other five are stored`, async () => {
      const tag = name.replace(/\W+/g, '-');
      const r = await app.request('POST', '/v1/events', { body: [...valid(tag), make(`${tag}-bad`)] });
      expect(r.status, JSON.stringify(r.body)).toBe(202);
      expect(r.body.accepted).toBe(5);
      expect(r.body.rejected).toHaveLength(1);
      expect(r.body.rejected[0].index).toBe(5);
      expect(r.body.rejected[0].error.startsWith(`${param} `), r.body.rejected[0].error).toBe(true);
      expect(r.body.rejected[0].error).toMatch(/NUL|surrogate/);
    });
  }

  it('a single poisoned event answers 400 naming the field, and the rejected list still reads', async () => {
    const r = await app.request('POST', '/v1/events', { body: llmEvent('solo\u0000') });
    expect(r.status).toBe(400);
    expect(r.body.error.code).toBe('ALL_REJECTED');
    expect(r.body.error.message).toMatch(/^the event was rejected: id contains a NUL/);
    const listed = await app.request('GET', '/v1/events/rejected?limit=1000');
    expect(listed.status).toBe(200);
    const kept = listed.body.data.find((x: any) => x.id === 'solo\uFFFD');
    expect(kept.event.id).toBe('solo\uFFFD'); // kept in a storable form
  });

  it('valid Unicode from every plane is stored as sent', async () => {
    const text = 'é 한 😀 𝕏 \u{10FFFD} \u{E0001} \u{1F600}\u{1F3FB}';
    const r = await app.request('POST', '/v1/events', { body: llmEvent(`uni-${text}`, { subject: text, data: { feature: text, [text]: text } }) });
    expect(r.status).toBe(202);
    expect(r.body.accepted).toBe(1);
    const got = await app.request('GET', `/v1/events?subject=${encodeURIComponent(text)}`);
    expect(got.body.data[0].data[text]).toBe(text);
  });
});

describe('deep JSON', () => {
  const deepData = (levels: number) => '{"a":'.repeat(levels) + '1' + '}'.repeat(levels);

  it('deep JSON: data nested 5,000 levels rejects that event alone, naming the limit', async () => {
    const ok = JSON.stringify(valid('deep5000'));
    const bad = `{"specversion":"1.0","id":"deep-bad","source":"test","type":"app.deep","time":"2026-01-09T10:00:00Z","data":${deepData(5000)}}`;
    const r = await app.request('POST', '/v1/events', { rawBody: `${ok.slice(0, -1)},${bad}]`, headers: { 'content-type': 'application/json' } });
    expect(r.status, JSON.stringify(r.body).slice(0, 300)).toBe(202);
    expect(r.body.accepted).toBe(5);
    expect(r.body.rejected[0].index).toBe(5);
    expect(r.body.rejected[0].error).toMatch(/^data(\.a)* nests too deeply: an event's data may nest objects and arrays at most 32 levels/);
  });

  it('deep JSON: data at the limit (32 levels) is stored', async () => {
    const r = await app.request('POST', '/v1/events', {
      rawBody: `{"specversion":"1.0","id":"deep-32","source":"test","type":"app.deep","time":"2026-01-09T10:00:00Z","data":${deepData(31)}}`,
      headers: { 'content-type': 'application/json' },
    });
    expect(r.status, JSON.stringify(r.body).slice(0, 300)).toBe(202);
  });

  it('deep JSON: 100,000-deep bodies answer 400, never 500', async () => {
    const n = 100_000;
    for (const body of ['['.repeat(n) + ']'.repeat(n), deepData(n), `[${deepData(n)}]`]) {
      const r = await app.request('POST', '/v1/events', { rawBody: body, headers: { 'content-type': 'application/json' } });
      expect(r.status, JSON.stringify(r.body).slice(0, 300)).toBe(400);
      expect(r.body.error.type).toBe('invalid_request');
    }
  });
});
