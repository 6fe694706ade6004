import type { Queryable } from '../shared/db/index.ts';
import type { Principal } from '../auth/keys.ts';

/** One event as it will be stored: the envelope, its data, and the columns lifted out of data. */
export interface EventRow {
  source: string;
  id: string;
  type: string;
  subject: string | null;
  time: Date;
  data: Record<string, unknown>;
  provider: string | null;
  model: string | null;
  region: string | null;
  team: string | null;
  project: string | null;
  api_key: string | null;
  feature: string | null;
  input_tokens: number | null;
  output_tokens: number | null;
  cache_read_tokens: number | null;
  cache_write_tokens: number | null;
  reasoning_tokens: number | null;
  /** Decimal string. */
  cost: string | null;
  cost_source: 'provider' | 'computed' | null;
  computed_cost: string | null;
  price: Record<string, unknown> | null;
  unpriced: boolean;
  estimated: boolean;
}

export interface StoredEvent extends EventRow {
  seq: string;
}

/**
 * Seams other domains plug into ingest (and reprice) without events knowing them. Three kinds:
 * - `enrich` runs before the write, on the rows about to be stored (pricing fills cost columns);
 * - `inTransaction` runs inside the transaction that changes stored events, with that change:
 *   the rows a batch inserted (`inserted`: meters add them to their buckets) or the rows reprice
 *   changed, as they were and as they are (`repriced`: rollups apply the difference). Whatever it
 *   writes commits with the events or not at all; a throw undoes both;
 * - `afterCommit` runs once a batch's rows are committed, outside any transaction (counters,
 *   metrics, alerts, dashboard signals). A throw (or a rejected promise) is logged and counted
 *   (`tollgate_ingest_hook_failures_total{hook}`), never turned into an error for a batch that is
 *   already stored. Named, so the count says whose hook failed.
 *
 * One statement alone: a batch with no rejected events, when every `inTransaction` hook is
 * `guardedAlone`, is stored by one INSERT that is its own transaction — one round trip instead of
 * six (BEGIN, insert, the hooks' statements, COMMIT), which an A/B measured at 10 % of a
 * 1,000-event batch and 1.5× a 25-event one (docs/foundation.md). The insert sets the
 * transaction-local `tollgate.ingest` to 'alone' (or 'tx' inside the transaction), and a guarded
 * domain's own trigger on `events` (its migration) either does its part in that statement (rollups
 * queue the rows) or raises NEEDS_TRANSACTION when the rows need its hook (meters: media marks,
 * event meters); then nothing of that statement is kept and the batch is stored again in a
 * transaction with every hook. Events' SQL never holds another domain's.
 */
export interface IngestHooks {
  enrich: Array<(rows: EventRow[]) => void | Promise<void>>;
  inTransaction: InTransactionHook[];
  afterCommit: AfterCommitHook[];
}

export interface InTransactionHook {
  /** The domain, for logs. */
  name: string;
  run(tx: Queryable, change: StoredChange): Promise<void>;
  /**
   * The domain's trigger on `events` covers a batch stored alone (see IngestHooks): it does the
   * hook's part for inserted rows or raises NEEDS_TRANSACTION. Without it every batch is stored
   * in a transaction, and `run` sees its inserted rows.
   */
  guardedAlone?: boolean;
}

/** The SQLSTATE a domain's ingest trigger raises to have a batch stored in a transaction instead of alone. */
export const NEEDS_TRANSACTION = 'TGI01';

/** What an `inTransaction` hook is told changed in the events table. */
export type StoredChange =
  /** A batch's new rows (only the ones actually inserted; never empty). */
  | { kind: 'inserted'; rows: StoredEvent[] }
  /** Reprice changed these rows' pricing columns (never empty). */
  | { kind: 'repriced'; changes: CostChange[] };

export interface AfterCommitHook {
  /** Names the hook in logs and in the failure counter's `hook` label (the domain, e.g. `alerts`). */
  name: string;
  run(rows: StoredEvent[]): void | Promise<void>;
}

export interface CostChange {
  before: StoredEvent;
  after: StoredEvent;
}

export interface RejectedEvent {
  index: number;
  id: string | null;
  error: string;
}

export interface IngestResult {
  accepted: number;
  duplicates: number;
  rejected: RejectedEvent[];
}

export interface IngestContext {
  principal?: Principal;
}
