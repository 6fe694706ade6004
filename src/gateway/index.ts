import type { Db } from '../shared/db/index.ts';
import type { Clock } from '../shared/clock.ts';
import type { Logger } from '../shared/log.ts';
import type { Registry } from '../shared/metrics.ts';
import type { App } from '../http/server.ts';
import type { KeyService } from '../auth/service.ts';
import type { EventService } from '../events/service.ts';
import type { IngestHooks } from '../events/types.ts';
import type { SecretService } from '../secrets/service.ts';
import { resolveGatewayConfig, type GatewayConfig } from './config.ts';
import { createRecorder, type Recorder } from './recorder.ts';
import { gatewayMetrics } from './metrics.ts';
import { policyService, type PolicyService } from './policy.ts';
import { allowAll, type QuotaGate } from './quota.ts';
import { createProxy, EVENT_SOURCE } from './proxy.ts';
import { registerGatewayRoutes, registerPolicyRoutes } from './routes.ts';

export interface Gateway {
  recorder: Recorder;
  policies: PolicyService;
  /** The quotas domain plugs its gate in here; the default allows every call. */
  setQuotaGate(gate: QuotaGate): void;
  /** Writes every buffered event now (tests, shutdown). */
  flush(): Promise<void>;
  close(): Promise<void>;
}

export interface GatewayDeps {
  config: GatewayConfig;
  bodyLimit: number;
  db: Db;
  server: App;
  keys: KeyService;
  events: EventService;
  hooks: IngestHooks;
  secrets: SecretService;
  metrics: Registry;
  clock: Clock;
  logger: Logger;
}

/** Builds the gateway and wires it into the server (routes, ingest hook, flush on close). */
export function wireGateway(d: GatewayDeps): Gateway {
  const g = createGateway(d);
  d.server.addHook('onClose', async () => g.close());
  return g;
}

export function createGateway(d: GatewayDeps): Gateway {
  const { providers, routes } = resolveGatewayConfig(d.config);
  const metrics = gatewayMetrics(d.metrics, d.config.max_model_labels);
  const recorder = createRecorder({
    ingest: (batch) => d.events.ingest(batch),
    intervalMs: d.config.flush_interval_ms,
    maxEvents: d.config.flush_max_events,
    logger: d.logger,
    onDrop: (n) => metrics.dropped(n),
  });
  const policies = policyService(d.db, d.clock, d.config.cache_ttl_ms);
  let gate: QuotaGate = allowAll;
  const proxy = createProxy({
    providers,
    timeoutMs: d.config.timeout_ms,
    cacheTtlMs: d.config.cache_ttl_ms,
    keys: d.keys,
    secrets: d.secrets,
    recorder,
    metrics,
    policies,
    quota: () => gate,
    clock: d.clock,
    logger: d.logger,
  });
  // Cost is known once pricing has run at ingest: count it from the rows actually stored.
  // Summed per provider and model first: one counter update per label set and batch, not per row.
  d.hooks.afterCommit.push({ name: 'gateway', run: (rows) => {
    const sums = new Map<string, { provider: string; model: string | undefined; usd: number }>();
    for (const r of rows) {
      if (r.source !== EVENT_SOURCE || r.cost === null || !r.provider) continue;
      const key = r.provider + '\u0000' + (r.model ?? '');
      const s = sums.get(key);
      if (s) s.usd += Number(r.cost);
      else sums.set(key, { provider: r.provider, model: r.model ?? undefined, usd: Number(r.cost) });
    }
    for (const s of sums.values()) metrics.cost(s.provider, s.model, s.usd);
  } });
  if (d.config.enabled) registerGatewayRoutes(d.server, { proxy, routes, bodyLimit: d.bodyLimit });
  registerPolicyRoutes(d.server, { keys: d.keys, policies, routes });
  return {
    recorder,
    policies,
    setQuotaGate(g) {
      gate = g;
    },
    flush: () => recorder.flush(),
    async close() {
      await recorder.close();
      await proxy.close();
    },
  };
}
