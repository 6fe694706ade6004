import type { App } from '../http/server.ts';
import type { Db } from '../shared/db/index.ts';
import type { Clock } from '../shared/clock.ts';
import type { Logger } from '../shared/log.ts';
import type { Signals } from '../shared/signals.ts';
import type { Config } from '../config.ts';
import type { KeyService } from '../auth/service.ts';
import type { EventService } from '../events/service.ts';
import type { SecretService } from '../secrets/index.ts';
import type { Jobs } from '../jobs/index.ts';
import { registerJobRoutes } from '../jobs/routes.ts';
import { collectorStore } from './store.ts';
import { accountsOf, createCollectorService, type CollectorService } from './service.ts';
import { registerCollectorRoutes, registerReconciliationRoutes, type CollectorInfo } from './routes.ts';
import { reconcile, type ReconRow } from './reconcile.ts';
import { DAY_MS, isoDay } from './service.ts';
import type { CollectorsConfig } from './config.ts';
import { registerLivekitWebhook, sweepOpenTracks } from './livekit.ts';
import { createHostMetrics } from './host-metrics.ts';
import { hostname } from 'node:os';
import type { CollectorName } from './providers.ts';

export interface CollectorsDeps {
  server: App;
  db: Db;
  keys: KeyService;
  events: EventService;
  jobs: Jobs;
  secrets: SecretService;
  signals: Signals;
  clock: Clock;
  logger: Logger;
  config: Config;
  /** Waits between retries (tests pass a controlled clock's). */
  sleep?: (ms: number) => Promise<void>;
}

export interface Collectors {
  service: CollectorService;
  list(): Promise<CollectorInfo[]>;
  reconcile(date: Date, provider: string, tolerance?: number): Promise<ReconRow[]>;
  /** The daily reconciliation job's work for one day: publishes reconciliation.mismatch per model out of tolerance. */
  reconcileDay(date: Date): Promise<{ providers: number; mismatches: number }>;
  sweepLivekit(): Promise<{ closed: number }>;
  hostMetrics: ReturnType<typeof createHostMetrics>;
}

const DATA_LAG: Record<string, string> = {
  openai: 'usage appears 8–24 h late and can change for a few days; each scheduled run re-pulls the last days',
  anthropic: 'usage appears within hours and can change for a few days; each scheduled run re-pulls the last days',
};

const PROVIDERS = ['openai', 'anthropic'] as const;
const enabledIn = (cfg: CollectorsConfig) => (p: CollectorName) => cfg[p].enabled ?? (cfg[p].accounts.length > 0 || !!cfg[p].admin_key);

/** The provider usage collectors: the service, a `collect.<provider>` job per enabled provider, `/v1/collectors*`. */
function wireProviderCollectors(d: CollectorsDeps): Pick<Collectors, 'service' | 'list'> {
  const cfg = d.config.collectors;
  const store = collectorStore(d.db);
  const service = createCollectorService({
    config: cfg,
    gatewayBaseUrl: (p) => d.config.gateway.providers[p]?.base_url,
    store,
    events: d.events,
    signals: d.signals,
    secret: (name) => d.secrets.get(name).catch(() => undefined),
    clock: d.clock,
    logger: d.logger,
    sleep: d.sleep,
  });
  const enabled = enabledIn(cfg);
  for (const p of PROVIDERS) {
    if (!enabled(p)) continue;
    d.jobs.scheduler.schedule(`collect.${p}`, cfg[p].schedule, cfg[p].tz, async ({ windowStart }) => {
      const { from, to } = service.scheduledRange(p, windowStart);
      const r = await service.run(p, from, to);
      // A failed account fails the window, so the scheduler retries it (ids make that safe).
      if (r.status !== 'ok') throw new Error(r.accounts.filter((a) => a.error).map((a) => `${a.account}: ${a.error}`).join('; '));
      return { events: r.events, duplicates: r.duplicates, corrections: r.corrections, cost: r.cost };
    });
  }
  async function list(): Promise<CollectorInfo[]> {
    const [runs, rows, jobs] = await Promise.all([store.lastRuns(), store.totals(), d.jobs.scheduler.list()]);
    return PROVIDERS.map((p) => {
      const r = runs.get(p);
      const job = jobs.find((j) => j.name === `collect.${p}`);
      return {
        name: p,
        enabled: enabled(p),
        schedule: job ? job.schedule : null,
        tz: job ? job.tz : null,
        data_lag: DATA_LAG[p]!,
        last_run: r ? { started_at: r.started_at, finished_at: r.finished_at, window_from: r.window_from, window_to: r.window_to, account: r.account } : null,
        next_run: job?.next_run ?? null,
        last_status: r?.status ?? null,
        last_error: r?.error ?? null,
        rows: rows.get(p) ?? 0,
        accounts: accountsOf(cfg[p]).length,
      };
    });
  }
  registerCollectorRoutes(d.server, { keys: d.keys, collectors: service, list });
  return { service, list };
}

/** Reconciliation: `GET /v1/reconciliation` and the daily `reconcile` job that signals mismatches. */
function wireReconciliation(d: CollectorsDeps): Pick<Collectors, 'reconcile' | 'reconcileDay'> {
  const cfg = d.config.collectors.reconciliation;
  const recon = (date: Date, provider: string, tolerance = cfg.tolerance) => reconcile(d.db, { date, provider, tolerance });
  registerReconciliationRoutes(d.server, { keys: d.keys, run: recon, tolerance: cfg.tolerance });
  async function reconcileDay(date: Date) {
    let mismatches = 0;
    let providers = 0;
    for (const p of PROVIDERS) {
      const rows = await recon(date, p);
      if (!rows.some((r) => r.reported.cost !== '0' || r.reported.input_tokens !== '0')) continue; // nothing reported: nothing to compare
      providers++;
      for (const r of rows.filter((x) => !x.within_tolerance)) {
        mismatches++;
        const strip = (s: Record<string, string | null>) => Object.fromEntries(Object.entries(s).filter(([, v]) => v !== null)) as Record<string, string>;
        d.signals.publish({ type: 'reconciliation.mismatch', provider: p, date: isoDay(date), model: r.model, recorded: strip(r.recorded), reported: strip(r.reported), difference: strip(r.difference), occurred_at: d.clock.now().toISOString() });
      }
    }
    return { providers, mismatches };
  }
  if (cfg.enabled) {
    // After the collectors: the UTC day before the window's instant.
    d.jobs.scheduler.schedule('reconcile', cfg.schedule, cfg.tz, ({ windowStart }) => reconcileDay(new Date(Math.floor(windowStart.getTime() / DAY_MS) * DAY_MS - DAY_MS)));
  }
  return { reconcile: recon, reconcileDay };
}

/** The LiveKit webhook, the sweep that closes tracks left open past the maximum, and host snapshots. */
function wireMedia(d: CollectorsDeps): Pick<Collectors, 'sweepLivekit' | 'hostMetrics'> {
  const lk = d.config.collectors.livekit;
  const livekitCredentials = async () => {
    if (lk.api_key && lk.api_secret) return { apiKey: lk.api_key, apiSecret: lk.api_secret };
    const v = await d.secrets.get(lk.credential).catch(() => undefined);
    const i = v ? v.indexOf(':') : -1;
    return v && i > 0 ? { apiKey: v.slice(0, i), apiSecret: v.slice(i + 1) } : null;
  };
  registerLivekitWebhook(d.server, { db: d.db, events: d.events, clock: d.clock, logger: d.logger, credentials: livekitCredentials });
  const sweepLivekit = () => sweepOpenTracks({ db: d.db, events: d.events, clock: d.clock }, lk.max_session_hours * 3_600_000);
  d.jobs.scheduler.schedule('livekit.sweep', lk.sweep_schedule, 'UTC', () => sweepLivekit(), { catchUp: 1 });

  // Host snapshots: only "now" matters, so no catch-up of missed windows.
  const hm = d.config.collectors.host_metrics;
  const hostMetrics = createHostMetrics({ db: d.db, events: d.events, host: hm.host ?? hostname(), procDir: hm.proc_dir, maxSessionMs: lk.max_session_hours * 3_600_000 });
  if (hm.enabled) d.jobs.scheduler.schedule('host.metrics', hm.schedule, 'UTC', async ({ windowStart }) => (await hostMetrics.snapshot(windowStart)).data, { catchUp: 1 });
  return { sweepLivekit, hostMetrics };
}

/**
 * Composition block of the collectors domain: provider usage collectors, reconciliation, the
 * LiveKit webhook, host snapshots, their scheduled jobs, and the jobs API routes.
 */
export function wireCollectors(d: CollectorsDeps): Collectors {
  registerJobRoutes(d.server, { keys: d.keys, scheduler: d.jobs.scheduler, clock: d.clock, cronSecret: d.config.jobs.cron_secret });
  return { ...wireProviderCollectors(d), ...wireReconciliation(d), ...wireMedia(d) };
}
