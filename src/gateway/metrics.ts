import { prom, type Registry } from '../shared/metrics.ts';

/**
 * Gateway metrics. Labels are bounded: route and provider come from config, status is a class,
 * and model values are capped (after `maxModels` distinct models the rest count as "other").
 * No subject, team or key ever becomes a label.
 */
export function gatewayMetrics(registry: Registry, maxModels: number) {
  const models = new Set<string>();
  const model = (m: string | undefined) => {
    const v = m || 'unknown';
    if (models.has(v)) return v;
    if (models.size < maxModels) {
      models.add(v);
      return v;
    }
    return 'other';
  };
  const requests = new prom.Counter({
    name: 'tollgate_gateway_requests_total',
    help: 'Gateway upstream calls by route, provider that answered, model and status class',
    labelNames: ['route', 'provider', 'model', 'status'],
    registers: [registry],
  });
  const tokens = new prom.Counter({
    name: 'tollgate_gateway_tokens_total',
    help: 'Tokens recorded by the gateway, by provider, model and token class',
    labelNames: ['provider', 'model', 'kind'],
    registers: [registry],
  });
  const cost = new prom.Counter({
    name: 'tollgate_gateway_cost_usd_total',
    help: 'Cost (USD) of gateway calls as priced at ingest, by provider and model (approximate: a float view of exact decimals)',
    labelNames: ['provider', 'model'],
    registers: [registry],
  });
  const upstream = new prom.Histogram({
    name: 'tollgate_gateway_upstream_latency_seconds',
    help: 'Upstream time from sending the request to the last byte of the response',
    labelNames: ['provider'],
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120],
    registers: [registry],
  });
  const ttft = new prom.Histogram({
    name: 'tollgate_gateway_time_to_first_token_seconds',
    help: 'Streaming calls: time from the request to the first byte of the upstream body',
    labelNames: ['provider'],
    buckets: [0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30],
    registers: [registry],
  });
  const overhead = new prom.Histogram({
    name: 'tollgate_gateway_overhead_seconds',
    help: 'Time the gateway adds: request arrival to upstream dispatch, plus upstream headers to client headers',
    labelNames: ['route'],
    buckets: [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.1],
    registers: [registry],
  });
  const dropped = new prom.Counter({
    name: 'tollgate_gateway_events_dropped_total',
    help: 'Gateway events not stored: refused by the store or by ingest validation, held past the buffer while the store was unreachable, or still buffered when shutdown could not reach the store',
    registers: [registry],
  });
  const statusClass = (s: number | string) => (typeof s === 'number' ? (s === 499 ? 'client_closed' : `${Math.floor(s / 100)}xx`) : String(s));
  return {
    request(route: string, provider: string, m: string | undefined, status: number) {
      requests.inc({ route, provider, model: model(m), status: statusClass(status) });
    },
    tokens(provider: string, m: string | undefined, u: { input_tokens: number; output_tokens: number; cache_read_tokens: number; cache_write_tokens: number }) {
      const mm = model(m);
      if (u.input_tokens) tokens.inc({ provider, model: mm, kind: 'input' }, u.input_tokens);
      if (u.output_tokens) tokens.inc({ provider, model: mm, kind: 'output' }, u.output_tokens);
      if (u.cache_read_tokens) tokens.inc({ provider, model: mm, kind: 'cache_read' }, u.cache_read_tokens);
      if (u.cache_write_tokens) tokens.inc({ provider, model: mm, kind: 'cache_write' }, u.cache_write_tokens);
    },
    cost(provider: string, m: string | undefined, usd: number) {
      if (usd > 0) cost.inc({ provider, model: model(m) }, usd);
    },
    upstream(provider: string, seconds: number) {
      upstream.observe({ provider }, seconds);
    },
    ttft(provider: string, seconds: number) {
      ttft.observe({ provider }, seconds);
    },
    overhead(route: string, seconds: number) {
      overhead.observe({ route }, seconds);
    },
    dropped(n: number) {
      dropped.inc(n);
    },
  };
}
export type GatewayMetrics = ReturnType<typeof gatewayMetrics>;
