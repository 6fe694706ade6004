import type { Db } from '../shared/db/index.ts';
import type { Clock } from '../shared/clock.ts';
import { ApiError } from '../shared/errors.ts';
import { bindWrite } from '../auth/binding.ts';
import { isBound } from '../auth/keys.ts';
import { validateEvent } from './validate.ts';
import { toEventRow } from './rows.ts';
import type { EventStore } from './store.ts';
import { NEEDS_TRANSACTION, type EventRow, type IngestContext, type IngestHooks, type IngestResult, type RejectedEvent, type StoredEvent } from './types.ts';

export interface EventService {
  /** Validates, dedupes, enriches and stores a batch; resolves only after commit (a 202 is durable). */
  ingest(raw: unknown[], ctx?: IngestContext): Promise<IngestResult>;
}

export interface EventServiceOptions {
  maxBatch: number;
  /** An `afterCommit` hook threw or rejected: the batch is stored all the same (the wiring logs and counts it). */
  onHookFailure?: (hook: string, err: unknown) => void;
}

/**
 * An ingest key bound to a team/project/subject writes only that binding (auth/binding.ts): a missing
 * value is filled in (and mirrored into `data`, where team and project live), a different one is
 * rejected.
 */
function applyBinding(row: EventRow, ctx: IngestContext | undefined): string | undefined {
  const p = ctx?.principal;
  if (!p || !isBound(p)) return undefined;
  const r = bindWrite(p, { team: row.team, project: row.project, subject: row.subject });
  if (!r.ok) return `${r.field === 'subject' ? 'subject' : `data.${r.field}`} must be "${r.bound}" (this key is bound to it)`;
  for (const f of r.stamped) {
    row[f] = r.row[f]!;
    if (f !== 'subject' && row.data && typeof row.data === 'object') row.data = { ...row.data, [f]: r.row[f] };
  }
  return undefined;
}

/** A rejected event as it is kept in `rejected_events`. */
type RejectedInput = RejectedEvent & { source: string | null; body: unknown };

/** How long a type that needed a transaction goes straight to one (a meter on it may be deleted since). */
const NEEDS_TX_MS = 60_000;
/** Types remembered at most; past it the memory starts over (it is only a hint). */
const NEEDS_TX_TYPES = 1_000;

/** What one event service holds (made once per `eventService`). */
interface Ingest {
  db: Db;
  store: EventStore;
  hooks: IngestHooks;
  clock: Clock;
  opts: EventServiceOptions;
  /**
   * Event types whose batches a trigger sent to the transaction lately (types.ts, IngestHooks),
   * until when: their next batches go there directly instead of paying for a refused statement
   * first. Only a hint: the triggers decide for every batch stored alone.
   */
  needsTx: Map<string, number>;
}

export function eventService(db: Db, store: EventStore, hooks: IngestHooks, clock: Clock, opts: EventServiceOptions): EventService {
  const s: Ingest = { db, store, hooks, clock, opts, needsTx: new Map() };
  return { ingest: (raw, ctx) => ingest(s, raw, ctx) };
}

async function ingest(s: Ingest, raw: unknown[], ctx: IngestContext | undefined): Promise<IngestResult> {
  if (raw.length === 0) throw new ApiError({ type: 'invalid_request', code: 'EMPTY_BATCH', message: 'the batch holds no events' });
  if (raw.length > s.opts.maxBatch) {
    throw new ApiError({ type: 'payload_too_large', code: 'BATCH_TOO_LARGE', message: `a batch may hold at most ${s.opts.maxBatch} events (got ${raw.length}); split it` });
  }
  const { rows, rejected, duplicates } = sortBatch(raw, ctx);
  for (const enrich of s.hooks.enrich) await enrich(rows);
  const receivedAt = s.clock.now();
  const stored = (await storeAlone(s, rows, rejected.length, receivedAt)) ?? (await storeInTransaction(s, rows, rejected, receivedAt));
  afterCommit(s, stored);
  const result: IngestResult = {
    accepted: stored.length,
    duplicates: duplicates + (rows.length - stored.length),
    rejected: rejected.map(({ index, id, error }) => ({ index, id, error })),
  };
  if (rows.length === 0) {
    const message = raw.length === 1 ? `the event was rejected: ${rejected[0]!.error}` : `all ${raw.length} events were rejected; first: ${rejected[0]!.error}`;
    throw new ApiError({ type: 'invalid_request', code: 'ALL_REJECTED', message, extra: { rejected: result.rejected } });
  }
  return result;
}

/** Validates and binds each event; the first occurrence of a `(source, id)` in the batch wins, as a retry would. */
function sortBatch(raw: unknown[], ctx: IngestContext | undefined): { rows: EventRow[]; rejected: RejectedInput[]; duplicates: number } {
  const rejected: RejectedInput[] = [];
  const rows: EventRow[] = [];
  const seen = new Set<string>();
  let duplicates = 0;
  for (let i = 0; i < raw.length; i++) {
    const v = validateEvent(raw[i]);
    if (!v.ok) {
      rejected.push({ index: i, id: v.id ?? null, source: v.source ?? null, error: v.error, body: raw[i] });
      continue;
    }
    const row = toEventRow(v.event);
    const bindingError = applyBinding(row, ctx);
    if (bindingError) {
      rejected.push({ index: i, id: row.id, source: row.source, error: bindingError, body: raw[i] });
      continue;
    }
    const key = row.source + '\u0000' + row.id;
    if (seen.has(key)) {
      duplicates++;
      continue;
    }
    seen.add(key);
    rows.push(row);
  }
  return { rows, rejected, duplicates };
}

/** One statement that is its own transaction (types.ts, IngestHooks); undefined: this batch needs the transaction. */
async function storeAlone(s: Ingest, rows: EventRow[], rejected: number, receivedAt: Date): Promise<StoredEvent[] | undefined> {
  const now = receivedAt.getTime();
  if (rejected > 0 || !rows.length || !s.hooks.inTransaction.every((h) => h.guardedAlone)) return undefined;
  if (s.needsTx.size && rows.some((r) => (s.needsTx.get(r.type) ?? 0) > now)) return undefined;
  try {
    return await s.store.insertNew(s.db, rows, receivedAt, 'alone');
  } catch (err) {
    if ((err as { code?: unknown }).code !== NEEDS_TRANSACTION) throw err;
    if (s.needsTx.size > NEEDS_TX_TYPES) s.needsTx.clear();
    for (const r of rows) s.needsTx.set(r.type, now + NEEDS_TX_MS);
    return undefined;
  }
}

/** The batch's new rows, the inTransaction hooks' writes and the rejected rows commit together. */
function storeInTransaction(s: Ingest, rows: EventRow[], rejected: RejectedInput[], receivedAt: Date): Promise<StoredEvent[]> {
  return s.db.transaction(async (tx) => {
    const ins = await s.store.insertNew(tx, rows, receivedAt, 'tx');
    if (ins.length) for (const hook of s.hooks.inTransaction) await hook.run(tx, { kind: 'inserted', rows: ins });
    await s.store.insertRejected(
      tx,
      rejected.map((r) => ({ source: r.source, event_id: r.id, index: r.index, error: r.error, body: r.body })),
      receivedAt,
    );
    return ins;
  });
}

/** After the commit: a hook's failure is reported, never the batch's (it is stored). */
function afterCommit(s: Ingest, stored: StoredEvent[]): void {
  const failed = (name: string) => (err: unknown) => s.opts.onHookFailure?.(name, err);
  for (const hook of s.hooks.afterCommit) {
    try {
      const r = hook.run(stored);
      if (r instanceof Promise) r.catch(failed(hook.name));
    } catch (err) {
      failed(hook.name)(err);
    }
  }
}
