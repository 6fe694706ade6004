import { readFileSync, existsSync } from 'node:fs';
import path from 'node:path';
import YAML from 'yaml';
import { z } from 'zod';
import { metersConfigSchema, METERS_ENV } from './meters/config.ts';
import { retentionConfigSchema, RETENTION_ENV, jobsConfigSchema, JOBS_ENV } from './jobs/config.ts';
import { collectorsConfigSchema, COLLECTORS_ENV } from './collectors/config.ts';
import { gatewayConfigSchema, GATEWAY_ENV } from './gateway/config.ts';
import { secretsConfigSchema, SECRETS_ENV } from './secrets/config.ts';
import { pricingConfigSchema, PRICING_ENV } from './pricing/config.ts';
import { quotasConfigSchema, QUOTAS_ENV } from './quotas/config.ts';
import { alertsConfigSchema, ALERTS_ENV } from './alerts/config.ts';

/**
 * Configuration: `tollgate.config.yaml` (or the file TOLLGATE_CONFIG names) overlaid by environment
 * variables. Validated once at start; a bad value stops start with a message naming the field.
 */
const tzName = z.string().refine((tz) => {
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: tz });
    return true;
  } catch {
    return false;
  }
}, 'must be an IANA time zone such as Asia/Seoul');

export const configSchema = z
  .object({
    host: z.string().min(1).default('127.0.0.1'),
    port: z.coerce.number().int().min(0).max(65535).default(8787),
    data_dir: z.string().min(1).default('./.tollgate'),
    database_url: z
      .string()
      .regex(/^postgres(ql)?:\/\//, 'must be a postgres:// or postgresql:// URL')
      .optional(),
    bootstrap_key: z.string().min(16, 'must be at least 16 characters').optional(),
    log_level: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
    tz: tzName.default('UTC'),
    ingest: z
      .object({
        max_batch: z.coerce.number().int().min(1).max(100_000).default(10_000),
        body_limit_bytes: z.coerce.number().int().min(1024).default(16 * 1024 * 1024),
      })
      .strict()
      .default({ max_batch: 10_000, body_limit_bytes: 16 * 1024 * 1024 }),
    meters: metersConfigSchema,
    retention: retentionConfigSchema,
    gateway: gatewayConfigSchema,
    secrets: secretsConfigSchema,
    pricing: pricingConfigSchema,
    quotas: quotasConfigSchema,
    alerts: alertsConfigSchema,
    jobs: jobsConfigSchema,
    collectors: collectorsConfigSchema,
  })
  .strict();

export type Config = z.infer<typeof configSchema>;

/** Environment variables and the config path each maps to. */
const ENV: Array<[string, string[]]> = [
  ['HOST', ['host']],
  ['PORT', ['port']],
  ['TOLLGATE_DATA_DIR', ['data_dir']],
  ['DATABASE_URL', ['database_url']],
  ['TOLLGATE_BOOTSTRAP_KEY', ['bootstrap_key']],
  ['TOLLGATE_LOG_LEVEL', ['log_level']],
  ['TOLLGATE_TZ', ['tz']],
  ['TOLLGATE_INGEST_MAX_BATCH', ['ingest', 'max_batch']],
  ['TOLLGATE_INGEST_BODY_LIMIT_BYTES', ['ingest', 'body_limit_bytes']],
  ...METERS_ENV,
  ...RETENTION_ENV,
  ...GATEWAY_ENV,
  ...SECRETS_ENV,
  ...PRICING_ENV,
  ...QUOTAS_ENV,
  ...ALERTS_ENV,
  ...JOBS_ENV,
  ...COLLECTORS_ENV,
];

export class ConfigError extends Error {}

function setPath(obj: Record<string, any>, keys: string[], value: unknown) {
  let o = obj;
  for (const k of keys.slice(0, -1)) o = o[k] ??= {};
  o[keys[keys.length - 1]!] = value;
}

export interface LoadConfigOptions {
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  /** Values that win over file and environment (CLI flags, tests). */
  overrides?: Record<string, unknown>;
}

export function loadConfig(opts: LoadConfigOptions = {}): Config {
  const env = opts.env ?? process.env;
  const cwd = opts.cwd ?? process.cwd();
  const file = env.TOLLGATE_CONFIG ? path.resolve(cwd, env.TOLLGATE_CONFIG) : path.join(cwd, 'tollgate.config.yaml');
  let raw: Record<string, any> = {};
  if (existsSync(file)) {
    try {
      raw = (YAML.parse(readFileSync(file, 'utf8')) as Record<string, any>) ?? {};
    } catch (e) {
      throw new ConfigError(`config file ${file} is not valid YAML: ${(e as Error).message}`);
    }
  } else if (env.TOLLGATE_CONFIG) {
    throw new ConfigError(`config file ${file} (TOLLGATE_CONFIG) does not exist`);
  }
  const sources = new Map<string, string>();
  for (const [name, keys] of ENV) {
    const v = env[name];
    if (v !== undefined && v !== '') {
      setPath(raw, keys, v);
      sources.set(keys.join('.'), name);
    }
  }
  for (const [k, v] of Object.entries(opts.overrides ?? {})) if (v !== undefined) setPath(raw, k.split('.'), v);
  const parsed = configSchema.safeParse(raw);
  if (!parsed.success) {
    const lines = parsed.error.issues.map((i) => {
      const field = i.path.join('.');
      const envName = sources.get(field);
      return `  ${field || '(root)'}${envName ? ` (from ${envName})` : ''}: ${i.message}`;
    });
    throw new ConfigError(`invalid configuration:\n${lines.join('\n')}`);
  }
  return parsed.data;
}
