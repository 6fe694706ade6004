import { z } from 'zod';

/** `quotas:` config section (docs/quotas.md). */
export const quotasConfigSchema = z
  .object({
    /** Store unreachable: refuse gateway calls (default) or let them through. */
    fail_open: z.preprocess((v) => (v === 'true' ? true : v === 'false' ? false : v), z.boolean()).default(false),
    snapshot_ttl_ms: z.coerce.number().int().min(0).max(60_000).default(500),
    settle_hold_ms: z.coerce.number().int().min(0).max(600_000).default(3000),
    reservation_ttl_s: z.coerce.number().int().min(1).max(86_400).default(600),
    sweep_interval_ms: z.coerce.number().int().min(50).max(600_000).default(1000),
    /** /v1/entitlements/stats answers from a per-process cache this long (seed 003: admin stats cached). */
    stats_cache_ms: z.coerce.number().int().min(0).max(3_600_000).default(10_000),
    /** Reservation statements skip the WAL flush wait (docs/quotas.md "async commit"); false = durable. */
    async_commit: z.preprocess((v) => (v === 'true' ? true : v === 'false' ? false : v), z.boolean()).default(true),
    /** Stored usage snapshots (docs/quotas.md): advanced when older than this, this far behind now. */
    usage_snapshot_age_ms: z.coerce.number().int().min(60_000).max(31 * 86_400_000).default(3_600_000),
    usage_snapshot_lag_ms: z.coerce.number().int().min(0).max(86_400_000).default(600_000),
    /** estimated_turns' 7-day average per request is reused this long. */
    avg_ttl_ms: z.coerce.number().int().min(0).max(86_400_000).default(600_000),
    /** Gateway admissions against per-process slices of room (docs/quotas.md); 0 = a reservation per call. */
    slice_fraction: z.coerce.number().min(0).max(1).default(0.1),
    slice_max_calls: z.coerce.number().int().min(1).max(10_000).default(32),
    slice_idle_ms: z.coerce.number().int().min(10).max(60_000).default(200),
    slice_max_age_ms: z.coerce.number().int().min(10).max(600_000).default(1000),
  })
  .strict()
  .default({ fail_open: false, snapshot_ttl_ms: 500, settle_hold_ms: 3000, reservation_ttl_s: 600, sweep_interval_ms: 1000, stats_cache_ms: 10_000, async_commit: true, usage_snapshot_age_ms: 3_600_000, usage_snapshot_lag_ms: 600_000, avg_ttl_ms: 600_000, slice_fraction: 0.1, slice_max_calls: 32, slice_idle_ms: 200, slice_max_age_ms: 1000 });

export type QuotasConfigInput = z.infer<typeof quotasConfigSchema>;

export const QUOTAS_ENV: Array<[string, string[]]> = [
  ['TOLLGATE_QUOTA_FAIL_OPEN', ['quotas', 'fail_open']],
  ['TOLLGATE_QUOTA_RESERVATION_TTL_S', ['quotas', 'reservation_ttl_s']],
  ['TOLLGATE_QUOTA_SLICE_FRACTION', ['quotas', 'slice_fraction']],
];
