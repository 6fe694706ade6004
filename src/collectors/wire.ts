import type { App } from '../http/server.ts';
import type { Db } from '../shared/db/index.ts';
import type { Clock } from '../shared/clock.ts';
import type { Logger } from '../shared/log.ts';
import type { Signals } from '../shared/signals.ts';
import type { Config } from '../shared/config.ts';
import type { KeyService } from '../auth/service.ts';
import type { EventService } from '../events/service.ts';
import type { SecretService } from '../secrets/index.ts';
import type { Jobs } from '../jobs/wire.ts';
import { registerJobRoutes } from '../jobs/routes.ts';

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
}

export interface Collectors {}

const byServer = new WeakMap<object, Collectors>();

/** The collectors wired into a running Tollgate (CLI and tests reach them through here). */
export function collectorsOf(tg: { server: App }): Collectors {
  const c = byServer.get(tg.server);
  if (!c) throw new Error('the collectors are not wired into this server');
  return c;
}

/**
 * Composition block of the collectors domain: provider usage collectors, reconciliation, the
 * LiveKit webhook, host snapshots, their scheduled jobs, and the jobs API routes.
 */
export function wireCollectors(d: CollectorsDeps): Collectors {
  registerJobRoutes(d.server, { keys: d.keys, scheduler: d.jobs.scheduler, clock: d.clock, cronSecret: d.config.jobs.cron_secret });
  const c: Collectors = {};
  byServer.set(d.server, c);
  return c;
}
