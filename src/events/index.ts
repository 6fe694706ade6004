import type { Db } from '../shared/db/index.ts';
import type { Clock } from '../shared/clock.ts';
import type { Logger } from '../shared/log.ts';
import { prom, type Registry } from '../shared/metrics.ts';
import type { App } from '../http/server.ts';
import type { KeyService } from '../auth/service.ts';
import { eventStore, type EventStore } from './store.ts';
import { eventService, type EventService } from './service.ts';
import { registerEventRoutes } from './routes.ts';
import type { IngestHooks } from './types.ts';

/** The events domain as the rest of Tollgate sees it: ingest, the store's reads, the hooks other domains plug in. */
export interface Events extends EventService {
  store: EventStore;
  hooks: IngestHooks;
}

/** The events domain's one wiring call from src/app.ts: the ingest service (counted), /v1/events*. */
export function wireEvents(d: { server: App; db: Db; keys: KeyService; clock: Clock; metrics: Registry; logger: Logger; maxBatch: number }): Events {
  const hooks: IngestHooks = { enrich: [], inTransaction: [], afterCommit: [] };
  const store = eventStore(d.db);
  const onHookFailure = hookFailures(d.metrics, d.logger);
  const service = countIngest(eventService(d.db, store, hooks, d.clock, { maxBatch: d.maxBatch, onHookFailure }), d.metrics);
  registerEventRoutes(d.server, { keys: d.keys, events: service, store });
  return { ...service, store, hooks };
}

function countIngest(svc: EventService, registry: Registry): EventService {
  const counter = new prom.Counter({
    name: 'tollgate_events_total',
    help: 'Events received by POST /v1/events, by outcome',
    labelNames: ['outcome'],
    registers: [registry],
  });
  return {
    async ingest(raw, ctx) {
      try {
        const r = await svc.ingest(raw, ctx);
        counter.inc({ outcome: 'accepted' }, r.accepted);
        counter.inc({ outcome: 'duplicate' }, r.duplicates);
        counter.inc({ outcome: 'rejected' }, r.rejected.length);
        return r;
      } catch (e) {
        const rejected = (e as { extra?: { rejected?: unknown[] } }).extra?.rejected;
        if (rejected) counter.inc({ outcome: 'rejected' }, rejected.length);
        throw e;
      }
    },
  };
}

/** An afterCommit hook failed: the batch is committed, so the failure is logged and counted, not answered. */
function hookFailures(registry: Registry, logger: Logger): (hook: string, err: unknown) => void {
  const failures = new prom.Counter({
    name: 'tollgate_ingest_hook_failures_total',
    help: 'afterCommit ingest hooks that threw or rejected, by hook (the batch was stored all the same)',
    labelNames: ['hook'],
    registers: [registry],
  });
  return (hook, err) => {
    failures.inc({ hook });
    logger.error({ err, hook }, `ingest: the ${hook} afterCommit hook failed (the batch is stored)`);
  };
}
