import type { ProviderConfig, ResolvedProvider } from '../config.ts';
import type { Operation, ProviderSpec, Usage } from './usage.ts';

/** The client APIs a route can speak (its `api`); each is mounted at `/<route>/…`. */
export type ApiName = 'openai' | 'anthropic' | 'bedrock' | 'google';

/** What a route's handler knows of the call from the path alone. */
export interface CallShape {
  op: Operation;
  /** Path under the API root passed to the upstream ("/chat/completions", "/v1/messages", "converse"). */
  subpath: string;
  /** The model named in the path (Bedrock, Gemini). */
  pathModel?: string;
  /** Streaming chosen by the path (Bedrock, Gemini). */
  pathStream?: boolean;
}

/** One endpoint of a client API, under `/<route>`. */
export interface ApiEndpoint {
  /** Fastify path under `/<route>` (may hold `:param` or a trailing `*`). */
  path: string;
  summary: string;
  /**
   * The call this path makes. Exact paths (no parameter) are resolved once and also served straight
   * from Node's HTTP server (addDirectRoute); parameterised ones per request, through Fastify.
   */
  shape(params: Record<string, string>): CallShape;
}

/** A client API: its endpoints, and where the caller's key may come from besides Authorization / x-api-key. */
export interface ApiSpec {
  name: ApiName;
  endpoints: ApiEndpoint[];
  /** Extra headers (or the `key` query parameter) that carry the caller's key in this API's SDKs. */
  keyHeaders?: readonly string[];
  keyQuery?: string;
}

/** The upstream request for one attempt: where to send what, and how to read what comes back. */
export interface UpstreamRequest {
  origin: string;
  path: string;
  headers: Record<string, string>;
  body: Buffer | string;
  spec: ProviderSpec;
  /** Operation as the upstream sees it (usage parsing). */
  op: Operation;
  /** How the response body streams: SSE, AWS event stream or not at all. */
  format: 'json' | 'sse' | 'aws-eventstream';
  /** AWS event stream relayed to the client as this API's SSE (Anthropic Messages over Bedrock InvokeModel). */
  reencode?: 'anthropic-sse';
  /** Sign with SigV4 before sending (bedrock). */
  sigv4?: { region: string };
}

export interface BuildInput {
  provider: ResolvedProvider;
  api: ApiName;
  op: Operation;
  /** The path under the API's root, e.g. "/chat/completions" (openai) or "/v1/messages" (anthropic). */
  subpath: string;
  query: string;
  body: Record<string, any>;
  raw: Buffer;
  /** Ask the upstream for the usage chunk (`stream_options.include_usage`): the body must change. */
  addUsageOption: boolean;
  stream: boolean;
  model: string;
  clientHeaders: Record<string, string | string[] | undefined>;
  /** Passthrough: the client's own provider credential headers, forwarded as they are. */
  passthrough?: Record<string, string>;
  /** The upstream key (credential 'key' providers). */
  apiKey?: string;
}

/**
 * One provider family, Portkey-style: everything the gateway needs to call it, in its own folder.
 * Adding a provider is one folder with one of these, listed in providers/index.ts.
 */
export interface ProviderFamily {
  /** The provider `type` in config (`gateway.providers.<name>.type`). */
  type: string;
  /** Client APIs this upstream can serve (a route of that api may target it). */
  serves: readonly ApiName[];
  /** Operations it serves; a route skips targets that do not serve the call's operation. */
  operations: readonly Operation[];
  /** The client API it defines, when it defines one (mounted for the route of the same name by default). */
  api?: ApiSpec;
  /** Base URL when config gives none (undefined: base_url is required). */
  defaultBaseUrl?(p: ProviderConfig): string | undefined;
  /** Environment variables → this provider's config field, for the provider named like the type. */
  env?: Array<[string, keyof ProviderConfig]>;
  /** 'key': an API key sent as a header (passthrough forwards the client's own); 'aws': SigV4 (sign()). */
  credential: 'key' | 'aws';
  /** Endpoint per operation, auth headers, body, stream format and usage readers of one attempt. */
  build(i: BuildInput): UpstreamRequest;
  /** Signs a built request (credential 'aws'): `secret` is the provider's credential secret, if any. */
  sign?(up: UpstreamRequest, p: ResolvedProvider, secret: string | undefined): Promise<Record<string, string>>;
  /** Usage from response headers when the body has none (Bedrock InvokeModel for non-Anthropic models). */
  usageFromHeaders?(h: Record<string, string | string[] | undefined>): Usage | undefined;
  /** Fields this provider adds to every event (Bedrock: region). */
  eventFields?(p: ResolvedProvider): Record<string, unknown>;
}
