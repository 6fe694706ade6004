import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { testApp, llmEvent, type TestApp } from '../helpers/app.ts';
import { fixedClock } from '../../src/shared/clock.ts';
import type { Db } from '../../src/shared/db/index.ts';
import { eventService, type EventService } from '../../src/events/service.ts';
import { eventStore } from '../../src/events/store.ts';
import { NEEDS_TRANSACTION } from '../../src/events/types.ts';
import { LLM_ROLLUP_METERS } from '../../src/meters/definitions.ts';
import { MEDIA_ENDED, MEDIA_STARTED, ROOM_FINISHED } from '../../src/meters/media-store.ts';
import { METER_DEF_LOCK } from '../../src/meters/store.ts';
import { readFileSync } from 'node:fs';

/**
 * The ingest hooks (src/events/types.ts): enrich before the write, inTransaction inside the
 * transaction that stores the batch (meters' buckets; reprice's deltas), afterCommit once it is
 * committed, and the one statement alone when the domains' triggers allow it (rollups queue in
 * it, meters refuse it when their hook is needed). These tests watch what reaches the database,
 * that nothing is counted twice, and that a failing afterCommit hook never fails a stored batch.
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

const pendingRows = async () => Number((await app.db.query<{ n: string }>('SELECT count(*)::text AS n FROM rollup_pending')).rows[0]!.n);

describe('ingest hooks', () => {
  it('stores a plain llm.usage batch by one statement alone, and the rollups see every event exactly once', async () => {
    const batch = Array.from({ length: 5 }, (_, i) => llmEvent(`hk-llm-${i}`, { time: '2026-01-20T10:00:00Z', data: { input_tokens: 10 + i, output_tokens: 1 } }));
    const r = await ingest(batch);
    expect(r).toEqual({ accepted: 5, duplicates: 0, rejected: [] });
    expect(seen.transactions).toBe(0);
    expect(seen.statements).toHaveLength(1);
    expect(await usageTotals()).toMatchObject({ requests: 5, input_tokens: 60, output_tokens: 5 });

    // A retry is all duplicates: nothing stored, nothing queued twice.
    expect(await ingest(batch)).toEqual({ accepted: 0, duplicates: 5, rejected: [] });
    expect(await pendingRows()).toBe(0);
    expect(await usageTotals()).toMatchObject({ requests: 5, input_tokens: 60 });
  });

  it('a meter defined by another process sends the next batch of its type to a transaction, which updates it', async () => {
    expect((await ingest([ev('hk.call', {})])).accepted).toBe(1);
    expect(seen.transactions).toBe(0); // no meter on hk.call yet
    const other = await testApp({ db: app.db, clock: fixedClock('2026-02-01T00:00:00Z') });
    try {
      const mk = await other.request('POST', '/v1/meters', { body: { slug: 'hk_calls', event_type: 'hk.call', aggregation: 'count' } });
      expect(mk.status, JSON.stringify(mk.body)).toBe(201);
    } finally {
      await other.close();
    }
    // This process has not seen the meter: the statement alone is refused by meters' trigger, then
    // the batch is stored in a transaction. Nothing of the refused statement is kept.
    // (seen.statements: those sent outside a transaction.)
    expect((await ingest([ev('hk.call', {}), ev('hk.call', {})])).accepted).toBe(2);
    expect(seen.statements).toHaveLength(1);
    expect(seen.transactions).toBe(1);
    expect(await meterValue('hk_calls')).toBe(3);
    // The next batch of that type goes to the transaction directly.
    await ingest([ev('hk.call', {})]);
    expect(seen.statements).toHaveLength(0);
    expect(seen.transactions).toBe(1);
    expect(await meterValue('hk_calls')).toBe(4);
  });

  it('media marks are stored in a transaction', async () => {
    const track = { room: 'hk-room', participant: 'p1', track: 't1', kind: 'audio' };
    expect((await ingest([ev('media.track.started', track)])).accepted).toBe(1);
    expect(seen.transactions).toBe(1);
    const marks = await app.db.query<{ n: string }>(`SELECT count(*)::text AS n FROM media_marks WHERE room = 'hk-room'`);
    expect(marks.rows[0]!.n).toBe('1');
  });

  it('a batch with a rejected event keeps the rejection in the same transaction', async () => {
    const r = await ingest([ev('hk.other', {}), { specversion: '1.0', id: 'hk-bad', source: 'hooks', type: 'llm.usage', data: {} }]);
    expect(r.accepted).toBe(1);
    expect(r.rejected).toHaveLength(1);
    expect(seen.transactions).toBe(1);
  });

  it('rows put into events by anything but ingest (archive restore, a migration) are not queued for the rollups', async () => {
    const before = await pendingRows();
    await app.db.query(
      `INSERT INTO events (source, id, type, subject, time, data, provider, model, input_tokens, output_tokens, cache_read_tokens, cache_write_tokens, reasoning_tokens, unpriced)
       VALUES ('hk-restore', '1', 'llm.usage', 'u1', '2026-01-20T10:00:00Z', '{}', 'openai', 'gpt-4o', 1, 1, 0, 0, 0, true)`,
    );
    expect(await pendingRows()).toBe(before);
  });

  it('the meters trigger knows the same media types, rollup-served meters and lock as src/meters', async () => {
    const sql = readFileSync(new URL('../../migrations/0018_ingest_triggers.sql', import.meta.url), 'utf8');
    const listed = (re: RegExp) => [...(re.exec(sql)?.[1] ?? '').matchAll(/'([^']+)'/g)].map((m) => m[1]).sort();
    expect(listed(/types && ARRAY\[([^\]]*)\]/)).toEqual([MEDIA_STARTED, MEDIA_ENDED, ROOM_FINISHED].sort());
    expect(listed(/slug = ANY\(ARRAY\[([^\]]*)\]/)).toEqual(Object.keys(LLM_ROLLUP_METERS).sort());
    expect(sql).toContain(`pg_advisory_xact_lock_shared(${METER_DEF_LOCK})`);
    expect(sql).toContain(`ERRCODE = '${NEEDS_TRANSACTION}'`);
  });

  it('meters defined while batches are being stored count every event exactly once', async () => {
    // Each round races a meter definition (backfill under the exclusive lock) against batches of
    // its type stored alone: an event is either in the backfill or counted by the ingest that stored it.
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
    // A hook with no trigger of its own (not guardedAlone) has every batch stored in a transaction.
    const failing = {
      name: 'test_failing',
      run: async () => {
        throw new Error('in-transaction failure');
      },
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
