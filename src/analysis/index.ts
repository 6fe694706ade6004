import type { App } from '../http/server.ts';
import type { Db } from '../shared/db/index.ts';
import type { Clock } from '../shared/clock.ts';
import type { Logger } from '../shared/log.ts';
import type { Signals } from '../shared/signals.ts';
import type { KeyService } from '../auth/service.ts';
import type { RollupService } from '../rollups/service.ts';
import type { MeterService } from '../meters/service.ts';
import type { Scheduler } from '../jobs/scheduler.ts';
import type { PricingService } from '../pricing/index.ts';
import { alertsForecaster } from './alerts-forecast.ts';
import { registerAnalysisRoutes } from './routes/index.ts';
import { DEFAULT_MIN_IMPACT, scanAnomalies } from './anomaly-service.ts';
import type { Measure } from './series.ts';
import type { EventLister } from './latency.ts';

/** The analysis domain as the rest of Tollgate sees it. */
export interface Analysis {
  /** The forecast model alerts' `forecast.exceeds` rules use (alerts' `UsageForecaster`, matched structurally). */
  forecaster: typeof alertsForecaster;
}

export interface AnalysisOptions {
  /** Smallest excess an anomaly needs to be listed by default and signalled, per measure. */
  minImpact?: Partial<Record<Measure, number>>;
  /** Hourly scan that stores new anomalies and signals them (alerts' `anomaly` rule). */
  scanSchedule?: string | null;
}

/**
 * The analysis domain's one wiring call from src/app.ts: /v1/summary, /v1/analysis/*, and the
 * hourly anomaly scan. Depends on rollups and meters (read functions only) and on pricing's quote;
 * none of them depends on analysis.
 */
export function wireAnalysis(d: {
  server: App;
  db: Db;
  keys: KeyService;
  clock: Clock;
  tz: string;
  rollups: Pick<RollupService, 'usage' | 'ranges'>;
  meters: Pick<MeterService, 'query'>;
  signals?: Signals;
  scheduler?: Scheduler;
  logger?: Logger;
  options?: AnalysisOptions;
  /** The events store's `list` (a bounded read for tokens per second; the rollups keep no latency). */
  events?: EventLister;
  /** Prices cost-calculator and optimisation estimates; without it those answer unpriced. */
  pricing?: PricingService;
}): Analysis {
  const pricing = d.pricing ?? null;
  const minImpact = { ...DEFAULT_MIN_IMPACT, ...(d.options?.minImpact ?? {}) };
  registerAnalysisRoutes(d.server, { keys: d.keys, db: d.db, rollups: d.rollups, meters: d.meters, pricing, clock: d.clock, signals: d.signals, defaultTz: d.tz, minImpact, events: d.events });
  const schedule = d.options?.scanSchedule === undefined ? '7 * * * *' : d.options.scanSchedule;
  if (d.scheduler && schedule) {
    // Each hour: the last two days of hourly cost (so a late hour is seen) and of daily cost, total only.
    d.scheduler.schedule(
      'analysis.anomalies',
      schedule,
      d.tz,
      async ({ now }) => {
        for (const window of ['hour', 'day'] as const) {
          const to = new Date(Math.floor(now.getTime() / 3_600_000) * 3_600_000);
          const from = new Date(to.getTime() - 2 * 86_400_000);
          await scanAnomalies({ db: d.db, rollups: d.rollups, signals: d.signals }, { measure: 'cost', window, groupBy: null, from, to, tz: 'UTC', minImpact: minImpact.cost }, now);
        }
      },
      { catchUp: 1 },
    );
  }
  return { forecaster: alertsForecaster };
}
