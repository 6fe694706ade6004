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
 *   the rows a batch inserted (`inserted`: rollups queue them, meters add them to their buckets)
 *   or the rows reprice changed, as they were and as they are (`repriced`: rollups apply the
 *   difference). Whatever it writes commits with the events or not at all; a throw undoes both;
 * - `afterCommit` runs once a batch's rows are committed, outside any transaction (counters,
 *   metrics, alerts, dashboard signals). A throw (or a rejected promise) is logged and counted
 *   (`tollgate_ingest_hook_failures_total{hook}`), never turned into an error for a batch that is
 *   already stored. Named, so the count says whose hook failed.
 */
export interface IngestHooks {
  enrich: Array<(rows: EventRow[]) => void | Promise<void>>;
  inTransaction: Array<(tx: Queryable, change: StoredChange) => Promise<void>>;
  afterCommit: AfterCommitHook[];
}

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
