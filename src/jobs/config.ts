import { z } from 'zod';

const days = z.union([z.coerce.number().int().min(1), z.null()]);

/**
 * `retention:` config section (imported by src/config.ts). Days of raw events kept per event
 * type; null keeps forever. Raw events are archived (gzip NDJSON) before they are deleted.
 */
export const retentionConfigSchema = z
  .object({
    enabled: z.union([z.boolean(), z.enum(['true', 'false']).transform((v) => v === 'true')]).default(true),
    /** Per event type. */
    types: z.record(z.string(), days).default({ 'resource.snapshot': 7, 'llm.usage': 90 }),
    /** Event types not listed in `types`. */
    default_days: days.default(90),
    /** Write archives before deleting (turning this off deletes without a copy). */
    archive: z.union([z.boolean(), z.enum(['true', 'false']).transform((v) => v === 'true')]).default(true),
    /** Archive directory; default <data_dir>/archive. */
    archive_dir: z.string().min(1).optional(),
    /** When the retention job runs (cron, in `tz`). */
    schedule: z.string().min(1).default('30 3 * * *'),
    tz: z.string().default('UTC'),
    /** Rollup tiers (applied by the rollups domain through the retention hook; see docs/retention.md). */
    tiers: z.record(z.string(), days).default({ hourly: 90, daily: null }),
  })
  .strict()
  .default({
    enabled: true,
    types: { 'resource.snapshot': 7, 'llm.usage': 90 },
    default_days: 90,
    archive: true,
    schedule: '30 3 * * *',
    tz: 'UTC',
    tiers: { hourly: 90, daily: null },
  });

export type RetentionConfig = z.infer<typeof retentionConfigSchema>;

export const RETENTION_ENV: Array<[string, string[]]> = [
  ['TOLLGATE_RETENTION_ENABLED', ['retention', 'enabled']],
  ['TOLLGATE_RETENTION_DEFAULT_DAYS', ['retention', 'default_days']],
  ['TOLLGATE_RETENTION_SNAPSHOT_DAYS', ['retention', 'types', 'resource.snapshot']],
  ['TOLLGATE_RETENTION_LLM_DAYS', ['retention', 'types', 'llm.usage']],
  ['TOLLGATE_ARCHIVE_DIR', ['retention', 'archive_dir']],
];

/** `jobs:` config section (imported by src/config.ts). */
export const jobsConfigSchema = z
  .object({
    /** A bearer token an external scheduler may use for POST /v1/jobs/:name/run (besides an admin key). */
    cron_secret: z.string().min(16, 'must be at least 16 characters').optional(),
    /** How often the scheduler looks for due windows. */
    tick_ms: z.coerce.number().int().min(1000).default(30_000),
  })
  .strict()
  .default({ tick_ms: 30_000 });

export type JobsConfig = z.infer<typeof jobsConfigSchema>;

export const JOBS_ENV: Array<[string, string[]]> = [['TOLLGATE_CRON_SECRET', ['jobs', 'cron_secret']]];
