/**
 * Quota client for apps that call providers themselves (`tollgate/client`): the same mechanism the
 * gateway uses. `check()` is advisory; `reserve()` holds room (exact across Tollgate processes),
 * then `settle()` it to what was used or `release()` it when nothing was. A reservation neither
 * settled nor released expires after its ttl, so a crashed app leaks nothing.
 *
 * Amounts are decimal strings on the wire (a number is sent as its decimal form); answers keep
 * them as strings — compare with a decimal library, not floats, for money (llm_cost budgets).
 */
export interface QuotaClientOptions {
  /** Tollgate base URL, e.g. http://127.0.0.1:8787 */
  baseUrl: string;
  /** A key with the gateway scope (a subject- or team-bound key acts only for its binding). */
  apiKey: string;
  fetch?: typeof fetch;
  /** Per-request timeout (default 10 s). */
  timeoutMs?: number;
}

export type Amount = number | string;
export type QuotaLevel = 'ok' | 'warning' | 'critical' | 'blocked';

/** Whose quota: exactly what the key's binding allows (a bound key may leave it out). */
export interface QuotaTarget {
  subject?: string;
  team?: string;
  api_key?: string;
  /** Meter slug (default llm_tokens; llm_cost for USD budgets). */
  meter?: string;
}

export interface QuotaCheck {
  /** The entitlement that decided (the tightest one), null when none applies (then always allowed). */
  entitlement_id: string | null;
  allowed: boolean;
  level: QuotaLevel;
  balance: string | null;
  /** Room left under the block threshold. */
  remaining: string | null;
  percent: string | null;
  estimated_turns: number | null;
  resets_at: string | null;
  purchase_url: string | null;
}

export interface QuotaReservation extends QuotaCheck {
  /** Null when refused (nothing is held) or when no entitlement applies. */
  id: string | null;
}

/** An answer in Tollgate's error shape, or no answer. */
export class TollgateError extends Error {
  constructor(
    message: string,
    readonly status: number,
    readonly type: string,
    readonly code: string,
    readonly param?: string,
  ) {
    super(message);
    this.name = 'TollgateError';
  }
}

/** Thrown by `withReservation` when the quota refuses the call (nothing was held). */
export class QuotaExceededError extends Error {
  constructor(readonly reservation: QuotaReservation) {
    super(`quota exceeded (level ${reservation.level}, remaining ${reservation.remaining ?? '0'})`);
    this.name = 'QuotaExceededError';
  }
}

export interface QuotaClient {
  check(q: QuotaTarget & { amount?: Amount }): Promise<QuotaCheck>;
  reserve(q: QuotaTarget & { amount: Amount; ttl_s?: number }): Promise<QuotaReservation>;
  settle(id: string, actual: Amount): Promise<{ id: string; settled: number }>;
  release(id: string): Promise<{ id: string; released: number }>;
  /**
   * reserve → fn → settle to what fn reports it used; released if fn throws. Throws
   * QuotaExceededError (fn not called) when refused.
   */
  withReservation<T>(q: QuotaTarget & { amount: Amount; ttl_s?: number }, fn: (r: QuotaReservation) => Promise<{ result: T; actual: Amount }>): Promise<T>;
}

const dec = (v: Amount, name: string): string => {
  const s = typeof v === 'number' ? (Number.isFinite(v) && v >= 0 ? (Number.isInteger(v) ? String(v) : v.toFixed(12).replace(/0+$/, '').replace(/\.$/, '')) : '') : v;
  if (!/^\d+(\.\d+)?$/.test(s)) throw new TypeError(`${name} must be a non-negative decimal, got ${JSON.stringify(v)}`);
  return s;
};

export function createQuotaClient(o: QuotaClientOptions): QuotaClient {
  const f = o.fetch ?? fetch;
  const base = o.baseUrl.replace(/\/+$/, '');
  const timeout = o.timeoutMs ?? 10_000;

  async function call<T>(method: string, path: string, body?: unknown): Promise<T> {
    let res: Response;
    try {
      res = await f(base + path, {
        method,
        headers: { authorization: `Bearer ${o.apiKey}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
        body: body === undefined ? undefined : JSON.stringify(body),
        signal: AbortSignal.timeout(timeout),
      });
    } catch (e) {
      throw new TollgateError(`cannot reach Tollgate at ${base}: ${(e as Error).message}`, 0, 'unavailable', 'UNREACHABLE');
    }
    const text = await res.text();
    let json: any;
    try {
      json = text ? JSON.parse(text) : undefined;
    } catch {
      json = undefined;
    }
    if (!res.ok) {
      const e = json?.error;
      throw new TollgateError(e?.message ?? `HTTP ${res.status}`, res.status, e?.type ?? 'api_error', e?.code ?? `HTTP_${res.status}`, e?.param);
    }
    return json as T;
  }

  const target = (q: QuotaTarget) => {
    const t: Record<string, string> = {};
    for (const k of ['subject', 'team', 'api_key', 'meter'] as const) if (q[k] !== undefined) t[k] = q[k]!;
    return t;
  };

  const client: QuotaClient = {
    check: async (q) => call('POST', '/v1/check', { ...target(q), ...(q.amount === undefined ? {} : { amount: dec(q.amount, 'amount') }) }),
    reserve: async (q) => call('POST', '/v1/reservations', { ...target(q), amount: dec(q.amount, 'amount'), ...(q.ttl_s ? { ttl_s: q.ttl_s } : {}) }),
    settle: async (id, actual) => call('POST', `/v1/reservations/${encodeURIComponent(id)}/settle`, { actual: dec(actual, 'actual') }),
    release: async (id) => call('DELETE', `/v1/reservations/${encodeURIComponent(id)}`),
    async withReservation(q, fn) {
      const r = await client.reserve(q);
      if (!r.allowed) throw new QuotaExceededError(r);
      let out: { result: any; actual: Amount };
      try {
        out = await fn(r);
      } catch (e) {
        if (r.id) await client.release(r.id).catch(() => {}); // the ttl frees it otherwise
        throw e;
      }
      if (r.id) await client.settle(r.id, out.actual);
      return out.result;
    },
  };
  return client;
}
