import type { IncomingHttpHeaders, ServerResponse } from 'node:http';
import type { ResolvedRoute } from './config.ts';
import type { CallShape } from './providers/types.ts';
import type { QuotaLease } from './quota.ts';
import type { UpstreamCall, UpstreamHeaders } from './upstream.ts';
import type { Operation } from './providers/usage.ts';

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

/** A route's call as its path says: the route, the operation, the upstream subpath (+ path model/stream). */
export interface CallSpec extends CallShape {
  route: ResolvedRoute;
}

export class Timeout extends Error {}
export class ClientGone extends Error {}

/** The client's side of one call: once it has gone, the attempt in flight is aborted with it. */
export class ClientSide {
  gone = false;
  attempt: UpstreamCall | undefined;
  leave() {
    if (this.gone) return;
    this.gone = true;
    this.attempt?.abort(new ClientGone('the client disconnected'));
  }
}

/**
 * One admitted call: who makes it, what it asks, and its quota lease. Built by admission, carried
 * through the attempts and the relay, and ended exactly once by `record` (`ended`).
 */
export interface Call {
  op: Operation;
  route: ResolvedRoute;
  subpath: string;
  model: string;
  stream: boolean;
  body: Record<string, any>;
  raw: Buffer;
  /** When the request arrived (the event's time) and its performance.now(). */
  at: Date;
  t0: number;
  subject: string | null;
  team: string | null;
  project: string | null;
  feature: string | null;
  keyId: string;
  /** Passthrough mode: the client's own provider credential headers. */
  passthrough?: Record<string, string>;
  lease: QuotaLease;
  /** Headers the quota decision adds to the response (warning/critical). */
  extraHeaders: Record<string, string>;
  /** The call's event id, made when the first event is recorded (off the request's path). */
  id?: string;
  /** Set by record's end(): the lease was settled or released, the final event handed over. */
  ended: boolean;
}

// Listeners and timer callbacks are module-level functions (state travels as `this` or as timer
// arguments): the hot path creates no closures per request.
export const CLIENT = Symbol('tollgate.client');
export type TrackedResponse = ServerResponse & { [CLIENT]?: ClientSide };
export function onResponseClose(this: TrackedResponse) {
  if (!this.writableFinished) this[CLIENT]?.leave();
}
export const newTimeout = () => new Timeout();

const HOP = new Set(['connection', 'keep-alive', 'transfer-encoding', 'content-length', 'content-encoding', 'proxy-connection', 'upgrade', 'trailer']);

/** The upstream's response headers for the client, without hop-by-hop ones, plus the gateway's own. */
export function responseHeaders(h: UpstreamHeaders, extra: Record<string, string>, contentLength?: number): Record<string, string | string[]> {
  const out: Record<string, string | string[]> = {};
  for (const k in h) {
    const v = h[k];
    if (v !== undefined && !HOP.has(k)) out[k] = v;
  }
  for (const k in extra) out[k] = extra[k]!;
  if (contentLength !== undefined) out['content-length'] = String(contentLength);
  return out;
}

export const errorText = (e: unknown) => (e instanceof Error ? e.message : String(e));
