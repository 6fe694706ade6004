import { randomUUID } from 'node:crypto';
import { EventEmitter } from 'node:events';
import { performance } from 'node:perf_hooks';
import type { IncomingHttpHeaders, ServerResponse } from 'node:http';
import { Pool, type Dispatcher } from 'undici';
import { z } from 'zod';
import { ApiError } from '../shared/errors.ts';
import type { Clock } from '../shared/clock.ts';
import type { Logger } from '../shared/log.ts';
import type { KeyService } from '../auth/service.ts';
import { hasScope, type Principal } from '../auth/keys.ts';
import { bearerToken } from '../http/auth.ts';
import type { SecretService } from '../secrets/service.ts';
import { parseAwsCredentials, signAws, type AwsCredentials } from '../secrets/aws.ts';
import type { ResolvedProvider, ResolvedRoute } from './config.ts';
import type { Recorder } from './recorder.ts';
import type { GatewayMetrics } from './metrics.ts';
import type { PolicyService } from './policy.ts';
import { allows } from './policy.ts';
import type { QuotaDecision, QuotaGate } from './quota.ts';
import { buildUpstream, type UpstreamRequest } from './targets.ts';
import { SseSplitter } from './sse.ts';
import { asksForUsage, hideUsage } from './providers/openai/index.ts';
import { AwsEventStreamSplitter, chunkToSse, usageFromHeaders } from './providers/bedrock/index.ts';
import { newAcc, obj, type Operation, type StreamAcc, type Usage } from './usage.ts';
import { estimateInput, estimateText } from './estimate.ts';

export const EVENT_SOURCE = 'tollgate-gateway';

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

/** What the handler reads of a request: Fastify's request, or the direct route's plain one. */
export interface GatewayRequest {
  headers: IncomingHttpHeaders;
  url: string;
  body: unknown;
}
/** The response side: Fastify's reply (hijacked once the upstream answers), or the direct route's. */
export interface GatewayReply {
  raw: ServerResponse;
  hijack(): void;
}

export interface CallSpec {
  route: ResolvedRoute;
  op: Operation;
  /** Path under the API root passed to the upstream ("/chat/completions", "/v1/messages", "converse"). */
  subpath: string;
  /** Bedrock native routes: the model id from the path. */
  pathModel?: string;
  /** Bedrock native routes: streaming is chosen by the path. */
  pathStream?: boolean;
}

const bodyShape = z.object({ model: z.string({ error: 'is required and must be a string' }).min(1, 'must not be empty').max(256), stream: z.boolean({ error: 'must be a boolean' }).optional() }).loose();
const header = (req: GatewayRequest, name: string): string | undefined => {
  const v = req.headers[name];
  return typeof v === 'string' && v !== '' ? v : undefined;
};
const RETRYABLE = (status: number) => status === 429 || status >= 500;
const HOP = new Set(['connection', 'keep-alive', 'transfer-encoding', 'content-length', 'content-encoding', 'proxy-connection', 'upgrade', 'trailer']);

function responseHeaders(h: Dispatcher.ResponseData['headers'], extra: Record<string, string>, contentLength?: number): Record<string, string | string[]> {
  const out: Record<string, string | string[]> = {};
  for (const k in h) {
    const v = h[k];
    if (v !== undefined && !HOP.has(k)) out[k] = v;
  }
  for (const k in extra) out[k] = extra[k]!;
  if (contentLength !== undefined) out['content-length'] = String(contentLength);
  return out;
}

class Timeout extends Error {}

/**
 * A one-shot abort signal in the EventEmitter form undici accepts. Allocation sampling showed Node's
 * AbortSignals (two per request) surviving young-generation collections and being promoted, which
 * fed the old generation and its mark-compact pauses; these plain emitters die young.
 */
class Abort extends EventEmitter {
  aborted = false;
  reason: unknown;
  /** The attempt in flight, aborted with this one (client gone → upstream call aborted). */
  attempt: Abort | undefined;
  abort(reason?: unknown) {
    if (this.aborted) return;
    this.aborted = true;
    this.reason = reason;
    this.attempt?.abort(reason);
    this.emit('abort');
  }
}

// Listeners and timer callbacks are module-level functions (state travels as `this` or as timer
// arguments): the hot path creates no closures per request.
const GONE = Symbol('tollgate.clientGone');
function onResponseClose(this: ServerResponse & { [GONE]?: Abort }) {
  if (!this.writableFinished) this[GONE]?.abort();
}
function onAttemptTimeout(attempt: Abort) {
  attempt.abort(new Timeout());
}
function whenWritable(res: ServerResponse): Promise<void> {
  return new Promise<void>((ok) => {
    const f = () => {
      res.off('drain', f);
      res.off('close', f);
      ok();
    };
    res.on('drain', f);
    res.on('close', f);
  });
}
/** Writes and waits for the socket to drain when it is full (backpressure from a slow client). */
async function writeOut(res: ServerResponse, chunk: string | Uint8Array): Promise<void> {
  if (!res.write(chunk)) await whenWritable(res);
}
/** Headers go out with the first body chunk when it is already here; otherwise on the next turn. */
function flushHeadersIfIdle(res: ServerResponse) {
  if (!res.headersSent && !res.destroyed) res.flushHeaders();
}

const ALLOWED: QuotaDecision = Object.freeze({ allowed: true, level: 'ok' }) as QuotaDecision;
const NO_USAGE: Usage = Object.freeze({ input_tokens: 0, output_tokens: 0, cache_read_tokens: 0, cache_write_tokens: 0, reasoning_tokens: 0 });

/** What one call records, whichever attempt answers. */
interface CallRecord {
  op: Operation;
  routeName: string;
  model: string;
  stream: boolean;
  time: string;
  subject: string | null;
  team: string | null;
  project: string | null;
  feature: string | null;
  keyId: string;
}

/** The request body's two fields the gateway reads, validated. */
function readBody(parsed: unknown): { body: Record<string, any>; model: string; stream: boolean } {
  const r = bodyShape.safeParse(parsed);
  if (!r.success) {
    const i = r.error.issues[0]!;
    const field = i.path.join('.') || 'body';
    throw new ApiError('invalid_request', 'INVALID_FIELD', `${field === 'body' ? 'the body must be a JSON object' : `"${field}" ${i.message}`}`, field);
  }
  return { body: r.data, model: r.data.model, stream: r.data.stream === true };
}

export function createProxy(d: ProxyDeps) {
  const pools = new Map<string, Pool>();
  const pool = (origin: string) => {
    let p = pools.get(origin);
    if (!p) {
      p = new Pool(origin, { connections: 256, keepAliveTimeout: 30_000 });
      pools.set(origin, p);
    }
    return p;
  };
  const creds = new Map<string, { v: string | undefined; until: number }>();
  d.secrets.onChange(() => creds.clear());
  const secret = async (name: string): Promise<string | undefined> => {
    const now = d.clock.now().getTime();
    const hit = creds.get(name);
    if (hit && hit.until > now) return hit.v;
    const v = await d.secrets.get(name);
    creds.set(name, { v, until: now + d.cacheTtlMs });
    return v;
  };
  const apiKeyFor = async (p: ResolvedProvider): Promise<string | undefined> => (p.credential ? ((await secret(p.credential)) ?? p.api_key) : p.api_key);
  const awsFor = async (p: ResolvedProvider): Promise<AwsCredentials> => {
    const s = p.credential ? await secret(p.credential) : undefined;
    if (s) return parseAwsCredentials(s);
    if (p.access_key_id && p.secret_access_key) return { accessKeyId: p.access_key_id, secretAccessKey: p.secret_access_key, ...(p.session_token ? { sessionToken: p.session_token } : {}) };
    throw new ApiError('unavailable', 'UPSTREAM_CREDENTIAL_MISSING', `provider "${p.name}" has no AWS credentials: set gateway.providers.${p.name}.credential to a secret holding them`);
  };

  async function authenticate(req: GatewayRequest): Promise<{ principal: Principal; passthrough?: Record<string, string> }> {
    const tgKey = header(req, 'x-tollgate-key');
    const token = tgKey ?? bearerToken(req);
    if (!token) throw new ApiError('authentication_error', 'MISSING_API_KEY', 'send a Tollgate gateway key as "Authorization: Bearer <key>" or "x-api-key: <key>" (or your provider key plus "x-tollgate-key")');
    const p = await d.keys.authenticate(token);
    if (!p) throw new ApiError('authentication_error', 'INVALID_API_KEY', 'the Tollgate key is not valid or has been revoked');
    if (!hasScope(p, 'gateway')) throw new ApiError('permission_denied', 'INSUFFICIENT_SCOPE', `this key lacks the "gateway" scope (it has: ${p.scopes.join(', ')})`);
    if (!tgKey) return { principal: p };
    const passthrough: Record<string, string> = {};
    for (const h of ['authorization', 'x-api-key', 'api-key']) {
      const v = header(req, h);
      if (v) passthrough[h] = v;
    }
    if (!Object.keys(passthrough).length) throw new ApiError('authentication_error', 'MISSING_PROVIDER_KEY', 'passthrough mode (x-tollgate-key) needs your provider key in Authorization or x-api-key');
    return { principal: p, passthrough };
  }

  function attribution(req: GatewayRequest, p: Principal, route: ResolvedRoute) {
    const hs = header(req, 'x-tollgate-subject');
    const hp = header(req, 'x-tollgate-project');
    const hf = header(req, 'x-tollgate-feature');
    for (const [n, v] of [['x-tollgate-subject', hs], ['x-tollgate-project', hp], ['x-tollgate-feature', hf]] as const) {
      if (v && v.length > 512) throw new ApiError('invalid_request', 'INVALID_HEADER', `${n} must be at most 512 characters`, n);
    }
    if (p.subject && hs && hs !== p.subject) throw new ApiError('permission_denied', 'SUBJECT_BOUND', `this key is bound to a subject; x-tollgate-subject cannot re-attribute its calls`, 'x-tollgate-subject');
    if (p.project && hp && hp !== p.project) throw new ApiError('permission_denied', 'PROJECT_BOUND', `this key is bound to project "${p.project}"`, 'x-tollgate-project');
    return { subject: p.subject ?? hs ?? null, team: p.team, project: p.project ?? hp ?? null, feature: hf ?? route.feature ?? null };
  }

  async function send(up: UpstreamRequest, provider: ResolvedProvider, timeoutMs: number, clientGone: Abort) {
    const attempt = new Abort();
    clientGone.attempt = attempt;
    const timer = setTimeout(onAttemptTimeout, timeoutMs, attempt);
    try {
      let headers = up.headers;
      if (up.sigv4) {
        const url = new URL(up.origin + up.path);
        headers = await signAws({ service: 'bedrock', region: up.sigv4.region, credentials: await awsFor(provider), method: 'POST', url, headers, body: up.body });
      }
      const res = await pool(up.origin).request({ path: up.path, method: 'POST', headers, body: up.body, signal: attempt });
      clearTimeout(timer);
      return { ok: true as const, res };
    } catch (e) {
      clearTimeout(timer);
      if (e instanceof ApiError) throw e;
      const timedOut = attempt.reason instanceof Timeout;
      return { ok: false as const, timedOut, message: timedOut ? `no response within ${timeoutMs} ms` : (e as Error).message };
    }
  }

  /** One attempt's `llm.usage` event, handed to the recorder (count_tokens calls are not recorded). */
  function record(c: CallRecord, provider: ResolvedProvider, id: string, fields: Record<string, unknown>, usage: Usage | undefined, status: number) {
    if (c.op === 'count_tokens') return;
    const u = usage ?? NO_USAGE;
    const data: Record<string, unknown> = { provider: provider.provider_name, model: c.model };
    if (provider.type === 'bedrock') data.region = provider.region ?? 'us-east-1';
    if (c.team) data.team = c.team;
    if (c.project) data.project = c.project;
    data.api_key = c.keyId;
    if (c.feature) data.feature = c.feature;
    data.route = c.routeName;
    data.operation = c.op;
    data.stream = c.stream;
    Object.assign(data, u, fields);
    data.status = status;
    const ev: Record<string, unknown> = { specversion: '1.0', source: EVENT_SOURCE, type: 'llm.usage', time: c.time };
    if (c.subject) ev.subject = c.subject;
    ev.data = data;
    ev.id = id;
    d.recorder.add(ev);
    const model = String(data.model);
    d.metrics.request(c.routeName, provider.provider_name, model, status);
    d.metrics.tokens(provider.provider_name, model, u);
  }

  async function handle(req: GatewayRequest, reply: GatewayReply, call: CallSpec): Promise<void> {
    const t0 = performance.now();
    const at = d.clock.now();
    const { route, op } = call;
    const { principal, passthrough } = await authenticate(req);
    const who = attribution(req, principal, route);

    const raw = Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0);
    let parsed: unknown;
    try {
      parsed = raw.length ? JSON.parse(raw.toString('utf8')) : undefined;
    } catch (e) {
      throw new ApiError('invalid_request', 'INVALID_JSON', `the body is not valid JSON: ${(e as Error).message}`, 'body');
    }
    let body: Record<string, any>;
    let model: string;
    let stream: boolean;
    if (call.pathModel !== undefined) {
      body = obj(parsed) ?? {};
      model = call.pathModel;
      stream = !!call.pathStream;
    } else ({ body, model, stream } = readBody(parsed));

    const policy = await d.policies.get(principal.keyId);
    if (policy && !allows(policy.allowed_routes, route.name)) throw new ApiError('permission_denied', 'ROUTE_NOT_ALLOWED', `this key may not use the "${route.name}" route`, 'route');
    if (policy && !allows(policy.allowed_models, model)) throw new ApiError('permission_denied', 'MODEL_NOT_ALLOWED', `this key may not use model "${model}"`, 'model');

    let decision: QuotaDecision = ALLOWED;
    if (op !== 'count_tokens') {
      decision = await d.quota().check({ ...who, api_key: principal.keyId, route: route.name, model });
      if (!decision.allowed) {
        throw new ApiError('quota_exceeded', 'TOKEN_EXHAUSTED', 'the token quota is used up', undefined, {
          remaining_tokens: decision.remaining_tokens ?? 0,
          recommended_action: decision.recommended_action ?? 'PURCHASE_TOKENS',
        });
      }
    }
    const quotaHeaders: Record<string, string> = {};
    if (decision.level === 'warning' || decision.level === 'critical') {
      quotaHeaders['x-tollgate-quota-level'] = decision.level;
      if (decision.remaining_tokens !== undefined) quotaHeaders['x-tollgate-remaining-tokens'] = String(decision.remaining_tokens);
    }

    // OpenAI chat streams: ask for the usage chunk, and hide it if the client did not ask.
    let hide = false;
    let modified = false;
    let spliceUsageOption = false;
    if (op === 'chat' && stream && !asksForUsage(body)) {
      spliceUsageOption = !('stream_options' in body);
      body = { ...body, stream_options: { ...(obj(body.stream_options) ?? {}), include_usage: true } };
      modified = true;
      hide = true;
    }

    const eventId = `gw_${randomUUID()}`;
    const c: CallRecord = { op, routeName: route.name, model, stream, time: at.toISOString(), subject: who.subject, team: who.team, project: who.project, feature: who.feature, keyId: principal.keyId };

    const clientGone = new Abort();
    const res = reply.raw as ServerResponse & { [GONE]?: Abort };
    res[GONE] = clientGone;
    res.on('close', onResponseClose);

    const targets = route.targets.map((t) => d.providers.get(t)!).filter((p) => op !== 'count_tokens' || p.type === 'anthropic');
    if (!targets.length) throw new ApiError('invalid_request', 'UNSUPPORTED_OPERATION', `route "${route.name}" has no upstream that serves ${op}`);
    let preOverhead = 0;
    for (let i = 0; i < targets.length; i++) {
      const provider = targets[i]!;
      const last = i === targets.length - 1;
      const up = buildUpstream({
        provider, api: route.api, op, subpath: call.subpath, query: req.url.includes('?') ? req.url.slice(req.url.indexOf('?') + 1) : '',
        body, raw, modified, spliceUsageOption, stream, model, clientHeaders: req.headers,
        passthrough: provider.type === 'bedrock' ? undefined : passthrough,
        apiKey: passthrough || provider.type === 'bedrock' ? undefined : await apiKeyFor(provider),
      });
      const tSend = performance.now();
      preOverhead = tSend - t0;
      const r = await send(up, provider, provider.timeout_ms ?? route.timeout_ms ?? d.timeoutMs, clientGone);
      const attemptId = last ? eventId : `${eventId}_a${i + 1}`;
      if (!r.ok) {
        const status = clientGone.aborted ? 499 : r.timedOut ? 504 : 502;
        record(c, provider, attemptId, { latency_ms: Math.round(performance.now() - t0), attempt: i + 1, error: r.message }, undefined, status);
        if (!last && status !== 499) continue;
        res.off('close', onResponseClose);
        if (status === 499) return void reply.hijack();
        throw new ApiError('upstream_error', r.timedOut ? 'UPSTREAM_TIMEOUT' : 'UPSTREAM_UNREACHABLE', `the upstream ${provider.name} ${r.timedOut ? `did not answer within the timeout` : 'could not be reached'}`, undefined, undefined, r.timedOut ? 504 : 502);
      }
      const upRes = r.res;
      if (!last && RETRYABLE(upRes.statusCode)) {
        const text = await upRes.body.text().catch(() => '');
        record(c, provider, attemptId, { latency_ms: Math.round(performance.now() - t0), attempt: i + 1, error: text.slice(0, 500) }, undefined, upRes.statusCode);
        continue;
      }
      reply.hijack();
      try {
        if (stream && upRes.statusCode < 300) {
          await streamBack(upRes, res, up, provider, hide, quotaHeaders, clientGone, t0, tSend, preOverhead, body, c, eventId, i + 1);
        } else {
          const buf = Buffer.from(await upRes.body.arrayBuffer());
          const tUp = performance.now();
          res.writeHead(upRes.statusCode, responseHeaders(upRes.headers, quotaHeaders, buf.length));
          res.end(buf);
          d.metrics.overhead(route.name, (preOverhead + (performance.now() - tUp)) / 1000);
          d.metrics.upstream(provider.provider_name, (tUp - tSend) / 1000);
          let usage: Usage | undefined;
          const fields: Record<string, unknown> = { latency_ms: Math.round(tUp - t0), attempt: i + 1 };
          if (upRes.statusCode < 300) {
            let j: unknown;
            try {
              j = JSON.parse(buf.toString('utf8'));
            } catch {
              /* not JSON */
            }
            const o = up.spec.usageFromResponse(up.op, j);
            usage = o.usage ?? (provider.type === 'bedrock' ? usageFromHeaders(upRes.headers) : undefined);
            if (o.model) fields.model = o.model;
          } else fields.error = buf.toString('utf8').slice(0, 500);
          if (fields.model && fields.model !== model) fields.requested_model = model;
          record(c, provider, eventId, fields, usage, upRes.statusCode);
        }
      } finally {
        res.off('close', onResponseClose);
      }
      return;
    }
  }

  async function streamBack(
    upRes: Dispatcher.ResponseData,
    res: ServerResponse,
    up: UpstreamRequest,
    provider: ResolvedProvider,
    hide: boolean,
    extra: Record<string, string>,
    gone: Abort,
    t0: number,
    tSend: number,
    preOverhead: number,
    reqBody: Record<string, any>,
    c: CallRecord,
    eventId: string,
    attempt: number,
  ) {
    const acc: StreamAcc = newAcc();
    const sse = new SseSplitter();
    const aws = up.format === 'aws-eventstream' ? new AwsEventStreamSplitter() : undefined;
    const toSse = aws && up.spec.name === 'anthropic';
    const headers = responseHeaders(upRes.headers, extra);
    if (toSse) headers['content-type'] = 'text/event-stream; charset=utf-8';
    const tHeaders = performance.now();
    res.writeHead(upRes.statusCode, headers);
    // The first body chunk usually arrived with the headers: it carries them out in one write.
    setImmediate(flushHeadersIfIdle, res);
    d.metrics.overhead(c.routeName, (preOverhead + (performance.now() - tHeaders)) / 1000);
    let ttft: number | undefined;
    let failure: string | undefined;
    try {
      for await (const chunk of upRes.body as AsyncIterable<Buffer>) {
        if (ttft === undefined) {
          ttft = performance.now() - t0;
          d.metrics.ttft(provider.provider_name, ttft / 1000);
        }
        if (aws) {
          // What one upstream chunk completes goes out as one write (one syscall, one client wake-up).
          let out = '';
          for (const ev of aws.push(chunk)) {
            if (toSse) {
              const s = chunkToSse(ev);
              if (s) {
                up.spec.usageFromStreamEvent(up.op, s, acc);
                out += `event: ${s.event}\ndata: ${s.data}\n\n`;
              } else if (ev.messageType === 'exception') {
                acc.error = ev.type;
                out += `event: error\ndata: ${JSON.stringify({ type: 'error', error: { type: 'api_error', message: ev.type } })}\n\n`;
              }
            } else up.spec.usageFromStreamEvent(up.op, { event: ev.type, data: ev.payload }, acc);
          }
          if (!toSse) await writeOut(res, chunk);
          else if (out) await writeOut(res, out);
        } else if (hide) {
          // The client's bytes go out first; reading usage from them (JSON) comes after the write.
          const events = sse.push(chunk);
          let out = '';
          for (const ev of events) {
            const kept = hideUsage(ev.raw);
            if (kept !== null) out += kept;
          }
          const flowing = out === '' || res.write(out);
          for (const ev of events) up.spec.usageFromStreamEvent(up.op, ev, acc);
          if (!flowing) await whenWritable(res);
        } else {
          const flowing = res.write(chunk);
          for (const ev of sse.push(chunk)) up.spec.usageFromStreamEvent(up.op, ev, acc);
          if (!flowing) await whenWritable(res);
        }
        if (gone.aborted) break;
      }
      if (!aws) {
        let out = '';
        for (const ev of sse.end()) {
          up.spec.usageFromStreamEvent(up.op, ev, acc);
          if (hide) {
            const kept = hideUsage(ev.raw);
            if (kept !== null) out += kept;
          }
        }
        if (out) await writeOut(res, out);
      }
    } catch (e) {
      failure = gone.aborted ? 'client_disconnected' : `upstream stream failed: ${(e as Error).message}`;
    }
    if (gone.aborted) failure = 'client_disconnected';
    const tEnd = performance.now();
    d.metrics.upstream(provider.provider_name, (tEnd - tSend) / 1000);
    if (failure && !gone.aborted) res.destroy();
    else if (!gone.aborted) res.end();
    let usage = acc.usage;
    let estimated = false;
    if (!acc.usageFinal) {
      estimated = true;
      const out = await estimateText(acc.text);
      usage = usage
        ? { ...usage, output_tokens: Math.max(usage.output_tokens, out) }
        : { input_tokens: await estimateInput(reqBody), output_tokens: out, cache_read_tokens: 0, cache_write_tokens: 0, reasoning_tokens: 0 };
    }
    const status = gone.aborted ? 499 : failure || acc.error ? 502 : upRes.statusCode;
    const fields: Record<string, unknown> = { latency_ms: Math.round(tEnd - t0), ...(ttft !== undefined ? { ttft_ms: Math.round(ttft) } : {}) };
    if (estimated) fields.estimated = true;
    if (failure || acc.error) fields.error = failure ?? `upstream error event: ${acc.error}`;
    if (acc.model && acc.model !== (reqBody.model ?? acc.model)) {
      fields.model = acc.model;
      fields.requested_model = reqBody.model;
    } else if (acc.model) fields.model = acc.model;
    fields.attempt = attempt;
    record(c, provider, eventId, fields, usage, status);
  }

  return {
    handle,
    async close() {
      await Promise.all([...pools.values()].map((p) => p.close().catch(() => {})));
      pools.clear();
    },
  };
}
export type Proxy = ReturnType<typeof createProxy>;
