import { performance } from 'node:perf_hooks';
import type { Clock } from '../shared/clock.ts';
import { isPromise } from '../shared/awaitable.ts';
import type { Logger } from '../shared/log.ts';
import type { KeyService } from '../auth/service.ts';
import type { SecretService } from '../secrets/service.ts';
import type { ResolvedProvider } from './config.ts';
import type { Recorder } from './recorder.ts';
import type { GatewayMetrics } from './metrics.ts';
import type { PolicyService } from './policy.ts';
import type { QuotaGate } from './quota.ts';
import { createAdmission } from './admission.ts';
import { createCredentials } from './credentials.ts';
import { createAttempts } from './attempts.ts';
import { createRecord } from './record.ts';
import { CLIENT, ClientSide, onResponseClose, type CallSpec, type GatewayReply, type GatewayRequest, type TrackedResponse } from './call.ts';

export { EVENT_SOURCE } from './record.ts';
export { bodyShape, readBody } from './admission.ts';
export type { CallSpec, GatewayReply, GatewayRequest } from './call.ts';

export interface ProxyDeps {
  providers: Map<string, ResolvedProvider>;
  timeoutMs: number;
  cacheTtlMs: number;
  keys: KeyService;
  secrets: SecretService;
  recorder: Recorder;
  metrics: GatewayMetrics;
  policies: PolicyService;
  quota: () => QuotaGate;
  clock: Clock;
  logger: Logger;
}

/**
 * The request path, stage by stage: admission (key, attribution, body, policy, quota) →
 * credentials → attempts (signing, fallbacks) → relay (streams) → record (the call's end). This
 * function only sequences them. Answers from in-memory caches come back as values, not promises:
 * with no await before it, the upstream request leaves in the same turn as the request's last
 * byte arrived.
 */
export function createProxy(d: ProxyDeps) {
  const admission = createAdmission(d);
  const credentials = createCredentials({ secrets: d.secrets, clock: d.clock, ttlMs: d.cacheTtlMs });
  const record = createRecord(d);
  const attempts = createAttempts({ providers: d.providers, timeoutMs: d.timeoutMs, credentials, metrics: d.metrics, record });

  async function handle(req: GatewayRequest, reply: GatewayReply, spec: CallSpec): Promise<void> {
    const t0 = performance.now();
    const at = d.clock.now();
    const authn = admission.authenticate(req, spec);
    const call = admission.open(req, spec, isPromise(authn) ? await authn : authn, t0, at);
    const pol = admission.policy(call);
    admission.checkPolicy(call, isPromise(pol) ? await pol : pol);
    const reservation = admission.reserve(call);
    if (reservation) admission.admit(call, isPromise(reservation) ? await reservation : reservation);

    const client = new ClientSide();
    const res = reply.raw as TrackedResponse;
    res[CLIENT] = client;
    res.on('close', onResponseClose);
    try {
      await attempts.run(call, req, reply, client);
    } finally {
      res.off('close', onResponseClose);
      // Whatever ended the call without an answer to record (an error thrown before or between
      // attempts) still releases its lease; record.end() is idempotent per call.
      if (!call.ended) record.abandon(call);
    }
  }

  return { handle, close: () => attempts.close() };
}
export type Proxy = ReturnType<typeof createProxy>;
