import { randomUUID } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import type { IncomingHttpHeaders, ServerResponse } from 'node:http';
import { Pool } from 'undici';
import { z } from 'zod';
import { ApiError } from '../shared/errors.ts';
import type { Clock } from '../shared/clock.ts';
import { andThen, isPromise, ttlCache, type Awaitable } from '../shared/awaitable.ts';
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
import { allowAll, type QuotaDecision, type QuotaGate } from './quota.ts';
import { buildUpstream, type UpstreamRequest } from './targets.ts';
import { SseSplitter, type RawSse } from './sse.ts';
import { asksForUsage, hideUsage } from './providers/openai/index.ts';
import { AwsEventStreamSplitter, chunkToSse, usageFromHeaders } from './providers/bedrock/index.ts';
import { newAcc, obj, type Operation, type StreamAcc, type Usage } from './usage.ts';
import { estimateInput, estimateText } from './estimate.ts';
import { UpstreamCall, type BodySink, type UpstreamHeaders } from './upstream.ts';

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

export const bodyShape = z.object({ model: z.string({ error: 'is required and must be a string' }).min(1, 'must not be empty').max(256), stream: z.boolean({ error: 'must be a boolean' }).optional() }).loose();
const header = (req: GatewayRequest, name: string): string | undefined => {
  const v = req.headers[name];
  return typeof v === 'string' && v !== '' ? v : undefined;
};
function checkLength(name: string, v: string | undefined) {
  if (v && v.length > 512) throw new ApiError('invalid_request', 'INVALID_HEADER', `${name} must be at most 512 characters`, name);
}
const RETRYABLE = (status: number) => status === 429 || status >= 500;
const HOP = new Set(['connection', 'keep-alive', 'transfer-encoding', 'content-length', 'content-encoding', 'proxy-connection', 'upgrade', 'trailer']);

function responseHeaders(h: UpstreamHeaders, extra: Record<string, string>, contentLength?: number): Record<string, string | string[]> {
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
class ClientGone extends Error {}

/** The client's side of one call: once it has gone, the attempt in flight is aborted with it. */
class ClientSide {
  gone = false;
  attempt: UpstreamCall | undefined;
  leave() {
    if (this.gone) return;
    this.gone = true;
    this.attempt?.abort(new ClientGone('the client disconnected'));
  }
}

// Listeners and timer callbacks are module-level functions (state travels as `this` or as timer
// arguments): the hot path creates no closures per request.
const CLIENT = Symbol('tollgate.client');
function onResponseClose(this: ServerResponse & { [CLIENT]?: ClientSide }) {
  if (!this.writableFinished) this[CLIENT]?.leave();
}
const newTimeout = () => new Timeout();
/** Headers go out with the first body chunk when it is already here; otherwise on the next turn. */
function flushHeadersIfIdle(res: ServerResponse) {
  if (!res.headersSent && !res.destroyed) res.flushHeaders();
}
/**
 * Writes a relayed chunk and sends it now. `res.write()` corks the socket until the next tick, so
 * without the uncork the bytes would wait for everything else done in this tick (reading the
 * chunk for usage, the end of the stream, recording the call) before leaving.
 */
function writeNow(res: ServerResponse, chunk: string | Buffer): boolean {
  const flowing = res.write(chunk);
  if (res.socket?.writableCorked) res.socket.uncork();
  return flowing;
}
/** What the client sees of these events when it did not ask for usage (hideUsage on each). */
function withoutUsage(events: RawSse[]): string {
  let out = '';
  for (const ev of events) {
    const kept = hideUsage(ev.raw);
    if (kept !== null) out += kept;
  }
  return out;
}
const errorText = (e: unknown) => (e instanceof Error ? e.message : String(e));

const ALLOWED: QuotaDecision = Object.freeze({ allowed: true, level: 'ok' }) as QuotaDecision;
const NO_USAGE: Usage = Object.freeze({ input_tokens: 0, output_tokens: 0, cache_read_tokens: 0, cache_write_tokens: 0, reasoning_tokens: 0 });

/** What one call records, whichever attempt answers. */
interface CallRecord {
  op: Operation;
  routeName: string;
  model: string;
  stream: boolean;
  /** When the request arrived (the event's time). */
  at: Date;
  /** The call's event id, made when the first event is recorded (off the request's path). */
  id?: string;
  subject: string | null;
  team: string | null;
  project: string | null;
  feature: string | null;
  keyId: string;
}

/**
 * The request body's two fields the gateway reads, validated. A well-formed body is accepted by
 * plain type checks; zod judges the rest, so every error names its field as before. zod's
 * safeParse cost ~11 µs (p50) on the gateway's path at 500 req/s, where nothing stays in cache
 * between requests; the checks are a few property reads. body.test.ts holds both to the same
 * verdicts.
 */
export function readBody(parsed: unknown): { body: Record<string, any>; model: string; stream: boolean } {
  const b = obj(parsed);
  const m = b?.model;
  if (b && typeof m === 'string' && m.length > 0 && m.length <= 256 && (b.stream === undefined || typeof b.stream === 'boolean')) return { body: b, model: m, stream: b.stream === true };
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
  /** Named secrets (upstream credentials), cached for cacheTtlMs; a change to any clears them. */
  const creds = ttlCache<string, string | undefined>({ clock: d.clock, ttlMs: d.cacheTtlMs, load: (name) => d.secrets.get(name) });
  d.secrets.onChange(() => creds.clear());
  const apiKeyFor = (p: ResolvedProvider): Awaitable<string | undefined> => (p.credential ? andThen(creds.get(p.credential), (v) => v ?? p.api_key) : p.api_key);
  const awsFor = async (p: ResolvedProvider): Promise<AwsCredentials> => {
    const s = p.credential ? await creds.get(p.credential) : undefined;
    if (s) return parseAwsCredentials(s);
    if (p.access_key_id && p.secret_access_key) return { accessKeyId: p.access_key_id, secretAccessKey: p.secret_access_key, ...(p.session_token ? { sessionToken: p.session_token } : {}) };
    throw new ApiError('unavailable', 'UPSTREAM_CREDENTIAL_MISSING', `provider "${p.name}" has no AWS credentials: set gateway.providers.${p.name}.credential to a secret holding them`);
  };

  interface Authn {
    principal: Principal;
    passthrough?: Record<string, string>;
  }
  /** The caller's key (cached: a hit answers synchronously) and, in passthrough mode, its provider key. */
  function authenticate(req: GatewayRequest): Awaitable<Authn> {
    const tgKey = header(req, 'x-tollgate-key');
    const token = tgKey ?? bearerToken(req);
    if (!token) throw new ApiError('authentication_error', 'MISSING_API_KEY', 'send a Tollgate gateway key as "Authorization: Bearer <key>" or "x-api-key: <key>" (or your provider key plus "x-tollgate-key")');
    return andThen(d.keys.authenticate(token), (p) => authorise(req, p, tgKey));
  }

  function authorise(req: GatewayRequest, p: Principal | undefined, tgKey: string | undefined): Authn {
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
    checkLength('x-tollgate-subject', hs);
    checkLength('x-tollgate-project', hp);
    checkLength('x-tollgate-feature', hf);
    if (p.subject && hs && hs !== p.subject) throw new ApiError('permission_denied', 'SUBJECT_BOUND', `this key is bound to a subject; x-tollgate-subject cannot re-attribute its calls`, 'x-tollgate-subject');
    if (p.project && hp && hp !== p.project) throw new ApiError('permission_denied', 'PROJECT_BOUND', `this key is bound to project "${p.project}"`, 'x-tollgate-project');
    return { subject: p.subject ?? hs ?? null, team: p.team, project: p.project ?? hp ?? null, feature: hf ?? route.feature ?? null };
  }

  /**
   * Starts one attempt; its head (or its failure) settles `call.head`, within `timeoutMs`. An
   * unsigned request is on its way when this returns (no promise: the caller's one await is for
   * the head); a Bedrock request is signed first.
   */
  function send(up: UpstreamRequest, provider: ResolvedProvider, timeoutMs: number, client: ClientSide): Awaitable<UpstreamCall> {
    const call = new UpstreamCall();
    client.attempt = call;
    call.deadline(timeoutMs, newTimeout);
    if (!up.sigv4) {
      pool(up.origin).dispatch({ path: up.path, method: 'POST', headers: up.headers, body: up.body }, call);
      return call;
    }
    return sendSigned(up, up.sigv4.region, provider, call);
  }

  async function sendSigned(up: UpstreamRequest, region: string, provider: ResolvedProvider, call: UpstreamCall): Promise<UpstreamCall> {
    let headers: Record<string, string>;
    try {
      headers = await signAws({ service: 'bedrock', region, credentials: await awsFor(provider), method: 'POST', url: new URL(up.origin + up.path), headers: up.headers, body: up.body });
    } catch (e) {
      call.abort(e instanceof Error ? e : new Error(String(e)));
      if (e instanceof ApiError) throw e;
      return call;
    }
    // The client may have left while the request was being signed.
    if (!call.failed) pool(up.origin).dispatch({ path: up.path, method: 'POST', headers, body: up.body }, call);
    return call;
  }

  /**
   * One attempt's `llm.usage` event, handed to the recorder (count_tokens calls are not recorded).
   * `suffix`: '' for the attempt that answers, `_a<n>` for failed earlier ones.
   */
  function record(c: CallRecord, provider: ResolvedProvider, suffix: string, fields: Record<string, unknown>, usage: Usage | undefined, status: number) {
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
    const ev: Record<string, unknown> = { specversion: '1.0', source: EVENT_SOURCE, type: 'llm.usage', time: c.at.toISOString() };
    if (c.subject) ev.subject = c.subject;
    ev.data = data;
    ev.id = (c.id ??= `gw_${randomUUID()}`) + suffix;
    d.recorder.add(ev);
    const model = String(data.model);
    d.metrics.request(c.routeName, provider.provider_name, model, status);
    d.metrics.tokens(provider.provider_name, model, u);
  }

  /** A failed attempt: no tokens, the status it ended with and why. */
  function recordFailure(c: CallRecord, provider: ResolvedProvider, suffix: string, t0: number, attempt: number, error: string, status: number) {
    record(c, provider, suffix, { latency_ms: Math.round(performance.now() - t0), attempt, error }, undefined, status);
  }

  async function handle(req: GatewayRequest, reply: GatewayReply, call: CallSpec): Promise<void> {
    const t0 = performance.now();
    const at = d.clock.now();
    const { route, op } = call;
    // Answers from the in-memory caches come back as values, not promises: with no await before
    // it, the upstream request leaves in the same turn as the request's last byte arrived.
    const authn = authenticate(req);
    const { principal, passthrough } = isPromise(authn) ? await authn : authn;
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

    const pol = d.policies.get(principal.keyId);
    const policy = isPromise(pol) ? await pol : pol;
    if (policy && !allows(policy.allowed_routes, route.name)) throw new ApiError('permission_denied', 'ROUTE_NOT_ALLOWED', `this key may not use the "${route.name}" route`, 'route');
    if (policy && !allows(policy.allowed_models, model)) throw new ApiError('permission_denied', 'MODEL_NOT_ALLOWED', `this key may not use model "${model}"`, 'model');

    let decision: QuotaDecision = ALLOWED;
    const gate = d.quota();
    // No gate installed (no quotas): nothing to ask. A gate may answer synchronously: no await then.
    if (op !== 'count_tokens' && gate !== allowAll) {
      const answer = gate.check({ ...who, api_key: principal.keyId, route: route.name, model });
      decision = isPromise(answer) ? await answer : answer;
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
    const hide = op === 'chat' && stream && !asksForUsage(body);

    const c: CallRecord = { op, routeName: route.name, model, stream, at, subject: who.subject, team: who.team, project: who.project, feature: who.feature, keyId: principal.keyId };

    const client = new ClientSide();
    const res = reply.raw as ServerResponse & { [CLIENT]?: ClientSide };
    res[CLIENT] = client;
    res.on('close', onResponseClose);

    const targets = route.targets.map((t) => d.providers.get(t)!).filter((p) => op !== 'count_tokens' || p.type === 'anthropic');
    if (!targets.length) throw new ApiError('invalid_request', 'UNSUPPORTED_OPERATION', `route "${route.name}" has no upstream that serves ${op}`);
    try {
      for (let i = 0; i < targets.length; i++) {
        const provider = targets[i]!;
        const last = i === targets.length - 1;
        const key = passthrough || provider.type === 'bedrock' ? undefined : apiKeyFor(provider);
        const up = buildUpstream({
          provider, api: route.api, op, subpath: call.subpath, query: req.url.includes('?') ? req.url.slice(req.url.indexOf('?') + 1) : '',
          body, raw, addUsageOption: hide, stream, model, clientHeaders: req.headers,
          passthrough: provider.type === 'bedrock' ? undefined : passthrough,
          apiKey: isPromise(key) ? await key : key,
        });
        const tSend = performance.now();
        const preOverhead = tSend - t0;
        const timeoutMs = provider.timeout_ms ?? route.timeout_ms ?? d.timeoutMs;
        const sent = send(up, provider, timeoutMs, client);
        const upCall = isPromise(sent) ? await sent : sent;
        await upCall.head;
        const attemptId = last ? '' : `_a${i + 1}`;
        if (upCall.failed) {
          const timedOut = upCall.reason instanceof Timeout;
          const status = client.gone ? 499 : timedOut ? 504 : 502;
          recordFailure(c, provider, attemptId, t0, i + 1, timedOut ? `no response within ${timeoutMs} ms` : errorText(upCall.error), status);
          if (!last && status !== 499) continue;
          if (status === 499) return void reply.hijack();
          throw new ApiError('upstream_error', timedOut ? 'UPSTREAM_TIMEOUT' : 'UPSTREAM_UNREACHABLE', `the upstream ${provider.name} ${timedOut ? `did not answer within the timeout` : 'could not be reached'}`, undefined, undefined, timedOut ? 504 : 502);
        }
        if (!last && RETRYABLE(upCall.status)) {
          const text = (await upCall.body().catch(() => undefined))?.toString('utf8') ?? '';
          recordFailure(c, provider, attemptId, t0, i + 1, text.slice(0, 500), upCall.status);
          continue;
        }
        if (stream && upCall.status < 300) {
          reply.hijack();
          await new StreamRelay(upCall, res, up, provider, hide, quotaHeaders, client, t0, tSend, preOverhead, body, c, i + 1).done;
          return;
        }
        let buf = upCall.bodyIfComplete();
        if (!buf) {
          try {
            buf = await upCall.body();
          } catch (e) {
            // The body broke off after the head: nothing of it reached the client yet.
            const status = client.gone ? 499 : 502;
            recordFailure(c, provider, attemptId, t0, i + 1, `upstream response failed: ${errorText(e)}`, status);
            if (status === 499) return void reply.hijack();
            throw new ApiError('upstream_error', 'UPSTREAM_UNREACHABLE', `the upstream ${provider.name} failed while sending its response`, undefined, undefined, 502);
          }
        }
        const tUp = performance.now();
        reply.hijack();
        res.writeHead(upCall.status, responseHeaders(upCall.headers, quotaHeaders, buf.length));
        res.end(buf);
        d.metrics.overhead(route.name, (preOverhead + (performance.now() - tUp)) / 1000);
        d.metrics.upstream(provider.provider_name, (tUp - tSend) / 1000);
        let usage: Usage | undefined;
        const fields: Record<string, unknown> = { latency_ms: Math.round(tUp - t0), attempt: i + 1 };
        if (upCall.status < 300) {
          let j: unknown;
          try {
            j = JSON.parse(buf.toString('utf8'));
          } catch {
            /* not JSON */
          }
          const o = up.spec.usageFromResponse(up.op, j);
          usage = o.usage ?? (provider.type === 'bedrock' ? usageFromHeaders(upCall.headers) : undefined);
          if (o.model) fields.model = o.model;
        } else fields.error = buf.toString('utf8').slice(0, 500);
        if (fields.model && fields.model !== model) fields.requested_model = model;
        record(c, provider, '', fields, usage, upCall.status);
        return;
      }
    } finally {
      res.off('close', onResponseClose);
    }
  }

  /**
   * A streamed answer, relayed chunk by chunk in undici's data callbacks: each chunk's bytes are
   * written to the client first, then read for usage. A full client socket pauses the upstream
   * until it drains. `done` settles once the call is recorded.
   */
  class StreamRelay implements BodySink {
    readonly done: Promise<void>;
    private ok!: () => void;
    private no!: (e: unknown) => void;
    private readonly acc: StreamAcc = newAcc();
    private readonly sse = new SseSplitter();
    private readonly aws: AwsEventStreamSplitter | undefined;
    private readonly toSse: boolean;
    private ttft: number | undefined;
    private finished = false;
    /** The response was ended with the last chunk (see data()). */
    private clientEnded = false;

    constructor(
      private readonly call: UpstreamCall,
      private readonly res: ServerResponse,
      private readonly up: UpstreamRequest,
      private readonly provider: ResolvedProvider,
      private readonly hide: boolean,
      extra: Record<string, string>,
      private readonly client: ClientSide,
      private readonly t0: number,
      private readonly tSend: number,
      preOverhead: number,
      private readonly reqBody: Record<string, any>,
      private readonly c: CallRecord,
      private readonly attempt: number,
    ) {
      this.done = new Promise<void>((ok, no) => {
        this.ok = ok;
        this.no = no;
      });
      this.aws = up.format === 'aws-eventstream' ? new AwsEventStreamSplitter() : undefined;
      this.toSse = !!this.aws && up.spec.name === 'anthropic';
      const headers = responseHeaders(call.headers, extra);
      if (this.toSse) headers['content-type'] = 'text/event-stream; charset=utf-8';
      const tHeaders = performance.now();
      res.writeHead(call.status, headers);
      // The first body chunk usually arrived with the headers: it carries them out in one write.
      setImmediate(flushHeadersIfIdle, res);
      const overhead = preOverhead + (performance.now() - tHeaders);
      call.pipe(this);
      // Metrics after the chunks held so far went out: they are not the client's business.
      d.metrics.overhead(c.routeName, overhead / 1000);
    }

    /**
     * `last`: the whole answer was here before the relay started (a short answer, or a fast
     * upstream): what the client gets of it goes out with the response's end in one write (one
     * syscall, one wake-up of the client), as a plain pass-through would send it.
     */
    data(chunk: Buffer, last: boolean) {
      if (this.finished) return;
      const { up, acc } = this;
      const first = this.ttft === undefined;
      if (first) this.ttft = performance.now() - this.t0;
      let flowing = true;
      if (this.aws) {
        // What one upstream chunk completes goes out as one write (one syscall, one client wake-up).
        let out = '';
        for (const ev of this.aws.push(chunk)) {
          if (this.toSse) {
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
        flowing = this.toClient(this.toSse ? out : chunk, last);
      } else if (this.hide) {
        const events = this.events(chunk, last);
        // The client's bytes go out first; reading usage from them (JSON) comes after the write.
        flowing = this.toClient(withoutUsage(events), last);
        for (const ev of events) up.spec.usageFromStreamEvent(up.op, ev, acc);
      } else {
        flowing = this.toClient(chunk, last);
        for (const ev of this.events(chunk, last)) up.spec.usageFromStreamEvent(up.op, ev, acc);
      }
      if (first) d.metrics.ttft(this.provider.provider_name, this.ttft! / 1000);
      if (!flowing) {
        // A slow client: hold the upstream until its socket drains (or it leaves, which aborts).
        this.call.pause();
        this.res.once('drain', () => this.call.resume());
      }
    }

    /** The SSE events a chunk completes; with the last chunk, whatever the stream left unterminated too. */
    private events(chunk: Buffer, last: boolean): RawSse[] {
      const events = this.sse.push(chunk);
      if (last) for (const ev of this.sse.end()) events.push(ev);
      return events;
    }

    /** Sends the client its part of a chunk; with the last one, ends the response in the same write. */
    private toClient(out: string | Buffer, last: boolean): boolean {
      if (last) {
        this.clientEnded = true;
        this.res.end(out);
        return true;
      }
      return out.length ? writeNow(this.res, out) : true;
    }

    end() {
      if (this.finished) return;
      if (!this.aws && !this.clientEnded) {
        const events = this.sse.end();
        const out = this.hide ? withoutUsage(events) : '';
        if (out) this.res.write(out);
        for (const ev of events) this.up.spec.usageFromStreamEvent(this.up.op, ev, this.acc);
      }
      this.finish(undefined);
    }

    fail(err: unknown) {
      this.finish(this.client.gone ? 'client_disconnected' : `upstream stream failed: ${errorText(err)}`);
    }

    private finish(failure: string | undefined) {
      if (this.finished) return;
      this.finished = true;
      const gone = this.client.gone;
      if (gone) failure = 'client_disconnected';
      const tEnd = performance.now();
      d.metrics.upstream(this.provider.provider_name, (tEnd - this.tSend) / 1000);
      // An upstream failure closes the client's connection, so it sees an error, not a clean end.
      if (failure && !gone) this.res.destroy();
      else if (!gone && !this.clientEnded) this.res.end();
      this.record(failure, tEnd).then(this.ok, this.no);
    }

    private async record(failure: string | undefined, tEnd: number) {
      const { acc, reqBody } = this;
      let usage = acc.usage;
      let estimated = false;
      if (!acc.usageFinal) {
        estimated = true;
        const out = await estimateText(acc.text);
        usage = usage
          ? { ...usage, output_tokens: Math.max(usage.output_tokens, out) }
          : { input_tokens: await estimateInput(reqBody), output_tokens: out, cache_read_tokens: 0, cache_write_tokens: 0, reasoning_tokens: 0 };
      }
      const status = this.client.gone ? 499 : failure || acc.error ? 502 : this.call.status;
      const fields: Record<string, unknown> = { latency_ms: Math.round(tEnd - this.t0), ...(this.ttft !== undefined ? { ttft_ms: Math.round(this.ttft) } : {}) };
      if (estimated) fields.estimated = true;
      if (failure || acc.error) fields.error = failure ?? `upstream error event: ${acc.error}`;
      if (acc.model && acc.model !== (reqBody.model ?? acc.model)) {
        fields.model = acc.model;
        fields.requested_model = reqBody.model;
      } else if (acc.model) fields.model = acc.model;
      fields.attempt = this.attempt;
      record(this.c, this.provider, '', fields, usage, status);
    }
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
