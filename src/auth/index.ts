import type { Db } from '../shared/db/index.ts';
import type { Clock } from '../shared/clock.ts';
import type { Logger } from '../shared/log.ts';
import type { App } from '../http/server.ts';
import { keyStore } from './store.ts';
import { keyService, type KeyService } from './service.ts';
import { registerKeyRoutes } from './routes.ts';

export type { KeyService } from './service.ts';

/** The auth domain's one wiring call from src/app.ts: keys, /v1/keys, batched `last_used_at`. */
export function wireAuth(d: { server: App; db: Db; clock: Clock; logger: Logger }): KeyService {
  const keys = keyService(keyStore(d.db), d.clock);
  registerKeyRoutes(d.server, { keys });
  const flush = setInterval(() => keys.flushUsage().catch((err) => d.logger.warn({ err }, 'could not record key usage')), 30_000);
  flush.unref();
  d.server.addHook('onClose', async () => {
    clearInterval(flush);
    await keys.flushUsage().catch((err) => d.logger.warn({ err }, 'could not record key usage'));
  });
  return keys;
}
