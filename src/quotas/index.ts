import type { Db } from '../shared/db/index.ts';
import type { Clock } from '../shared/clock.ts';
import type { Logger } from '../shared/log.ts';
import type { Registry } from '../shared/metrics.ts';
import type { Signals } from '../shared/signals.ts';
import type { App } from '../http/server.ts';
import type { KeyService } from '../auth/service.ts';
import type { MeterService } from '../meters/service.ts';
import type { QuotasConfigInput } from './config.ts';
import { quotaService, type QuotaService } from './service.ts';
import { quotaMetrics } from './metrics.ts';
import { registerQuotaRoutes } from './routes.ts';
import { quotaGate, type ClosableGate, type CostQuote } from './gate.ts';

/** The quotas domain as the rest of Tollgate sees it. */
export interface Quotas {
  service: QuotaService;
  /** What the gateway enforces through (installed with `tg.gateway.setQuotaGate`); closed with the app. */
  gate: ClosableGate;
}

/** The one call from src/app.ts: service, routes, the gateway gate, the reservation sweep. */
export function wireQuotas(d: { server: App; db: Db; keys: KeyService; clock: Clock; logger: Logger; signals: Signals; metrics: Registry; meters: MeterService; tz: string; config?: Partial<QuotasConfigInput>; onClose: (fn: () => void | Promise<unknown>) => void; price?: CostQuote }): Quotas {
  let service: QuotaService;
  const metrics = quotaMetrics(d.metrics, () => service.store.openReservations());
  service = quotaService(d.db, d.clock, d.logger, { meters: d.meters, signals: d.signals, metrics, config: d.config });
  registerQuotaRoutes(d.server, { keys: d.keys, quotas: service, defaultTz: d.tz });
  const gate = quotaGate({ quotas: service, clock: d.clock, logger: d.logger, failOpen: service.config.fail_open, ttlMs: service.config.snapshot_ttl_ms, price: d.price });
  const timer = setInterval(() => service.sweep().catch((err) => d.logger.warn({ err }, 'quota reservation sweep failed')), service.config.sweep_interval_ms);
  timer.unref();
  d.onClose(() => {
    clearInterval(timer);
    gate.close();
    return service.slices.close();
  });
  const q = { service, gate };
  return q;
}
