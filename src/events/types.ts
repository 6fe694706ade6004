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
 * Seams other domains plug into ingest without events knowing them:
 * - `enrich` runs before storing (pricing fills cost columns);
 * - `withInsert` puts SQL into the insert statement itself (rollups queue the new rows there);
 * - `afterInsert` runs inside the ingest transaction with only the rows actually inserted
 *   (aggregates stay equal to the raw events because they commit together);
 * - `afterStore` runs once the rows are committed, outside any transaction (counters, metrics).
 *
 * A batch with no rejected events, for which no `afterInsert` hook is `needed`, is stored by one
 * statement with no transaction around it: one round trip to the database instead of five or
 * six, which is most of what recording costs the gateway (docs/gateway.md). A `guard` that finds
 * the batch needs more raises `NEEDS_TRANSACTION`; nothing of that statement is kept and the
 * batch is stored again in a transaction with every hook.
 */
export interface IngestHooks {
  enrich: Array<(rows: EventRow[]) => void | Promise<void>>;
  withInsert: InsertStep[];
  afterInsert: AfterInsertHook[];
  afterStore: Array<(rows: StoredEvent[]) => void>;
  /**
   * Runs inside the transaction that changes stored events' pricing columns (reprice), with each
   * row as it was and as it is now, so aggregates can apply the difference.
   */
  afterCostChange: Array<(tx: Queryable, changes: CostChange[]) => Promise<void>>;
}

/** Returns the placeholder (`$n`) that carries `value` in the statement being built. */
export type Param = (value: unknown) => string;

/** SQL that runs in the statement that inserts the batch; it sees `inserted (seq, type)`. */
export interface InsertStep {
  /** A data-modifying CTE body over `inserted`; always runs. undefined: nothing for these rows. */
  cte?(rows: EventRow[], param: Param): string | undefined;
  /**
   * Only when the batch is stored without a transaction: an expression that is true, or raises
   * `NEEDS_TRANSACTION` when these rows need this domain's `afterInsert`. Evaluated once per
   * statement, as PostgreSQL plans it: before the rows are inserted, even when none will be. A
   * guard that takes a lock holds it to the commit, so that order cannot matter.
   */
  guard?(rows: EventRow[], param: Param): string | undefined;
}

export interface AfterInsertHook {
  /** Whether this batch needs `run`, as far as can be told before storing it (see `guard`). */
  needed(rows: EventRow[]): boolean;
  run(tx: Queryable, rows: StoredEvent[]): Promise<void>;
}

/** The SQLSTATE a `guard` raises to send the batch down the transactional path. */
export const NEEDS_TRANSACTION = 'TGI01';

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
