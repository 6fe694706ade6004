import type { App } from '../http/server.ts';
import type { KeyService } from '../auth/service.ts';
import type { IngestHooks } from '../events/types.ts';
import type { Signals } from '../shared/signals.ts';
import type { Clock } from '../shared/clock.ts';
import type { Logger } from '../shared/log.ts';
import { registerSessionRoutes } from './session.ts';
import { registerStatic } from './static.ts';
import { usageSignalOf, wireStream } from './stream.ts';

/** The dashboard as the rest of Tollgate sees it. */
export interface Dashboard {
  /** The `/v1/stream` fan-out (server-sent events). */
  stream: ReturnType<typeof wireStream>;
}

/**
 * The dashboard's one wiring call from src/app.ts: the built app at `/`, the session routes, the
 * live stream, and the `usage.ingested` signal published once events are committed.
 */
export async function wireDashboard(d: {
  server: App;
  keys: KeyService;
  hooks: IngestHooks;
  signals: Signals;
  clock: Clock;
  logger: Logger;
  tz: string;
  databaseUrl?: string;
  dbKind: 'pglite' | 'postgres';
  onClose: (fn: () => Promise<void> | void) => void;
  webDist?: string;
}): Promise<Dashboard> {
  // afterCommit runs once the rows are committed (src/events/types.ts): the signal is never early.
  d.hooks.afterCommit.push({ name: 'dashboard', run: (rows) => {
    if (rows.length) d.signals.publish(usageSignalOf(rows, d.clock.now()));
  } });
  registerSessionRoutes(d.server, { keys: d.keys, tz: d.tz });
  const stream = wireStream({ server: d.server, keys: d.keys, signals: d.signals, logger: d.logger, databaseUrl: d.databaseUrl, dbKind: d.dbKind });
  d.onClose(() => stream.close());
  await registerStatic(d.server, d.webDist);
  return { stream };
}
