import type { Db } from '../shared/db/index.ts';
import type { Clock } from '../shared/clock.ts';
import type { Logger } from '../shared/log.ts';
import { prom, type Registry } from '../shared/metrics.ts';
import type { App } from '../http/server.ts';
import type { KeyService } from '../auth/service.ts';
import type { EventStore } from '../events/store.ts';
import type { IngestHooks } from '../events/types.ts';
import type { PricingConfig } from './config.ts';
import { createPricingService, type PricingService } from './service.ts';
import { registerPricingRoutes } from './routes.ts';

export type { PricingService } from './service.ts';
export type { PricingEngine, PriceRequest, PriceOutcome } from './engine.ts';

const MAX_UNPRICED_LABELS = 1000;

/**
 * Composition-root block of the pricing domain: prices every llm.usage row before it is stored
 * (first enrich hook), counts unpriced events, serves /v1/prices*, and re-reads API overrides
 * every refresh_seconds so several processes on one database agree.
 */
export async function wirePricing(d: {
  server: App;
  db: Db;
  hooks: IngestHooks;
  keys: KeyService;
  eventStore: EventStore;
  metrics: Registry;
  clock: Clock;
  logger: Logger;
  config: PricingConfig;
}): Promise<PricingService> {
  const pricing = await createPricingService({ db: d.db, config: d.config, logger: d.logger, eventStore: d.eventStore, hooks: d.hooks });
  d.hooks.enrich.unshift((rows) => pricing.engine.priceRows(rows));
  const unpriced = new prom.Counter({
    name: 'tollgate_unpriced_events_total',
    help: 'llm.usage events stored without a price (unknown model and no provider-reported cost)',
    labelNames: ['provider', 'model'],
    registers: [d.metrics],
  });
  // Model names come from clients: cap the label sets so a flood of made-up names cannot blow up /metrics.
  const seen = new Set<string>();
  d.hooks.afterCommit.push({ name: 'pricing', run: (rows) => {
    for (const r of rows) {
      if (!r.unpriced) continue;
      const provider = (r.provider ?? '').slice(0, 128);
      let model = (r.model ?? '').slice(0, 256);
      const key = provider + '\u0000' + model;
      if (!seen.has(key)) {
        if (seen.size >= MAX_UNPRICED_LABELS) model = '(other)';
        else seen.add(key);
      }
      unpriced.inc({ provider, model });
    }
  } });
  registerPricingRoutes(d.server, { keys: d.keys, pricing, clock: d.clock });
  if (d.config.refresh_seconds > 0) {
    const timer = setInterval(() => pricing.reload().catch((err) => d.logger.warn({ err }, 'could not refresh price overrides')), d.config.refresh_seconds * 1000);
    timer.unref();
    d.server.addHook('onClose', async () => clearInterval(timer));
  }
  return pricing;
}
