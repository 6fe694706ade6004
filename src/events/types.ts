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
 * - `afterInsert` runs inside the ingest transaction with only the rows actually inserted
 *   (rollups and quota counters stay equal to the raw events because they commit together).
 */
export interface IngestHooks {
  enrich: Array<(rows: EventRow[]) => void | Promise<void>>;
  afterInsert: Array<(tx: Queryable, rows: StoredEvent[]) => Promise<void>>;
  /**
   * Runs inside the transaction that changes stored events' pricing columns (reprice), with each
   * row as it was and as it is now, so aggregates can apply the difference.
   */
  afterCostChange: Array<(tx: Queryable, changes: CostChange[]) => Promise<void>>;
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
