import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { testApp, llmEvent, type TestApp } from '../helpers/app.ts';

let app: TestApp;
beforeAll(async () => {
  app = await testApp();
  const events = [];
  for (let i = 0; i < 25; i++) {
    events.push(llmEvent(`l-${i}`, { time: new Date(Date.UTC(2026, 0, 1, i)).toISOString(), subject: i % 2 ? 'odd' : 'even', source: i < 20 ? 'app' : 'other' }));
  }
  events.push({ specversion: '1.0', id: 'snap-1', source: 'host', type: 'resource.snapshot', time: '2026-01-01T05:30:00Z', data: { host: 'h1', cpu_percent: 12.5 } });
  const r = await app.request('POST', '/v1/events', { body: events });
  expect(r.body.accepted).toBe(26);
});
afterAll(() => app.close());

describe('GET /v1/events', () => {
  it('lists newest first and pages with a cursor without gaps or repeats', async () => {
    const seen: string[] = [];
    let cursor: string | null = null;
    do {
      const r: any = await app.request('GET', `/v1/events?type=llm.usage&limit=7${cursor ? `&cursor=${cursor}` : ''}`);
      expect(r.status).toBe(200);
      seen.push(...r.body.data.map((e: any) => e.id));
      cursor = r.body.next_cursor;
    } while (cursor);
    expect(seen).toEqual(Array.from({ length: 25 }, (_, i) => `l-${24 - i}`));
  });

  it('filters by type, subject, source and time range (from inclusive, to exclusive)', async () => {
    const q = async (qs: string) => (await app.request('GET', `/v1/events?${qs}`)).body.data.map((e: any) => e.id);
    expect(await q('type=resource.snapshot')).toEqual(['snap-1']);
    expect((await q('subject=odd&type=llm.usage')).length).toBe(12);
    expect((await q('source=other')).length).toBe(5);
    expect(await q('type=llm.usage&from=2026-01-01T03:00:00Z&to=2026-01-01T05:00:00Z')).toEqual(['l-4', 'l-3']);
    expect(await q('type=llm.usage&from=2026-01-01T08:30:00%2B05:30&to=2026-01-01T04:00:00Z')).toEqual(['l-3']);
  });

  it('returns events as CloudEvents with their pricing columns', async () => {
    const r = await app.request('GET', '/v1/events?limit=1&type=llm.usage');
    expect(r.body.data[0]).toMatchObject({ specversion: '1.0', id: 'l-24', source: 'other', type: 'llm.usage', time: '2026-01-02T00:00:00.000Z' });
    expect(r.body.data[0]).toHaveProperty('unpriced');
    expect(r.body.data[0]).toHaveProperty('cost');
  });

  it('rejects bad query parameters by name', async () => {
    const bad = await app.request('GET', '/v1/events?from=yesterday');
    expect(bad.status).toBe(400);
    expect(bad.body.error.param).toBe('from');
    const lim = await app.request('GET', '/v1/events?limit=0');
    expect(lim.status).toBe(400);
    expect(lim.body.error.param).toBe('limit');
    const cur = await app.request('GET', '/v1/events?cursor=garbage');
    expect(cur.status).toBe(400);
    expect(cur.body.error.code).toBe('INVALID_CURSOR');
  });
});
