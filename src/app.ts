import { readFileSync } from 'node:fs';
import type { Config } from './config.ts';
import { openDb, migrate, type Db } from './shared/db/index.ts';
import { systemClock, type Clock } from './shared/clock.ts';
import { createLogger, type Logger } from './shared/log.ts';
import { createRegistry, prom, type Registry } from './shared/metrics.ts';
import { createSignals, type Signals } from './shared/signals.ts';
import { createServer, type App } from './http/server.ts';
import { keyStore } from './auth/store.ts';
import { keyService, type KeyService } from './auth/service.ts';
import { registerKeyRoutes } from './auth/routes.ts';
import { eventStore, type EventStore } from './events/store.ts';
import { eventService, type EventService } from './events/service.ts';
import { registerEventRoutes } from './events/routes.ts';
import type { IngestHooks } from './events/types.ts';
import { wirePricing } from './pricing/index.ts';
import { wireMeters } from './meters/wire.ts';
import type { MeterService } from './meters/service.ts';
import { wireJobs, type Jobs } from './jobs/wire.ts';
import { createSecrets } from './secrets/index.ts';
import { wireGateway, gatewayOf } from './gateway/index.ts';
import { wireRollups } from './rollups/wire.ts';
import { wireQuotas } from './quotas/wire.ts';

export const VERSION: string = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')).version;

export interface Tollgate {
  config: Config;
  db: Db;
  server: App;
  clock: Clock;
  logger: Logger;
  metrics: Registry;
  /** In-process domain signals (entitlement levels, collector failures, …): src/shared/signals.ts. */
  signals: Signals;
  keys: KeyService;
  events: EventService;
  eventStore: EventStore;
  hooks: IngestHooks;
  meters: MeterService;
  jobs: Jobs;
  close(): Promise<void>;
}

export interface CreateOptions {
  db?: Db;
  clock?: Clock;
  logger?: Logger;
  /** Skip migrations (the db is already migrated). */
  migrated?: boolean;
}

/** Wires every domain together: the composition root. Domains never import each other's stores. */
export async function createTollgate(config: Config, opts: CreateOptions = {}): Promise<Tollgate> {
  const logger = opts.logger ?? createLogger(config.log_level);
  const clock = opts.clock ?? systemClock;
  const db = opts.db ?? (await openDb({ databaseUrl: config.database_url, dataDir: config.data_dir }));
  if (!opts.migrated) {
    const applied = await migrate(db);
    if (applied.length) logger.info({ applied }, `applied ${applied.length} migration(s)`);
  }
  const metrics = createRegistry();
  const signals = createSignals((err, signal) => logger.error({ err, signal: signal.type }, 'a signal listener failed'));
  const server = await createServer({ logger, bodyLimit: config.ingest.body_limit_bytes, version: VERSION });

  const keys = keyService(keyStore(db), clock);
  const hooks: IngestHooks = { enrich: [], withInsert: [], afterInsert: [], afterStore: [], afterCostChange: [] };
  const store = eventStore(db);
  const events = instrumentIngest(eventService(db, store, hooks, clock, { maxBatch: config.ingest.max_batch }), metrics);

  server.get('/healthz', { schema: { hide: true } }, async () => {
    await db.query('SELECT 1');
    return { status: 'ok' };
  });
  server.get('/metrics', { schema: { hide: true } }, async (_req, reply) => {
    reply.header('content-type', metrics.contentType);
    return metrics.metrics();
  });
  registerKeyRoutes(server, { keys });
  registerEventRoutes(server, { keys, events, store });

  // --- domains wire in below, one block each (keep each block small) ---

  // pricing: catalog + overrides price every llm.usage row before it is stored; /v1/prices* (src/pricing; pricingOf(tg))
  await wirePricing({ server, db, hooks, keys, eventStore: store, metrics, clock, logger, config: config.pricing });

  // rollups + usage queries + export + summary (src/rollups, src/analysis/summary)
  const closers: Array<() => void | Promise<unknown>> = [];
  const rollups = await wireRollups({ server, db, hooks, keys, clock, tz: config.tz, events: store, logger, onClose: (fn) => closers.push(fn) });

  // meters, media sessions, resource snapshots (src/meters) + scheduler and retention (src/jobs)
  const meters = await wireMeters({ server, db, hooks, keys, clock, logger, tz: config.tz, config: config.meters, rollups });
  const jobs = wireJobs({ db, clock, logger, dataDir: config.data_dir, retention: config.retention, sealResources: (b) => meters.sealResources(b) });
  jobs.retention.hooks.tiers.push((tiers, now) => rollups.prune(tiers, now));

  // secret store + LLM gateway (src/secrets, src/gateway); reach them with secretsOf(tg) / gatewayOf(tg)
  const secrets = createSecrets({ db, clock, config: config.secrets, dataDir: config.data_dir, server, keys });
  wireGateway({ config: config.gateway, bodyLimit: config.ingest.body_limit_bytes, db, server, keys, events, hooks, secrets, metrics, clock, logger });

  // quotas: entitlements, grants, budgets, reservations, the gateway's quota gate (src/quotas; quotasOf(tg))
  const prices = (await import('./pricing/index.ts')).pricingOf({ server }).engine; // cost budgets price the gateway's estimate and actual
  const price = (q: { provider: string; model: string; team: string | null; at: Date; usage: { input_tokens: number; output_tokens: number } }) => {
    const o = prices.price({ provider: q.provider, model: q.model, team: q.team, time: q.at, usage: q.usage });
    return o.priced ? o.cost : null;
  };
  const quotas = wireQuotas({ server, db, keys, clock, logger, signals, metrics, meters, tz: config.tz, config: config.quotas, onClose: (fn) => closers.push(fn), price });
  gatewayOf({ server }).setQuotaGate(quotas.gate);

  // collectors (provider usage, reconciliation, LiveKit webhook, host snapshots) + jobs API (src/collectors, src/jobs); collectorsOf(tg)
  (await import('./collectors/wire.ts')).wireCollectors({ server, db, keys, events, jobs, secrets, signals, clock, logger, config });

  // alerts: rules, firings, outbox, e-mail/webhook/in-app, job alerts.sweep; the sweep reads entitlements through the quotas service; forecast.exceeds uses analysis's forecast (src/alerts; alertsOf(tg))
  const entitlements = (await import('./alerts/quotas-source.ts')).quotasEntitlementSource(quotas.service, clock);
  (await import('./alerts/wire.ts')).wireAlerts({ server, db, clock, logger, keys, signals, hooks, meters, scheduler: jobs.scheduler, config: config.alerts, tz: config.tz, baseUrl: `http://${config.host}:${config.port}`, entitlements, forecaster: (await import('./analysis/alerts-forecast.ts')).alertsForecaster });

  // analysis: /v1/summary, /v1/analysis/* (forecast, anomalies + job analysis.anomalies, correlation, predict, trends, suggestions, efficiency) (src/analysis)
  (await import('./analysis/index.ts')).wireAnalysis({ server, db, keys, clock, tz: config.tz, rollups, meters, signals, scheduler: jobs.scheduler, logger, events: store });

  // dashboard: the web app at /, POST/GET/DELETE /v1/session (cookie), GET /v1/stream (SSE; publishes usage.ingested after commit) (src/dashboard)
  await (await import('./dashboard/wire.ts')).wireDashboard({ server, keys, hooks, signals, clock, logger, tz: config.tz, databaseUrl: config.database_url, dbKind: db.kind, onClose: (fn) => closers.push(() => void fn()) });

  const flush = setInterval(() => keys.flushUsage().catch((err) => logger.warn({ err }, 'could not record key usage')), 30_000);
  flush.unref();

  return {
    config,
    db,
    server,
    clock,
    logger,
    metrics,
    signals,
    keys,
    events,
    eventStore: store,
    hooks,
    meters,
    jobs,
    async close() {
      await Promise.all(closers.map((fn) => fn()));
      await jobs.close();
      clearInterval(flush);
      await server.close();
      await keys.flushUsage().catch(() => {});
      if (!opts.db) await db.close();
    },
  };
}

function instrumentIngest(svc: EventService, registry: Registry): EventService {
  const counter = new prom.Counter({
    name: 'tollgate_events_total',
    help: 'Events received by POST /v1/events, by outcome',
    labelNames: ['outcome'],
    registers: [registry],
  });
  return {
    async ingest(raw, ctx) {
      try {
        const r = await svc.ingest(raw, ctx);
        counter.inc({ outcome: 'accepted' }, r.accepted);
        counter.inc({ outcome: 'duplicate' }, r.duplicates);
        counter.inc({ outcome: 'rejected' }, r.rejected.length);
        return r;
      } catch (e) {
        const rejected = (e as { extra?: { rejected?: unknown[] } }).extra?.rejected;
        if (rejected) counter.inc({ outcome: 'rejected' }, rejected.length);
        throw e;
      }
    },
  };
}
