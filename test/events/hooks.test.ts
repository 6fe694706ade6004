import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { testApp, llmEvent, type TestApp } from '../helpers/app.ts';
import { fixedClock } from '../../src/shared/clock.ts';
import type { Db } from '../../src/shared/db/index.ts';
import { eventService, type EventService } from '../../src/events/service.ts';
import { eventStore } from '../../src/events/store.ts';

/**
 * The ingest hooks (src/events/types.ts): enrich before the write, inTransaction inside the
 * transaction that stores the batch (rollups' queue, meters' buckets), afterCommit once it is
 * committed. These tests watch what reaches the database, that nothing is counted twice, and that
 * a failing afterCommit hook never fails a stored batch.
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
const ev = (type: string, data: Record<string, unknown>) => ({ specversion: '1.0', id: `hk-${++n}`, source: 'hooks', type, time: '2026-01-20T10:00:00Z', subject: 'u1', data });
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
async function hookFailures(hook: string): Promise<number> {
  const r = await app.request('GET', '/metrics', { key: null });
  const m = new RegExp(`^tollgate_ingest_hook_failures_total\\{hook="${hook}"\\} (\\d+)$`, 'm').exec(String(r.body));
  return m ? Number(m[1]) : 0;
}

describe('ingest hooks', () => {
  it('stores a batch in one transaction, and the rollups see every event exactly once', async () => {
    const batch = Array.from({ length: 5 }, (_, i) => llmEvent(`hk-llm-${i}`, { time: '2026-01-20T10:00:00Z', data: { input_tokens: 10 + i, output_tokens: 1 } }));
    const r = await ingest(batch);
    expect(r).toEqual({ accepted: 5, duplicates: 0, rejected: [] });
    expect(seen.transactions).toBe(1);
    expect(await usageTotals()).toMatchObject({ requests: 5, input_tokens: 60, output_tokens: 5 });

    // A retry is all duplicates: nothing stored, nothing queued twice.
    expect(await ingest(batch)).toEqual({ accepted: 0, duplicates: 5, rejected: [] });
    expect(await usageTotals()).toMatchObject({ requests: 5, input_tokens: 60 });
  });

  it('a meter defined by another process is updated by the next batch of its type', async () => {
    const other = await testApp({ db: app.db, clock: fixedClock('2026-02-01T00:00:00Z') });
    try {
      const mk = await other.request('POST', '/v1/meters', { body: { slug: 'hk_calls', event_type: 'hk.call', aggregation: 'count' } });
      expect(mk.status, JSON.stringify(mk.body)).toBe(201);
    } finally {
      await other.close();
    }
    expect((await ingest([ev('hk.call', {}), ev('hk.call', {})])).accepted).toBe(2);
    expect(seen.transactions).toBe(1);
    expect(await meterValue('hk_calls')).toBe(2);
    await ingest([ev('hk.call', {})]);
    expect(await meterValue('hk_calls')).toBe(3);
  });

  it('a batch with a rejected event keeps the rejection in the same transaction', async () => {
    const r = await ingest([ev('hk.other', {}), { specversion: '1.0', id: 'hk-bad', source: 'hooks', type: 'llm.usage', data: {} }]);
    expect(r.accepted).toBe(1);
    expect(r.rejected).toHaveLength(1);
    expect(seen.transactions).toBe(1);
  });

  it('meters defined while batches are being stored count every event exactly once', async () => {
    // Each round races a meter definition (backfill under the exclusive lock) against batches of
    // its type: an event is either in the backfill or counted by the ingest that stored it.
    for (let round = 0; round < 6; round++) {
      const type = `hk.race${round}`;
      const batches = Array.from({ length: 6 }, () => Array.from({ length: 4 }, () => ev(type, {})));
      const define = app.request('POST', '/v1/meters', { body: { slug: `hk_race${round}`, event_type: type, aggregation: 'count' } });
      const stored = await Promise.all(batches.map((b, i) => new Promise((ok) => setTimeout(ok, i)).then(() => app.tg.events.ingest(b))));
      expect((await define).status).toBe(201);
      expect(stored.reduce((s, x) => s + x.accepted, 0)).toBe(24);
      expect(await meterValue(`hk_race${round}`)).toBe(24);
    }
  });

  it('an inTransaction hook that throws undoes the whole batch', async () => {
    const hooks = app.tg.events.hooks;
    const failing = async () => {
      throw new Error('in-transaction failure');
    };
    hooks.inTransaction.push(failing);
    try {
      const r = await app.request('POST', '/v1/events', { body: [llmEvent('hk-undone', { time: '2026-01-20T11:00:00Z' })] });
      expect(r.status).toBe(500);
    } finally {
      hooks.inTransaction.splice(hooks.inTransaction.indexOf(failing), 1);
    }
    const listed = await app.request('GET', '/v1/events?source=test&limit=1000');
    expect(listed.body.data.map((e: { id: string }) => e.id)).not.toContain('hk-undone');
    expect(await usageTotals()).toMatchObject({ requests: 5 });
  });

  it('an afterCommit hook that throws or rejects is logged and counted; the committed batch answers 202', async () => {
    const hooks = app.tg.events.hooks;
    let laterRan = 0;
    const added = [
      { name: 'test_throws', run: () => { throw new Error('after-commit failure'); } },
      { name: 'test_rejects', run: () => Promise.reject(new Error('after-commit rejection')) },
      { name: 'test_later', run: () => { laterRan++; } },
    ];
    hooks.afterCommit.push(...added);
    try {
      const r = await app.request('POST', '/v1/events', { body: [llmEvent('hk-after-1', { time: '2026-01-20T12:00:00Z', data: { input_tokens: 1 } })] });
      expect(r.status, JSON.stringify(r.body)).toBe(202);
      expect(r.body).toEqual({ accepted: 1, duplicates: 0, rejected: [] });
    } finally {
      for (const h of added) hooks.afterCommit.splice(hooks.afterCommit.indexOf(h), 1);
    }
    await new Promise((ok) => setImmediate(ok)); // the rejection is counted when it settles
    expect(await hookFailures('test_throws')).toBe(1);
    expect(await hookFailures('test_rejects')).toBe(1);
    expect(laterRan).toBe(1); // a failing hook does not keep the next ones from running
    expect(await usageTotals()).toMatchObject({ requests: 6 });
  });
});
