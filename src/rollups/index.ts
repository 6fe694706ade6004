import type { App } from '../http/server.ts';
import type { Db } from '../shared/db/index.ts';
import type { Clock } from '../shared/clock.ts';
import type { KeyService } from '../auth/service.ts';
import type { IngestHooks } from '../events/types.ts';
import type { EventStore } from '../events/store.ts';
import type { Logger } from '../shared/log.ts';
import { prom, type Registry } from '../shared/metrics.ts';
import { rollupService, type RollupService } from './service.ts';
import { registerUsageRoutes } from './routes.ts';
import { registerExportRoutes } from './export.ts';

/** The rollups domain's one wiring call from src/app.ts. */
export async function wireRollups(d: {
  server: App;
  db: Db;
  hooks: IngestHooks;
  keys: KeyService;
  clock: Clock;
  tz: string;
  events: EventStore;
  metrics: Registry;
  logger: Logger;
  onClose?: (fn: () => void | Promise<unknown>) => void;
}): Promise<RollupService> {
  const rollups = rollupService(d.db, { zone: d.tz });
  const z = await rollups.init();
  if (z.refused) d.logger.warn(`rollups: no day rollups in the report zone (${z.refused}); queries in it read UTC hour buckets`);
  else if (z.rebuilt && z.zone) d.logger.info(`rollups: day and month rollups now kept in ${z.zone}${z.since ? ` (complete from ${z.since}; earlier days read UTC buckets)` : ''}`);
  // Fold pending batches in the background too, so queries rarely find much left to do.
  // A failed fold is logged (the batches stay queued and the next drain retries them), never swallowed.
  const drain = () => rollups.drain().catch((err) => d.logger.error({ err }, 'rollups: could not fold queued batches; will retry'));
  const timer = setInterval(() => void drain(), 1000);
  timer.unref();
  // A short-lived process (a CLI import, a collector run) folds what it queued before it exits.
  d.onClose?.(() => {
    clearInterval(timer);
    return drain();
  });
  // Ingest batches are queued by this domain's trigger on events (migration 0018), so a batch may be stored alone.
  d.hooks.inTransaction.push({ name: 'rollups', guardedAlone: true, run: (tx, change) => rollups.inTransaction(tx, change) });
  pendingGauge(rollups, d.metrics, d.logger);
  registerUsageRoutes(d.server, { keys: d.keys, rollups, defaultTz: d.tz });
  registerExportRoutes(d.server, { keys: d.keys, rollups, db: d.db, events: d.events, defaultTz: d.tz });
  return rollups;
}

/** tollgate_rollup_pending{unit="batches"|"events"}: what ingest queued and the drain has not folded yet, read at each scrape. */
function pendingGauge(rollups: RollupService, registry: Registry, logger: Logger): void {
  new prom.Gauge({
    name: 'tollgate_rollup_pending',
    help: 'Ingest batches (unit="batches") and llm.usage events (unit="events") queued in rollup_pending, not yet folded into the rollups',
    labelNames: ['unit'],
    registers: [registry],
    async collect() {
      try {
        const b = await rollups.pending();
        this.set({ unit: 'batches' }, b.batches);
        this.set({ unit: 'events' }, b.events);
      } catch (err) {
        // No sample rather than a made-up 0: the scrape shows the backlog is unknown.
        this.reset();
        logger.warn({ err }, 'rollups: could not read the pending backlog for /metrics');
      }
    },
  });
}
