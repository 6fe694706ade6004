import type { Awaitable } from '../shared/awaitable.ts';

/**
 * The seam where quota enforcement plugs in before every upstream call. The quotas domain supplies
 * the real gate (`tg.gateway.setQuotaGate(gate)`); until then every call is allowed and no
 * estimate is computed.
 *
 * Per call: `reserve(ctx, estimate)` before the upstream call (a cached decision answers
 * synchronously: no await on the hot path), then exactly one of `lease.settle(actual)` (the call
 * used tokens: its real or estimated usage) or `lease.release()` (it used none: refused, upstream
 * error, timeout, client gone before any token) — called from the gateway's `record` stage, the
 * single place a call ends.
 */
export type QuotaLevel = 'ok' | 'warning' | 'critical' | 'blocked';

export interface QuotaContext {
  subject: string | null;
  team: string | null;
  project: string | null;
  api_key: string;
  route: string;
  provider: string;
  model: string;
  feature: string | null;
}

/** Estimated llm_tokens of this call (prompt tokens counted + max_tokens or the model's output cap). */
export interface QuotaEstimate {
  tokens: number;
}

export interface QuotaDecision {
  allowed: boolean;
  level: QuotaLevel;
  /** Decimal strings (meters are exact decimals). */
  remaining_tokens?: string;
  remaining_percent?: string;
  estimated_turns?: number | null;
  purchase_url?: string | null;
  resets_at?: string | null;
  message?: string;
}

/** What the call really used (the event's token classes); cost is null: the gateway never prices. */
export interface QuotaActual {
  input_tokens: number;
  output_tokens: number;
  cache_read_tokens: number;
  cache_write_tokens: number;
  cost: string | null;
}

export interface QuotaLease {
  settle(actual: QuotaActual): void;
  release(): void;
}

export interface QuotaGate {
  reserve(ctx: QuotaContext, estimate: QuotaEstimate): Awaitable<{ decision: QuotaDecision; lease: QuotaLease }>;
  /**
   * Optional, synchronous: false when this caller surely has nothing to enforce (no entitlement
   * applies, as far as the gate knows right now), so the gateway skips estimating the call —
   * tokenizing the prompt — and reserving. Absent or true: reserve as usual.
   */
  wants?(ctx: QuotaContext): boolean;
}

const NOTHING_HELD: QuotaLease = Object.freeze({ settle() {}, release() {} });
const ALLOWED = Object.freeze({ decision: Object.freeze({ allowed: true, level: 'ok' as const }), lease: NOTHING_HELD });

/** The default gate: every call allowed, nothing held. */
export const allowAll: QuotaGate = Object.freeze({ reserve: () => ALLOWED });

/** The lease of a call that reserved nothing (allowAll, count_tokens). */
export const noLease: QuotaLease = NOTHING_HELD;

/** The response headers a decision adds (warning/critical only). */
export function quotaHeaders(d: QuotaDecision): Record<string, string> | undefined {
  if (d.level !== 'warning' && d.level !== 'critical') return undefined;
  const h: Record<string, string> = { 'x-tollgate-quota-level': d.level };
  if (d.remaining_tokens !== undefined) h['x-tollgate-remaining-tokens'] = d.remaining_tokens;
  if (d.remaining_percent !== undefined) h['x-tollgate-remaining-percent'] = d.remaining_percent;
  if (d.estimated_turns !== undefined && d.estimated_turns !== null) h['x-tollgate-estimated-turns'] = String(d.estimated_turns);
  if (d.purchase_url) h['x-tollgate-purchase-url'] = d.purchase_url;
  return h;
}
