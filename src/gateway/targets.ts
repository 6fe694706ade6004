import type { ResolvedProvider } from './config.ts';
import { obj, type Operation, type ProviderSpec } from './usage.ts';
import { openai } from './providers/openai/index.ts';
import { anthropic } from './providers/anthropic/index.ts';
import { bedrock, bedrockPath } from './providers/bedrock/index.ts';

/** The upstream request for one attempt: where to send what, and how to read what comes back. */
export interface UpstreamRequest {
  origin: string;
  path: string;
  headers: Record<string, string>;
  body: Buffer | string;
  spec: ProviderSpec;
  /** Operation as the upstream sees it (usage parsing). */
  op: Operation;
  /** How the response body streams: SSE, AWS event stream (re-encoded as Anthropic SSE) or not at all. */
  format: 'json' | 'sse' | 'aws-eventstream';
  /** Sign with SigV4 before sending (bedrock). */
  sigv4?: { region: string };
}

const DROP = new Set([
  'host', 'connection', 'keep-alive', 'transfer-encoding', 'content-length', 'accept-encoding', 'authorization',
  'x-api-key', 'api-key', 'te', 'upgrade', 'proxy-authorization', 'proxy-connection', 'expect', 'cookie',
]);

/** Client headers worth forwarding upstream (anthropic-version, anthropic-beta, openai-*, x-stainless-*, …). */
export function forwardHeaders(h: Record<string, string | string[] | undefined>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(h)) {
    if (v === undefined || DROP.has(k) || k.startsWith('x-tollgate-') || k.startsWith('x-forwarded-')) continue;
    out[k] = Array.isArray(v) ? v.join(', ') : v;
  }
  out['accept-encoding'] = 'identity'; // usage must be readable from the body
  return out;
}

export interface BuildInput {
  provider: ResolvedProvider;
  api: 'openai' | 'anthropic' | 'bedrock';
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
  /** The upstream key (not for bedrock). */
  apiKey?: string;
}

const OPEN_BRACE = 0x7b;
const CLOSE_BRACE = 0x7d;
const isSpace = (b: number) => b === 0x20 || b === 0x0a || b === 0x0d || b === 0x09;
const USAGE_OPTION = Buffer.from('"stream_options":{"include_usage":true},');

/**
 * The client's bytes with `"stream_options":{"include_usage":true}` added as the object's first
 * member, when the body has no stream_options of its own: re-serialising a large prompt costs far
 * more than splicing one member in. Undefined when the bytes are not a non-empty object.
 */
export function withUsageOption(raw: Buffer): Buffer | undefined {
  let i = 0;
  while (i < raw.length && isSpace(raw[i]!)) i++;
  if (raw[i] !== OPEN_BRACE) return undefined;
  let j = i + 1;
  while (j < raw.length && isSpace(raw[j]!)) j++;
  if (j >= raw.length || raw[j] === CLOSE_BRACE) return undefined;
  return Buffer.concat([raw.subarray(0, i + 1), USAGE_OPTION, raw.subarray(i + 1)]);
}

/**
 * The upstream body: the client's bytes when nothing changes, or when the usage option can be
 * spliced in (the client sent no `stream_options` of its own); otherwise the parsed body
 * re-serialised with the option and/or the mapped model.
 */
function serialise(i: BuildInput, mappedModel: string | undefined): Buffer | string {
  if (!mappedModel) {
    if (!i.addUsageOption) return i.raw;
    const spliced = 'stream_options' in i.body ? undefined : withUsageOption(i.raw);
    if (spliced) return spliced;
  }
  let body = i.body;
  if (i.addUsageOption) body = { ...body, stream_options: { ...(obj(body.stream_options) ?? {}), include_usage: true } };
  if (mappedModel) body = { ...body, model: mappedModel };
  return JSON.stringify(body);
}

// Providers come from config and live as long as the process: parse each base URL once.
const parsedBase = new WeakMap<ResolvedProvider, { u: URL; basePath: string }>();
function baseOf(p: ResolvedProvider) {
  let b = parsedBase.get(p);
  if (!b) {
    const u = new URL(p.base_url);
    b = { u, basePath: u.pathname.replace(/\/+$/, '') };
    parsedBase.set(p, b);
  }
  return b;
}

export function buildUpstream(i: BuildInput): UpstreamRequest {
  const p = i.provider;
  const { u, basePath } = baseOf(p);
  const headers = forwardHeaders(i.clientHeaders);
  const mapped = p.model_map?.[i.model];
  if (p.type === 'openai' || p.type === 'azure') {
    let path = basePath + i.subpath;
    let query = i.query;
    if (p.type === 'azure' && p.api_version) {
      const dep = p.deployments?.[i.model] ?? mapped ?? i.model;
      path = `${basePath}/deployments/${encodeURIComponent(dep)}${i.subpath}`;
      const q = new URLSearchParams(query);
      q.set('api-version', p.api_version);
      query = q.toString();
    }
    if (i.passthrough) Object.assign(headers, i.passthrough);
    else if (i.apiKey) {
      if (p.type === 'azure') headers['api-key'] = i.apiKey;
      else headers.authorization = `Bearer ${i.apiKey}`;
    }
    return {
      origin: u.origin,
      path: path + (query ? `?${query}` : ''),
      headers,
      body: serialise(i, mapped),
      spec: openai,
      op: i.op,
      format: i.stream ? 'sse' : 'json',
    };
  }
  if (p.type === 'anthropic') {
    if (i.passthrough) Object.assign(headers, i.passthrough);
    else if (i.apiKey) headers['x-api-key'] = i.apiKey;
    headers['anthropic-version'] ??= '2023-06-01';
    return {
      origin: u.origin,
      path: basePath + i.subpath + (i.query ? `?${i.query}` : ''),
      headers,
      body: serialise(i, mapped),
      spec: anthropic,
      op: i.op,
      format: i.stream ? 'sse' : 'json',
    };
  }
  // Bedrock: signed by the caller; only content headers are forwarded (they are signed too).
  const region = p.region ?? /bedrock-runtime\.([a-z0-9-]+)\./.exec(u.hostname)?.[1] ?? 'us-east-1';
  const h: Record<string, string> = { 'content-type': 'application/json', accept: i.stream ? 'application/vnd.amazon.eventstream' : 'application/json' };
  if (i.api === 'anthropic') {
    // Anthropic Messages body → Bedrock InvokeModel (same body, model in the path, version in the body).
    const { model: _m, stream: _s, ...rest } = i.body;
    const beta = i.clientHeaders['anthropic-beta'];
    const body: Record<string, any> = { anthropic_version: 'bedrock-2023-05-31', ...rest };
    if (beta) body.anthropic_beta = String(beta).split(',').map((s) => s.trim());
    return {
      origin: u.origin,
      path: basePath + bedrockPath(mapped ?? i.model, i.stream ? 'invoke-with-response-stream' : 'invoke'),
      headers: h,
      body: JSON.stringify(body),
      spec: anthropic,
      op: 'messages',
      format: i.stream ? 'aws-eventstream' : 'json',
      sigv4: { region },
    };
  }
  // Native Bedrock routes: the client's body as is, to the operation it named.
  return {
    origin: u.origin,
    path: basePath + bedrockPath(mapped ?? i.model, i.subpath as 'converse'),
    headers: h,
    body: i.raw,
    spec: i.op === 'invoke' && /anthropic\./.test(i.model) ? anthropic : bedrock,
    op: i.op,
    format: i.stream ? 'aws-eventstream' : 'json',
    sigv4: { region },
  };
}
