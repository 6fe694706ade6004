import type { App } from '../http/server.ts';
import type { Db } from '../shared/db/index.ts';
import type { Clock } from '../shared/clock.ts';
import type { Logger } from '../shared/log.ts';
import type { Signals } from '../shared/signals.ts';
import type { KeyService } from '../auth/service.ts';
import type { IngestHooks } from '../events/types.ts';
import type { MeterService } from '../meters/service.ts';
import type { Scheduler } from '../jobs/scheduler.ts';
import { Money } from '../shared/money.ts';
import type { AlertsConfig } from './config.ts';
import { alertService, type AlertService, type MeterReader } from './service.ts';
import { registerAlertRoutes } from './routes.ts';
import type { EntitlementSource } from './types.ts';
import type { UsageForecaster } from './forecast.ts';

export type { AlertService } from './service.ts';
export type { EntitlementSource, EntitlementSnapshot } from './types.ts';
export type { UsageForecaster, ForecastRequest } from './forecast.ts';
export { quotasEntitlementSource } from './quotas-source.ts';

/** Reads meter totals through the MeterService (read-only). */
export function meterReader(meters: MeterService): MeterReader {
  const sum = (rows: Array<{ value: number | string }>) => rows.reduce((s, r) => s.plus(String(r.value)), new Money(0));
  return {
    async eventTypes(slug) {
      try {
        return [(await meters.get(slug)).event_type];
      } catch {
        return null;
      }
    },
    async total(slug, from, to, tz, filters) {
      if (!(from < to)) return '0';
      return sum(await meters.query(slug, { from, to, window: 'none', tz, groupBy: [], filters })).toString();
    },
    async totalsBy(slug, from, to, tz, filters, group) {
      const out = new Map<string, string>();
      if (!(from < to)) return out;
      const sums = new Map<string, Money>();
      for (const r of await meters.query(slug, { from, to, window: 'none', tz, groupBy: [group], filters })) {
        const k = String(r[group] ?? '');
        sums.set(k, (sums.get(k) ?? new Money(0)).plus(String(r.value)));
      }
      for (const [k, v] of sums) out.set(k, v.toString());
      return out;
    },
    async daily(slug, from, to, tz, filters) {
      if (!(from < to)) return [];
      return (await meters.query(slug, { from, to, window: 'day', tz, groupBy: [], filters })).map((r) => String(r.value));
    },
    async dailyByDay(slug, from, to, tz, filters) {
      if (!(from < to)) return [];
      return (await meters.query(slug, { from, to, window: 'day', tz, groupBy: [], filters })).map((r) => ({ day: r.window_start.slice(0, 10), usage: String(r.value) }));
    },
  };
}

/**
 * Composition-root block of the alerts domain: the service, its routes, the signal listeners,
 * the ingest hook (budget rules), the hourly `alerts.sweep` job and the outbox poller (serve).
 */
export function wireAlerts(d: {
  server: App;
  db: Db;
  clock: Clock;
  logger: Logger;
  keys: KeyService;
  signals: Signals;
  hooks: IngestHooks;
  meters: MeterService;
  scheduler: Scheduler;
  config: AlertsConfig;
  tz: string;
  /** Fallback for links when alerts.dashboard_url is not set. */
  baseUrl: string;
  entitlements?: EntitlementSource;
  /** forecast.exceeds model (src/app.ts passes analysis's); the linear projection without it. */
  forecaster?: UsageForecaster;
}): AlertService {
  const alerts = alertService({
    db: d.db,
    clock: d.clock,
    logger: d.logger,
    config: d.config,
    tz: d.tz,
    dashboardUrl: d.config.dashboard_url ?? d.baseUrl,
    meters: meterReader(d.meters),
    entitlements: d.entitlements,
    forecaster: d.forecaster,
  });
  registerAlertRoutes(d.server, { keys: d.keys, alerts });
  d.signals.on('entitlement.level', (s) => alerts.onSignal(s).then(() => {}));
  d.signals.on('collector.failure', (s) => alerts.onSignal(s).then(() => {}));
  d.signals.on('reconciliation.mismatch', (s) => alerts.onSignal(s).then(() => {}));
  d.signals.on('anomaly', (s) => alerts.onSignal(s).then(() => {}));
  d.hooks.afterCommit.push({ name: 'alerts', run: (rows) => alerts.onIngest(rows) });
  d.scheduler.schedule('alerts.sweep', d.config.sweep_schedule, 'UTC', ({ now }) => alerts.sweep(now));
  // The outbox poller (retries) runs where the server listens (serve), not in inject()-only tests.
  d.server.addHook('onListen', async () => alerts.start());
  d.server.addHook('onClose', async () => alerts.close());
  return alerts;
}
