import type { Queryable } from '../shared/db/index.ts';
import type { Clock } from '../shared/clock.ts';
import { ttlCache, type Awaitable } from '../shared/awaitable.ts';

export interface KeyPolicy {
  key_id: string;
  /** Model names or prefixes ending in "*"; null = any model. */
  allowed_models: string[] | null;
  /** Route names; null = any route. */
  allowed_routes: string[] | null;
  updated_at: string;
}

/** Pure: does a pattern list allow this value? ("gpt-4o*" matches "gpt-4o-mini"). */
export function allows(patterns: string[] | null, value: string): boolean {
  if (!patterns) return true;
  return patterns.some((p) => (p.endsWith('*') ? value.startsWith(p.slice(0, -1)) : p === value));
}

const toPolicy = (r: Record<string, unknown>): KeyPolicy => ({
  key_id: String(r.key_id),
  allowed_models: (r.allowed_models as string[] | null) ?? null,
  allowed_routes: (r.allowed_routes as string[] | null) ?? null,
  updated_at: new Date(r.updated_at as string).toISOString(),
});

export interface PolicyService {
  /** Hot path: cached in memory for ttlMs (a change made here clears this process's cache); a hit answers synchronously. */
  get(keyId: string): Awaitable<KeyPolicy | undefined>;
  put(keyId: string, p: { allowed_models: string[] | null; allowed_routes: string[] | null }): Promise<KeyPolicy>;
  delete(keyId: string): Promise<boolean>;
}

export function policyService(db: Queryable, clock: Clock, ttlMs: number): PolicyService {
  const cache = ttlCache<string, KeyPolicy | undefined>({
    clock,
    ttlMs,
    load: async (keyId) => {
      const r = await db.query('SELECT * FROM gateway_key_policies WHERE key_id = $1', [keyId]);
      return r.rows[0] ? toPolicy(r.rows[0]) : undefined;
    },
  });
  return {
    get: (keyId) => cache.get(keyId),
    async put(keyId, p) {
      const r = await db.query(
        `INSERT INTO gateway_key_policies (key_id, allowed_models, allowed_routes, updated_at) VALUES ($1,$2,$3,$4)
         ON CONFLICT (key_id) DO UPDATE SET allowed_models = EXCLUDED.allowed_models, allowed_routes = EXCLUDED.allowed_routes, updated_at = EXCLUDED.updated_at
         RETURNING *`,
        [keyId, p.allowed_models, p.allowed_routes, clock.now()],
      );
      cache.delete(keyId);
      return toPolicy(r.rows[0]!);
    },
    async delete(keyId) {
      const r = await db.query('DELETE FROM gateway_key_policies WHERE key_id = $1', [keyId]);
      cache.delete(keyId);
      return r.rowCount > 0;
    },
  };
}
