import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { testApp, llmEvent, type TestApp } from '../helpers/app.ts';
import { fixedClock } from '../../src/shared/clock.ts';
import type { Db } from '../../src/shared/db/index.ts';
import { eventService, type EventService } from '../../src/events/service.ts';
import { eventStore } from '../../src/events/store.ts';

/**
 * A batch nothing else has to commit with is stored by one statement (events IngestHooks): the
 * rollups' queue rides in it, and meters' guard sends a batch with event meters to the
 * transaction. These tests watch what reaches the database and that nothing is counted twice.
 */
let app: TestApp;
let seen: { statements: string[]; transactions: number };
let ingest: EventService['ingest'];
beforeAll(async () => {
  app = await testApp({ clock: fixedClock('2026-02-01T00:00:00Z') });
  // The app's own hooks over a database that notes each call (not the app's service: its
  // background jobs would be counted too).
  const db = app.db;
  seen = { statements: [], transactions: 0 };
  const counted: Db = Object.assign(Object.create(db) as Db, {
    query: ((sql: string, params?: unknown[], opts?: object) => {
      seen.statements.push(sql);
      return db.query(sql, params, opts);
    }) as Db['query'],
    transaction: (<T>(fn: (tx: Parameters<Parameters<Db['transaction']>[0]>[0]) => Promise<T>) => {
      seen.transactions++;
      return db.transaction(fn);
    }) as Db['transaction'],
  });
  const svc = eventService(counted, eventStore(counted), app.tg.events.hooks, app.tg.clock, { maxBatch: 100 });
  ingest = (raw, ctx) => {
    seen = { statements: [], transactions: 0 };
    return svc.ingest(raw, ctx);
  };
});
afterAll(() => app.close());

let n = 0;
const ev = (type: string, data: Record<string, unknown>) => ({ specversion: '1.0', id: `one-${++n}`, source: 'one', type, time: '2026-01-20T10:00:00Z', subject: 'u1', data });
const usageTotals = async () => {
  const r = await app.request('GET', '/v1/usage?from=2026-01-20T00:00:00Z&to=2026-01-21T00:00:00Z&window=none');
  expect(r.status, JSON.stringify(r.body)).toBe(200);
  return r.body.totals;
};
async function meterValue(slug: string): Promise<number> {
  const r = await app.request('GET', `/v1/meters/${slug}/query?from=2026-01-01T00:00:00Z&to=2026-02-01T00:00:00Z`);
  expect(r.status, JSON.stringify(r.body)).toBe(200);
  return r.body.rows.length ? Number(r.body.rows[0].value) : 0;
}

describe('ingest in one statement', () => {
  it('stores an llm.usage batch with one statement and no transaction, and the rollups still see every event', async () => {
    const batch = Array.from({ length: 5 }, (_, i) => llmEvent(`one-llm-${i}`, { time: '2026-01-20T10:00:00Z', data: { input_tokens: 10 + i, output_tokens: 1 } }));
    const r = await ingest(batch);
    expect(r).toEqual({ accepted: 5, duplicates: 0, rejected: [] });
    expect(seen.transactions).toBe(0);
    expect(seen.statements).toHaveLength(1);
    expect(seen.statements[0]).toMatch(/INSERT INTO events[\s\S]*INSERT INTO rollup_pending[\s\S]*meters_ingest_guard/);
    expect(await usageTotals()).toMatchObject({ requests: 5, input_tokens: 60, output_tokens: 5 });

    // A retry is all duplicates: nothing stored, nothing queued twice.
    expect(await ingest(batch)).toEqual({ accepted: 0, duplicates: 5, rejected: [] });
    expect(await usageTotals()).toMatchObject({ requests: 5, input_tokens: 60 });
  });

  it('a batch whose type has an event meter is stored again in a transaction that updates the meter', async () => {
    // Defined by another Tollgate process on the same database: this one learns of it only from the guard.
    const other = await testApp({ db: app.db, clock: fixedClock('2026-02-01T00:00:00Z') });
    try {
      const mk = await other.request('POST', '/v1/meters', { body: { slug: 'one_calls', event_type: 'one.call', aggregation: 'count' } });
      expect(mk.status, JSON.stringify(mk.body)).toBe(201);
    } finally {
      await other.close();
    }
    const r = await ingest([ev('one.call', {}), ev('one.call', {})]);
    expect(r.accepted).toBe(2);
    expect(seen.transactions).toBe(1);
    expect(seen.statements.filter((s) => s.includes('meters_ingest_guard'))).toHaveLength(1); // the try that the guard refused
    expect(await meterValue('one_calls')).toBe(2);
    // Now known to have a meter: the next batch goes straight to the transaction, no refused try.
    await ingest([ev('one.call', {})]);
    expect(seen.transactions).toBe(1);
    expect(seen.statements.filter((s) => s.includes('meters_ingest_guard'))).toHaveLength(0);
    expect(await meterValue('one_calls')).toBe(3);
    // Types without event meters still go in one statement.
    await ingest([ev('one.other', {})]);
    expect([seen.statements.length, seen.transactions]).toEqual([1, 0]);
  });

  it('a batch with a rejected event goes to the transaction, which keeps the rejection', async () => {
    const r = await ingest([ev('one.other', {}), { specversion: '1.0', id: 'one-bad', source: 'one', type: 'llm.usage', data: {} }]);
    expect(r.accepted).toBe(1);
    expect(r.rejected).toHaveLength(1);
    expect(seen.transactions).toBe(1);
  });

  it('meters defined while batches are being stored count every event exactly once', async () => {
    // Each round races a meter definition (backfill under the exclusive lock) against batches of
    // its type: an event is either in the backfill or counted by the ingest that stored it.
    for (let round = 0; round < 6; round++) {
      const type = `one.race${round}`;
      const batches = Array.from({ length: 6 }, () => Array.from({ length: 4 }, () => ev(type, {})));
      const define = app.request('POST', '/v1/meters', { body: { slug: `one_race${round}`, event_type: type, aggregation: 'count' } });
      const stored = await Promise.all(batches.map((b, i) => new Promise((ok) => setTimeout(ok, i)).then(() => app.tg.events.ingest(b))));
      expect((await define).status).toBe(201);
      expect(stored.reduce((s, x) => s + x.accepted, 0)).toBe(24);
      expect(await meterValue(`one_race${round}`)).toBe(24);
    }
  });
});
