import { performance } from 'node:perf_hooks';
import { Agent } from 'undici';
import { ApiError } from '../shared/errors.ts';
import { isPromise, type Awaitable } from '../shared/awaitable.ts';
import type { ResolvedProvider } from './config.ts';
import type { GatewayMetrics } from './metrics.ts';
import type { UpstreamRequest } from './providers/types.ts';
import { asksForUsage } from './providers/openai/index.ts';
import type { Credentials } from './credentials.ts';
import type { RecordStage } from './record.ts';
import { StreamRelay } from './relay.ts';
import { UpstreamCall } from './upstream.ts';
import type { Usage } from './providers/usage.ts';
import { errorText, newTimeout, responseHeaders, Timeout, type Call, type ClientSide, type GatewayReply, type GatewayRequest, type TrackedResponse } from './call.ts';

const RETRYABLE = (status: number) => status === 429 || status >= 500;

export interface AttemptDeps {
  providers: Map<string, ResolvedProvider>;
  timeoutMs: number;
  credentials: Credentials;
  metrics: GatewayMetrics;
  record: RecordStage;
}

/** What one attempts stage holds (made once per `createAttempts`, never per request). */
interface Stage {
  d: AttemptDeps;
  /** One keep-alive pool per upstream origin, made on first use. */
  agent: Agent;
}

/**
 * The attempts stage: the route's targets in order, each request built by its provider family
 * (signed when it signs), sent within its timeout; the next target on 429, 5xx, a timeout or a
 * connection error. The answer goes to the client whole (non-streaming) or through the relay.
 */
export function createAttempts(d: AttemptDeps) {
  const stage: Stage = { d, agent: new Agent({ connections: 256, keepAliveTimeout: 30_000 }) };
  return {
    /** Runs the call's attempts until one answers (or the last fails); the call has ended (record) when this settles. */
    run: (call: Call, req: GatewayRequest, reply: GatewayReply, client: ClientSide): Promise<void> => run(stage, call, req, reply, client),
    async close() {
      await stage.agent.close().catch(() => {});
    },
  };
}

/**
 * Starts one attempt; its head (or its failure) settles `attempt.head`, within `timeoutMs`. An
 * unsigned request is on its way when this returns (no promise: the caller's one await is for
 * the head); a signed one (Bedrock) is signed first.
 */
function send(stage: Stage, up: UpstreamRequest, provider: ResolvedProvider, timeoutMs: number, client: ClientSide): Awaitable<UpstreamCall> {
  const attempt = new UpstreamCall();
  client.attempt = attempt;
  attempt.deadline(timeoutMs, newTimeout);
  if (!provider.family.sign) {
    stage.agent.dispatch({ origin: up.origin, path: up.path, method: 'POST', headers: up.headers, body: up.body }, attempt);
    return attempt;
  }
  return sendSigned(stage, up, provider, attempt);
}

async function sendSigned(stage: Stage, up: UpstreamRequest, provider: ResolvedProvider, attempt: UpstreamCall): Promise<UpstreamCall> {
  let headers: Record<string, string>;
  try {
    const secret = stage.d.credentials.secretFor(provider);
    headers = await provider.family.sign!(up, provider, isPromise(secret) ? await secret : secret);
  } catch (e) {
    attempt.abort(e instanceof Error ? e : new Error(String(e)));
    if (e instanceof ApiError) throw e;
    return attempt;
  }
  // The client may have left while the request was being signed.
  if (!attempt.failed) stage.agent.dispatch({ origin: up.origin, path: up.path, method: 'POST', headers, body: up.body }, attempt);
  return attempt;
}

async function run(stage: Stage, call: Call, req: GatewayRequest, reply: GatewayReply, client: ClientSide): Promise<void> {
  const { d } = stage;
  const targets = targetsOf(call, d.providers);
  // OpenAI chat streams: ask for the usage chunk, and hide it if the client did not ask.
  const hide = call.op === 'chat' && call.stream && !asksForUsage(call.body);
  const query = req.url.includes('?') ? req.url.slice(req.url.indexOf('?') + 1) : '';
  for (let i = 0; i < targets.length; i++) {
    const provider = targets[i]!;
    const last = i === targets.length - 1;
    const signed = provider.family.credential === 'aws';
    const key = call.passthrough || signed ? undefined : d.credentials.keyFor(provider);
    const up = provider.family.build({
      provider, api: call.route.api, op: call.op, subpath: call.subpath, query, body: call.body, raw: call.raw,
      addUsageOption: hide, stream: call.stream, model: call.model, clientHeaders: req.headers,
      passthrough: signed ? undefined : call.passthrough,
      apiKey: isPromise(key) ? await key : key,
    });
    const tSend = performance.now();
    const preOverhead = tSend - call.t0;
    const timeoutMs = provider.timeout_ms ?? call.route.timeout_ms ?? d.timeoutMs;
    const sent = send(stage, up, provider, timeoutMs, client);
    const upCall = isPromise(sent) ? await sent : sent;
    await upCall.head;
    if (upCall.failed) {
      if (headFailed(d, call, reply, client, provider, upCall, timeoutMs, i + 1, last)) continue;
      return;
    }
    if (!last && RETRYABLE(upCall.status)) {
      const text = (await upCall.body().catch(() => undefined))?.toString('utf8') ?? '';
      d.record.attemptFailed(call, provider, i + 1, text.slice(0, 500), upCall.status);
      continue;
    }
    if (call.stream && upCall.status < 300) {
      reply.hijack();
      const res = reply.raw as TrackedResponse;
      await new StreamRelay({ call, upstream: upCall, res, up, provider, hide, client, tSend, preOverhead, attempt: i + 1, metrics: d.metrics, record: d.record }).done;
      return;
    }
    let buf = upCall.bodyIfComplete();
    if (!buf) {
      try {
        buf = await upCall.body();
      } catch (e) {
        return bodyFailed(d.record, call, reply, client, provider, e, i + 1, last);
      }
    }
    answer(d, call, reply, up, provider, upCall, buf, tSend, preOverhead, i + 1);
    return;
  }
}

/**
 * The attempt got no head (timeout, connection error, the client left): true when the next target
 * is tried; otherwise the call ends here — hijacked when the client left (499), else thrown (504/502).
 */
function headFailed(d: AttemptDeps, call: Call, reply: GatewayReply, client: ClientSide, provider: ResolvedProvider, upCall: UpstreamCall, timeoutMs: number, attempt: number, last: boolean): boolean {
  const timedOut = upCall.reason instanceof Timeout;
  const status = client.gone ? 499 : timedOut ? 504 : 502;
  const error = timedOut ? `no response within ${timeoutMs} ms` : errorText(upCall.error);
  if (!last && status !== 499) {
    d.record.attemptFailed(call, provider, attempt, error, status);
    return true;
  }
  failed(d.record, call, provider, attempt, error, status, last);
  if (status === 499) {
    reply.hijack();
    return false;
  }
  throw new ApiError({ type: 'upstream_error', code: timedOut ? 'UPSTREAM_TIMEOUT' : 'UPSTREAM_UNREACHABLE', message: `the upstream ${provider.name} ${timedOut ? `did not answer within the timeout` : 'could not be reached'}`, status: timedOut ? 504 : 502 });
}

/** The body broke off after the head: nothing of it reached the client yet. Hijacked when the client left (499), else thrown (502). */
function bodyFailed(record: RecordStage, call: Call, reply: GatewayReply, client: ClientSide, provider: ResolvedProvider, e: unknown, attempt: number, last: boolean): void {
  const status = client.gone ? 499 : 502;
  failed(record, call, provider, attempt, `upstream response failed: ${errorText(e)}`, status, last);
  if (status === 499) return void reply.hijack();
  throw new ApiError({ type: 'upstream_error', code: 'UPSTREAM_UNREACHABLE', message: `the upstream ${provider.name} failed while sending its response`, status: 502 });
}

/** The targets that serve this call's operation. */
function targetsOf(call: Call, providers: Map<string, ResolvedProvider>): ResolvedProvider[] {
  const targets = call.route.targets.map((t) => providers.get(t)!).filter((p) => p.family.operations.includes(call.op));
  if (!targets.length) throw new ApiError({ type: 'invalid_request', code: 'UNSUPPORTED_OPERATION', message: `route "${call.route.name}" has no upstream that serves ${call.op}` });
  return targets;
}

/** The call ends with a failed attempt (the last, or the client left): its event keeps the attempt's id suffix. */
function failed(record: RecordStage, call: Call, provider: ResolvedProvider, attempt: number, error: string, status: number, last: boolean) {
  record.end(call, provider, { status, fields: { latency_ms: Math.round(performance.now() - call.t0), attempt, error } }, last ? '' : `_a${attempt}`);
}

/** A non-streaming answer: sent to the client as it came, then read for usage and recorded. */
function answer(d: Pick<AttemptDeps, 'metrics' | 'record'>, call: Call, reply: GatewayReply, up: UpstreamRequest, provider: ResolvedProvider, upCall: UpstreamCall, buf: Buffer, tSend: number, preOverhead: number, attempt: number) {
  const res = reply.raw;
  const tUp = performance.now();
  reply.hijack();
  res.writeHead(upCall.status, responseHeaders(upCall.headers, call.extraHeaders, buf.length));
  res.end(buf);
  d.metrics.overhead(call.route.name, (preOverhead + (performance.now() - tUp)) / 1000);
  d.metrics.upstream(provider.provider_name, (tUp - tSend) / 1000);
  let usage: Usage | undefined;
  const fields: Record<string, unknown> = { latency_ms: Math.round(tUp - call.t0), attempt };
  if (upCall.status < 300) {
    let j: unknown;
    try {
      j = JSON.parse(buf.toString('utf8'));
    } catch {
      /* not JSON */
    }
    const o = up.spec.usageFromResponse(up.op, j);
    usage = o.usage ?? provider.family.usageFromHeaders?.(upCall.headers);
    if (o.model) fields.model = o.model;
  } else fields.error = buf.toString('utf8').slice(0, 500);
  if (fields.model && fields.model !== call.model) fields.requested_model = call.model;
  d.record.end(call, provider, { status: upCall.status, usage, fields });
}
