import { z } from 'zod';
import { parseAllowList } from './netguard.ts';

const bool = z.union([z.boolean(), z.enum(['true', 'false']).transform((v) => v === 'true')]);

/** `alerts:` config section (imported by src/config.ts); docs/alerts.md describes it. */
export const alertsConfigSchema = z
  .object({
    /** smtp:// or smtps:// URL e-mail goes through (SMTP_URL). Without it, e-mail channels are refused. */
    smtp_url: z.string().regex(/^smtps?:\/\//, 'must be an smtp:// or smtps:// URL').optional(),
    smtp_from: z.string().min(3).default('Tollgate <tollgate@localhost>'),
    /** Comma-separated hosts or CIDRs webhooks may reach although private/loopback/link-local. */
    webhook_allowed_hosts: z
      .union([z.string(), z.array(z.string())])
      .default('')
      .superRefine((v, ctx) => {
        try {
          parseAllowList(v);
        } catch (e) {
          ctx.addIssue({ code: 'custom', message: (e as Error).message });
        }
      }),
    /** Base URL of the dashboard, for links in messages (default http://HOST:PORT). */
    dashboard_url: z.string().url().optional(),
    /** The hourly sweep (cron, UTC). */
    sweep_schedule: z.string().min(1).default('0 * * * *'),
    /** How long a process trusts its copy of the rules (another process's changes show within it). */
    rules_cache_ms: z.coerce.number().int().min(0).max(600_000).default(5000),
    /** Delay that coalesces budget evaluations after ingest (ms). */
    evaluate_delay_ms: z.coerce.number().int().min(0).max(600_000).default(1000),
    delivery: z
      .object({
        /** Quick retries inside one send (p-retry), with backoff from min_timeout_ms doubling. */
        retries: z.coerce.number().int().min(0).max(10).default(3),
        min_timeout_ms: z.coerce.number().int().min(0).default(1000),
        /** Total attempts before a delivery is given up (later rounds back off up to an hour). */
        max_attempts: z.coerce.number().int().min(1).max(100).default(12),
        timeout_ms: z.coerce.number().int().min(100).default(10_000),
        /** How long a claimed delivery is this process's before another may take it over. */
        lease_s: z.coerce.number().int().min(5).default(300),
        /** How often the outbox is polled for due retries (serve). */
        poll_s: z.coerce.number().int().min(1).default(15),
        /** Send right after the deciding transaction commits (off: only the poller sends). */
        on_decide: bool.default(true),
      })
      .strict()
      .default({ retries: 3, min_timeout_ms: 1000, max_attempts: 12, timeout_ms: 10_000, lease_s: 300, poll_s: 15, on_decide: true }),
  })
  .strict()
  .default({
    smtp_from: 'Tollgate <tollgate@localhost>',
    webhook_allowed_hosts: '',
    sweep_schedule: '0 * * * *',
    rules_cache_ms: 5000,
    evaluate_delay_ms: 1000,
    delivery: { retries: 3, min_timeout_ms: 1000, max_attempts: 12, timeout_ms: 10_000, lease_s: 300, poll_s: 15, on_decide: true },
  });

export type AlertsConfig = z.infer<typeof alertsConfigSchema>;

export const ALERTS_ENV: Array<[string, string[]]> = [
  ['SMTP_URL', ['alerts', 'smtp_url']],
  ['TOLLGATE_SMTP_FROM', ['alerts', 'smtp_from']],
  ['TOLLGATE_WEBHOOK_ALLOWED_HOSTS', ['alerts', 'webhook_allowed_hosts']],
  ['TOLLGATE_DASHBOARD_URL', ['alerts', 'dashboard_url']],
];
