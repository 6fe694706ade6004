import type { App } from '../http/server.ts';
import type { Db } from '../shared/db/index.ts';
import type { Clock } from '../shared/clock.ts';
import type { KeyService } from '../auth/service.ts';
import type { IngestHooks } from '../events/types.ts';
import type { EventStore } from '../events/store.ts';
import { rollupService, type RollupService } from './service.ts';
import { registerUsageRoutes } from './routes.ts';
import { registerExportRoutes } from './export.ts';
import { registerSummaryRoutes } from '../analysis/routes.ts';

/** The rollups domain's one wiring call from src/app.ts. */
export function wireRollups(d: { server: App; db: Db; hooks: IngestHooks; keys: KeyService; clock: Clock; tz: string; events: EventStore; onClose?: (fn: () => void) => void }): RollupService {
  const rollups = rollupService(d.db, d.events);
  // Fold pending batches in the background too, so queries rarely find much left to do.
  const timer = setInterval(() => void rollups.drain().catch(() => {}), 1000);
  timer.unref();
  d.onClose?.(() => clearInterval(timer));
  d.hooks.afterInsert.push(rollups.hooks.afterInsert);
  d.hooks.afterCostChange.push(rollups.hooks.afterCostChange);
  registerUsageRoutes(d.server, { keys: d.keys, rollups, defaultTz: d.tz });
  registerExportRoutes(d.server, { keys: d.keys, rollups, db: d.db, events: d.events, defaultTz: d.tz });
  registerSummaryRoutes(d.server, { keys: d.keys, rollups, clock: d.clock, defaultTz: d.tz });
  return rollups;
}
