import type { Db } from '../shared/db/index.ts';
import type { Clock } from '../shared/clock.ts';
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
export function wireEvents(d: { server: App; db: Db; keys: KeyService; clock: Clock; metrics: Registry; maxBatch: number }): Events {
  const hooks: IngestHooks = { enrich: [], withInsert: [], afterInsert: [], afterStore: [], afterCostChange: [] };
  const store = eventStore(d.db);
  const service = countIngest(eventService(d.db, store, hooks, d.clock, { maxBatch: d.maxBatch }), d.metrics);
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
