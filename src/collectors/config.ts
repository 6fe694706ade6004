import { z } from 'zod';

const bool = z.union([z.boolean(), z.enum(['true', 'false']).transform((v) => v === 'true')]);

/** Where a provider project / workspace / API key's usage is attributed. */
const attribution = z.object({ team: z.string().min(1).optional(), project: z.string().min(1).optional() }).strict();

const account = z
  .object({
    name: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/, 'account names are letters, digits, ".", "_", "-"'),
    /** Name of the secret holding this account's admin key. */
    credential: z.string().min(1).optional(),
    /** Admin key given directly (environment); the secret store is preferred. */
    admin_key: z.string().min(1).optional(),
    /** Team every event of this account is attributed to unless a project/key mapping says otherwise. */
    team: z.string().min(1).optional(),
  })
  .strict();

const provider = (defaultSecret: string) =>
  z
    .object({
      /** Pulled on the schedule; default: on when an account or an admin key is configured. */
      enabled: bool.optional(),
      schedule: z.string().min(1).default('0 9 * * *'),
      tz: z.string().default('Asia/Seoul'),
      /** Default: the gateway's base URL for this provider, else the provider's public one. */
      base_url: z.string().url().optional(),
      /** Single-account form: the admin key (OPENAI_ADMIN_KEY / ANTHROPIC_ADMIN_KEY) or its secret name. */
      admin_key: z.string().min(1).optional(),
      credential: z.string().min(1).default(defaultSecret),
      accounts: z.array(account).default([]),
      bucket_width: z.enum(['1d', '1h']).default('1d'),
      /** Each scheduled run re-pulls this many days before the window (late data, corrections). */
      lookback_days: z.coerce.number().int().min(0).max(31).default(3),
      timeout_ms: z.coerce.number().int().min(1).default(30_000),
      /** OpenAI project id / Anthropic workspace id (or "default") → team/project. */
      projects: z.record(z.string(), attribution).default({}),
      /** Provider API key id → team/project (wins over the project mapping). */
      api_keys: z.record(z.string(), attribution).default({}),
    })
    .strict();

/** `collectors:` config section (imported by src/config.ts); see docs/collectors.md. */
const collectorsObject = z
  .object({
    openai: provider('openai-admin').default(() => provider('openai-admin').parse({})),
    anthropic: provider('anthropic-admin').default(() => provider('anthropic-admin').parse({})),
    livekit: z
      .object({
        api_key: z.string().min(1).optional(),
        api_secret: z.string().min(1).optional(),
        /** Secret-store name holding "<api key>:<api secret>" when they are not in the config. */
        credential: z.string().min(1).default('livekit'),
        /** Tracks open longer than this are closed (at start + max) and marked closed_by max_duration. */
        max_session_hours: z.coerce.number().positive().max(24 * 31).default(12),
        sweep_schedule: z.string().min(1).default('*/15 * * * *'),
      })
      .strict()
      .default({ credential: 'livekit', max_session_hours: 12, sweep_schedule: '*/15 * * * *' }),
    host_metrics: z
      .object({
        enabled: bool.default(true),
        schedule: z.string().min(1).default('*/5 * * * *'),
        /** Host name on the events; default os.hostname(). */
        host: z.string().min(1).optional(),
        proc_dir: z.string().min(1).default('/proc'),
      })
      .strict()
      .default({ enabled: true, schedule: '*/5 * * * *', proc_dir: '/proc' }),
    reconciliation: z
      .object({
        enabled: bool.default(true),
        /** After the collectors' default 09:00 Seoul. */
        schedule: z.string().min(1).default('30 9 * * *'),
        tz: z.string().default('Asia/Seoul'),
        /** Relative difference (0.02 = 2 %) within which recorded and reported agree. */
        tolerance: z.coerce.number().min(0).max(1).default(0.02),
      })
      .strict()
      .default({ enabled: true, schedule: '30 9 * * *', tz: 'Asia/Seoul', tolerance: 0.02 }),
  })
  .strict();
export const collectorsConfigSchema = collectorsObject.default(() => collectorsObject.parse({}));

export type CollectorsConfig = z.infer<typeof collectorsConfigSchema>;
export type ProviderCollectorConfig = CollectorsConfig['openai'];
export type AccountConfig = z.infer<typeof account>;

export const COLLECTORS_ENV: Array<[string, string[]]> = [
  ['OPENAI_ADMIN_KEY', ['collectors', 'openai', 'admin_key']],
  ['ANTHROPIC_ADMIN_KEY', ['collectors', 'anthropic', 'admin_key']],
  ['TOLLGATE_LIVEKIT_API_KEY', ['collectors', 'livekit', 'api_key']],
  ['TOLLGATE_LIVEKIT_API_SECRET', ['collectors', 'livekit', 'api_secret']],
  ['TOLLGATE_HOST_METRICS_ENABLED', ['collectors', 'host_metrics', 'enabled']],
];
