import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { testApp, llmEvent, type TestApp } from '../helpers/app.ts';
import { fixedClock } from '../../src/shared/clock.ts';

let n = 0;
const ev = (type: string, time: string, data: Record<string, unknown>, subject = 'u1') => ({ specversion: '1.0', id: `g-${++n}`, source: 'app', type, time, subject, data });
async function send(app: TestApp, events: unknown[]) {
  const r = await app.request('POST', '/v1/events', { body: events });
  expect(r.status, JSON.stringify(r.body)).toBe(202);
}
async function q(app: TestApp, meter: string, qs: string, key?: string) {
  const r = await app.request('GET', `/v1/meters/${meter}/query?${qs}`, { key });
  expect(r.status, JSON.stringify(r.body)).toBe(200);
  return r.body.rows as Array<Record<string, any>>;
}

describe('meters API', () => {
  let app: TestApp;
  beforeAll(async () => {
    app = await testApp({ clock: fixedClock('2026-02-01T00:00:00Z') });
    // Events stored before the meters exist: creating a meter backfills them.
    await send(app, [
      ev('api.call', '2026-01-05T10:01:00Z', { tokens: 10, usage: { ms: 5 }, route: '/a', user: 'x' }),
      ev('api.call', '2026-01-05T10:20:00Z', { tokens: 30, usage: { ms: '7.5' }, route: '/a', user: 'y' }),
      ev('api.call', '2026-01-05T11:10:00Z', { tokens: 5, usage: { ms: 1 }, route: '/b', user: 'x' }),
      ev('api.call', '2026-01-05T11:50:00Z', { tokens: 'n/a', route: '/b', user: 'x' }), // not a number: skipped by sum
    ]);
  });
  afterAll(() => app.close());

  it('lists the built-in meters', async () => {
    const r = await app.request('GET', '/v1/meters');
    expect(r.status).toBe(200);
    const slugs = r.body.data.map((m: any) => m.slug);
    for (const s of ['llm_requests', 'llm_input_tokens', 'llm_output_tokens', 'llm_tokens', 'llm_cost', 'video_minutes', 'screen_share_minutes', 'participant_minutes', 'traffic_gb', 'cpu_percent']) {
      expect(slugs).toContain(s);
    }
    // The response schema names every field the API returned before it had one.
    const llm = r.body.data.find((m: any) => m.slug === 'llm_requests');
    expect(Object.keys(llm).sort()).toEqual(['aggregation', 'created_at', 'description', 'event_type', 'group_by', 'kind', 'origin', 'slug', 'value_property']);
    expect(llm).toMatchObject({ aggregation: 'count', value_property: null, origin: 'builtin', kind: 'events', group_by: { subject: '$subject', team: '$.team' } });
    expect(typeof llm.created_at).toBe('string');
    expect((await app.request('GET', '/v1/meters/llm_requests')).body).toEqual(llm);
  });

  it('validates definitions and names the field', async () => {
    const bad = async (body: unknown, param: string) => {
      const r = await app.request('POST', '/v1/meters', { body });
      expect(r.status, JSON.stringify(r.body)).toBe(400);
      expect(r.body.error.param).toBe(param);
    };
    await bad({ slug: 'Bad Slug', event_type: 'x', aggregation: 'count' }, 'slug');
    await bad({ slug: 'ok', event_type: 'x', aggregation: 'sum' }, 'value_property');
    await bad({ slug: 'ok', event_type: 'x', aggregation: 'sum', value_property: 'tokens' }, 'value_property');
    await bad({ slug: 'ok', event_type: 'x', aggregation: 'median', value_property: '$.a' }, 'aggregation');
    await bad({ slug: 'ok', event_type: 'x', aggregation: 'count', group_by: { route: 'route' } }, 'group_by.route');
    const ro = await app.key(['read']);
    const r = await app.request('POST', '/v1/meters', { key: ro, body: { slug: 'ok', event_type: 'x', aggregation: 'count' } });
    expect(r.status).toBe(403);
  });

  it('creates meters that backfill, then follow new events', async () => {
    const mk = async (body: Record<string, unknown>) => {
      const r = await app.request('POST', '/v1/meters', { body: { event_type: 'api.call', group_by: { route: '$.route' }, ...body } });
      expect(r.status, JSON.stringify(r.body)).toBe(201);
    };
    await mk({ slug: 'api_tokens', aggregation: 'sum', value_property: '$.tokens' });
    await mk({ slug: 'api_calls', aggregation: 'count' });
    await mk({ slug: 'api_users', aggregation: 'unique_count', value_property: '$.user' });
    await mk({ slug: 'api_ms_max', aggregation: 'max', value_property: '$.usage.ms' });
    await mk({ slug: 'api_ms_min', aggregation: 'min', value_property: '$.usage.ms' });
    await mk({ slug: 'api_last', aggregation: 'latest', value_property: '$.tokens' });
    const dup = await app.request('POST', '/v1/meters', { body: { slug: 'api_calls', event_type: 'api.call', aggregation: 'count' } });
    expect(dup.status).toBe(409);

    const day = 'from=2026-01-05T00:00:00Z&to=2026-01-06T00:00:00Z';
    expect((await q(app, 'api_tokens', day))[0]!.value).toBe('45');
    expect((await q(app, 'api_calls', day))[0]!.value).toBe('4');
    expect((await q(app, 'api_users', day))[0]!.value).toBe('2');
    expect((await q(app, 'api_ms_max', day))[0]!.value).toBe('7.5');
    expect((await q(app, 'api_ms_min', day))[0]!.value).toBe('1');
    expect((await q(app, 'api_last', day))[0]!.value).toBe('5');
    expect(await q(app, 'api_tokens', day + '&window=hour&group_by=route')).toEqual([
      { window_start: '2026-01-05T10:00:00Z', window_end: '2026-01-05T11:00:00Z', route: '/a', value: '40' },
      { window_start: '2026-01-05T11:00:00Z', window_end: '2026-01-05T12:00:00Z', route: '/b', value: '5' },
    ]);
    expect(await q(app, 'api_calls', day + '&filter[route]=/b')).toEqual([{ window_start: '2026-01-05T00:00:00Z', window_end: '2026-01-06T00:00:00Z', value: '2' }]);

    // New events (one late, one in a new bucket) flow in through ingest.
    await send(app, [ev('api.call', '2026-01-05T10:02:00Z', { tokens: 100, route: '/a', user: 'z' }), ev('api.call', '2026-01-05T23:59:00Z', { tokens: 1, route: '/c', user: 'x' })]);
    expect((await q(app, 'api_tokens', day))[0]!.value).toBe('146');
    expect((await q(app, 'api_users', day))[0]!.value).toBe('3');
    expect((await q(app, 'api_last', day))[0]!.value).toBe('1');
  });

  it('answers unaligned ranges exactly (edges from raw, middle from buckets)', async () => {
    // 10:01 (10) and 10:02 (100) are before 10:10; 10:20 (30) after.
    expect((await q(app, 'api_tokens', 'from=2026-01-05T10:01:30Z&to=2026-01-05T10:25:00Z'))[0]!.value).toBe('130');
    expect((await q(app, 'api_users', 'from=2026-01-05T10:01:30Z&to=2026-01-05T11:20:00Z'))[0]!.value).toBe('3');
  });

  it('rejects unknown groups and filters by name; deletes API meters but not built-ins', async () => {
    const r = await app.request('GET', '/v1/meters/api_tokens/query?group_by=nope');
    expect(r.status).toBe(400);
    expect(r.body.error.param).toBe('group_by');
    const f = await app.request('GET', '/v1/meters/api_tokens/query?filter[nope]=1');
    expect(f.status).toBe(400);
    expect((await app.request('DELETE', '/v1/meters/llm_tokens')).status).toBe(409);
    expect((await app.request('DELETE', '/v1/meters/api_last')).status).toBe(204);
    expect((await app.request('GET', '/v1/meters/api_last/query')).status).toBe(404);
    const gone = await app.db.query("SELECT count(*)::int AS n FROM meter_buckets WHERE meter = 'api_last'");
    expect(Number((gone.rows[0] as any).n)).toBe(0);
  });

  it('llm built-ins read the typed columns, and a team-bound key sees only its team', async () => {
    await send(app, [
      llmEvent('l1', { time: '2026-01-07T01:00:00Z', data: { team: 'red', input_tokens: 100, output_tokens: 50, cache_read_tokens: 20, cost: '0.0125' } }),
      llmEvent('l2', { time: '2026-01-07T02:00:00Z', data: { team: 'blue', input_tokens: 1, output_tokens: 2, cost: '0.1' } }),
    ]);
    const day = 'from=2026-01-07T00:00:00Z&to=2026-01-08T00:00:00Z';
    expect((await q(app, 'llm_tokens', day + '&filter[team]=red'))[0]!.value).toBe('170');
    expect((await q(app, 'llm_requests', day))[0]!.value).toBe('2');
    expect(await q(app, 'llm_cost', day + '&group_by=team')).toEqual([
      { window_start: '2026-01-07T00:00:00Z', window_end: '2026-01-08T00:00:00Z', team: 'blue', value: '0.1' },
      { window_start: '2026-01-07T00:00:00Z', window_end: '2026-01-08T00:00:00Z', team: 'red', value: '0.0125' },
    ]);
    const red = await app.key(['read'], { team: 'red' });
    expect((await q(app, 'llm_cost', day, red))[0]!.value).toBe('0.0125');
    const other = await app.request('GET', `/v1/meters/llm_cost/query?${day}&filter[team]=blue`, { key: red });
    expect(other.status).toBe(403);
    const noTeam = await app.request('GET', `/v1/meters/api_tokens/query?${day}`, { key: red });
    expect(noTeam.status).toBe(403);
  });
});

describe('config meters', () => {
  it('are created at start and cannot be deleted through the API', async () => {
    const app = await testApp({ config: { meters: { definitions: [{ slug: 'cfg_calls', event_type: 'api.call', aggregation: 'count' }] } } });
    try {
      const r = await app.request('GET', '/v1/meters/cfg_calls');
      expect(r.status).toBe(200);
      expect(r.body.origin).toBe('config');
      expect((await app.request('DELETE', '/v1/meters/cfg_calls')).status).toBe(409);
    } finally {
      await app.close();
    }
  });
});
