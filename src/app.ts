import { readFileSync } from 'node:fs';
import type { Config } from './config.ts';
import { openDb, migrate, type Db } from './shared/db/index.ts';
import { systemClock, type Clock } from './shared/clock.ts';
import { createLogger, type Logger } from './shared/log.ts';
import { createRegistry, type Registry } from './shared/metrics.ts';
import { createSignals, type Signals } from './shared/signals.ts';
import { createServer, type App } from './http/server.ts';
import { wireAuth, type KeyService } from './auth/index.ts';
import { wireEvents, type Events } from './events/index.ts';
import { wirePricing, type PricingService } from './pricing/index.ts';
import { wireRollups } from './rollups/index.ts';
import type { RollupService } from './rollups/service.ts';
import { wireMeters } from './meters/index.ts';
import type { MeterService } from './meters/service.ts';
import { wireJobs, type Jobs } from './jobs/index.ts';
import { wireSecrets, type SecretService } from './secrets/index.ts';
import { wireGateway, type Gateway } from './gateway/index.ts';
import { wireQuotas, type Quotas } from './quotas/index.ts';
import { wireCollectors, type Collectors } from './collectors/index.ts';
import { wireAnalysis, type Analysis } from './analysis/index.ts';
import { quotasEntitlementSource, wireAlerts, type AlertService } from './alerts/index.ts';
import { wireDashboard, type Dashboard } from './dashboard/index.ts';

export const VERSION: string = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')).version;

/**
 * A running Tollgate: the shared parts, then every domain's API as its `wireX` returned it. Code
 * outside a domain (the CLI, tests, benchmarks, other domains at wiring) reaches it only through here.
 */
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
  events: Events;
  pricing: PricingService;
  rollups: RollupService;
  meters: MeterService;
  jobs: Jobs;
  secrets: SecretService;
  gateway: Gateway;
  quotas: Quotas;
  collectors: Collectors;
  analysis: Analysis;
  alerts: AlertService;
  dashboard: Dashboard;
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

  server.get('/healthz', { schema: { hide: true } }, async () => {
    await db.query('SELECT 1');
    return { status: 'ok' };
  });
  server.get('/metrics', { schema: { hide: true } }, async (_req, reply) => {
    reply.header('content-type', metrics.contentType);
    return metrics.metrics();
  });
  const closers: Array<() => void | Promise<unknown>> = [];
  const onClose = (fn: () => void | Promise<unknown>) => void closers.push(fn);
  const shared = { server, db, clock, logger, metrics, signals, tz: config.tz };

  // One block per domain, in dependency order; each wireX registers its routes and jobs and returns its API.
  const keys = wireAuth(shared);
  const events = wireEvents({ ...shared, keys, maxBatch: config.ingest.max_batch });
  const hooks = events.hooks;
  // pricing prices every llm.usage row before it is stored (the first enrich hook)
  const pricing = await wirePricing({ ...shared, hooks, keys, eventStore: events.store, config: config.pricing });
  const rollups = await wireRollups({ ...shared, hooks, keys, events: events.store, onClose });
  const meters = await wireMeters({ ...shared, hooks, keys, config: config.meters, rollups });
  const jobs = wireJobs({ ...shared, dataDir: config.data_dir, retention: config.retention, sealResources: (b) => meters.sealResources(b) });
  jobs.retention.hooks.tiers.push((tiers, now) => rollups.prune(tiers, now));
  const secrets = wireSecrets({ ...shared, keys, config: config.secrets, dataDir: config.data_dir });
  const gateway = wireGateway({ ...shared, keys, events, hooks, secrets, config: config.gateway, bodyLimit: config.ingest.body_limit_bytes });
  // cost budgets price the gateway's estimate and actual through pricing's engine; quotas never import pricing
  const quotas = wireQuotas({ ...shared, keys, meters, config: config.quotas, onClose, price: costQuote(pricing) });
  gateway.setQuotaGate(quotas.gate);
  const collectors = wireCollectors({ ...shared, keys, events, jobs, secrets, config });
  const analysis = wireAnalysis({ ...shared, keys, rollups, meters, pricing, scheduler: jobs.scheduler, events: events.store });
  const alerts = wireAlerts({
    ...shared,
    keys,
    hooks,
    meters,
    scheduler: jobs.scheduler,
    config: config.alerts,
    baseUrl: `http://${config.host}:${config.port}`,
    entitlements: quotasEntitlementSource(quotas.service, clock),
    forecaster: analysis.forecaster,
  });
  const dashboard = await wireDashboard({ ...shared, keys, hooks, databaseUrl: config.database_url, dbKind: db.kind, onClose });

  return {
    config, db, server, clock, logger, metrics, signals,
    keys, events, pricing, rollups, meters, jobs, secrets, gateway, quotas, collectors, analysis, alerts, dashboard,
    async close() {
      await Promise.all(closers.map((fn) => fn()));
      await jobs.close();
      await server.close();
      if (!opts.db) await db.close();
    },
  };
}

/** Adapts pricing's engine to the quotas' `CostQuote` (a price for a token estimate, or null when unpriced). */
function costQuote(pricing: PricingService) {
  return (q: { provider: string; model: string; team: string | null; at: Date; usage: { input_tokens: number; output_tokens: number } }) => {
    const o = pricing.engine.price({ provider: q.provider, model: q.model, team: q.team, time: q.at, usage: q.usage });
    return o.priced ? o.cost : null;
  };
}
