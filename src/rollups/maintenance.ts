import type { Queryable } from '../shared/db/index.ts';
import type { CostChange, StoredChange, StoredEvent } from '../events/types.ts';
import { DAY_GRAINS } from './cubes.ts';
import { anyPending, claimPending, llmSpan, lockRollups, pruneGrains, queryState, recordHorizon, stillPending } from './maintenance-store.ts';
import { init, type RollupState } from './zone.ts';

/**
 * Keeping the cubes equal to the raw events (docs/rollups.md): ingest queues each batch's
 * llm.usage seqs in its own transaction; drain() folds queued batches exactly once under the
 * rollup lock; reprice applies old→new differences to events already folded; rebuild() recomputes
 * whole months from raw events (backfill); prune() drops old tiers.
 */

/** Pending batches folded per drain transaction. */
const DRAIN_BATCHES = 100;
const DAY_MS = 86_400_000;
const HOUR_MS = 3_600_000;

/** Folds every pending ingest batch into the cubes (queries call it first; a timer calls it too). */
export async function drain(st: RollupState): Promise<number> {
  await init(st);
  let folded = 0;
  while (await anyPending(st.db)) {
    folded += await st.db.transaction(async (tx) => {
      await lockRollups(tx);
      const seqs = await claimPending(tx, DRAIN_BATCHES);
      await st.store.fold(tx, seqs);
      return seqs.length;
    });
  }
  return folded;
}

/**
 * The hook in events' transactions (`inTransaction`): apply reprice's differences. An ingest
 * batch's llm.usage rows are queued by this domain's trigger on `events` (migration 0018), inside
 * the statement that stores them, whether that statement is alone or in a transaction.
 */
export async function inTransaction(st: RollupState, tx: Queryable, change: StoredChange): Promise<void> {
  if (change.kind === 'repriced') return applyCostChanges(st, tx, change.changes);
}

/** Reprice: events already in the cubes take the difference; pending ones are folded later with their new cost. */
async function applyCostChanges(st: RollupState, tx: Queryable, changes: CostChange[]): Promise<void> {
  // Not init(): it opens a transaction of its own, and this runs inside one.
  if (!st.ready) throw new Error('rollups: init() must run before repricing');
  await st.ready;
  // Under the lock no drain runs: an event still pending will be folded with its new cost
  // later, so only events already in the cubes take the difference now.
  await lockRollups(tx);
  const pending = await stillPending(tx, changes.map((c) => c.after.seq));
  const deltas: Array<{ facts: StoredEvent; sign: 1 | -1 }> = [];
  for (const c of changes) {
    if (pending.has(String(c.after.seq))) continue;
    if (c.before.type === 'llm.usage') deltas.push({ facts: c.before, sign: -1 });
    if (c.after.type === 'llm.usage') deltas.push({ facts: c.after, sign: 1 });
  }
  if (deltas.length) await st.store.apply(tx, deltas);
}

/** Recomputes the cubes over whole months covering [from, to) from raw events (backfill). */
export async function rebuild(st: RollupState, from: Date, to: Date, opts?: { bulk?: boolean }): Promise<{ from: Date; to: Date }> {
  await init(st);
  return st.db.transaction(async (tx) => {
    await lockRollups(tx);
    // Fold everything pending first: the rebuild then recomputes its months from the raw
    // events (pending ones included) and the folded events outside them stay counted once.
    await st.store.fold(tx, await claimPending(tx, null));
    return st.store.rebuild(tx, from, to, opts);
  });
}

/**
 * Retention of the rollup tiers: drops sub-day buckets (`hourly` days) and day buckets (`daily`
 * days) older than the horizon — but never the buckets of events whose raw rows are still stored.
 */
export async function prune(st: RollupState, tiers: Record<string, number | null>, now: Date): Promise<{ fine_before: string | null; day_before: string | null }> {
  await drain(st);
  const horizon = (days: number | null | undefined) =>
    days === null || days === undefined ? null : new Date(Math.floor((now.getTime() - days * DAY_MS) / DAY_MS) * DAY_MS);
  const fine = horizon(tiers.hourly);
  const day = horizon(tiers.daily);
  return st.db.transaction(async (tx) => {
    await lockRollups(tx);
    // Buckets of events whose raw rows are still stored are kept, whatever the tier says (a
    // late event, e.g. the README's example on a fresh store, stays answerable by hour and in
    // any zone until retention deletes its raw row). Raw retention runs before this hook.
    const rawFrom = (await llmSpan(tx)).lo ?? Infinity;
    const tierCuts = [
      // The hour (and its 15-minute buckets) holding the oldest raw event is kept.
      [[1, 2], fine, Math.floor(rawFrom / HOUR_MS) * HOUR_MS, 'fine_pruned_before'],
      // A report-zone day may start up to 14 h before the UTC day: keep one more day.
      [DAY_GRAINS, day, Math.floor(rawFrom / DAY_MS) * DAY_MS - DAY_MS, 'day_pruned_before'],
    ] as const;
    for (const [grains, tierBefore, rawCut, key] of tierCuts) {
      if (!tierBefore) continue;
      // The horizon recorded is where dropped buckets end, not the cut: a query is refused only
      // where something was really dropped, and the message can say so.
      const droppedTo = await pruneGrains(tx, grains, new Date(Math.min(tierBefore.getTime(), rawCut)));
      if (droppedTo !== null) await recordHorizon(tx, key, droppedTo);
    }
    const h = await queryState(tx);
    const iso = (t: number) => (Number.isFinite(t) ? new Date(t).toISOString() : null);
    return { fine_before: iso(h.fine), day_before: iso(h.day) };
  });
}
