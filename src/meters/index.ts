import type { Db } from '../shared/db/index.ts';
import type { Clock } from '../shared/clock.ts';
import type { Logger } from '../shared/log.ts';
import type { App } from '../http/server.ts';
import type { KeyService } from '../auth/service.ts';
import type { IngestHooks } from '../events/types.ts';
import type { RollupService } from '../rollups/service.ts';
import type { MetersConfigSection } from './config.ts';
import { meterService, type MeterService } from './service.ts';
import { registerMeterRoutes } from './routes.ts';

/** Composition-root block of the meters domain: service, ingest hook, routes. Needs the rollups (wire them first). */
export async function wireMeters(d: {
  server: App;
  db: Db;
  hooks: IngestHooks;
  keys: KeyService;
  clock: Clock;
  logger: Logger;
  tz: string;
  config: MetersConfigSection;
  /** The built-in llm_* meters are answered by the usage rollups. */
  rollups: RollupService;
}): Promise<MeterService> {
  const meters = meterService(d.db, d.clock, d.logger, { definitions: d.config.definitions, max_session_hours: d.config.max_session_hours }, { rollups: d.rollups });
  await meters.init(d.config.definitions);
  // The trigger of migration 0018 refuses a batch stored alone that needs this hook (media marks, event meters).
  d.hooks.inTransaction.push({ name: 'meters', guardedAlone: true, run: (tx, change) => meters.ingest.inTransaction(tx, change) });
  registerMeterRoutes(d.server, { keys: d.keys, meters, clock: d.clock, defaultTz: d.tz });
  return meters;
}
