import type { ResolvedProvider } from '../config.ts';
import { obj } from './usage.ts';
import type { BuildInput } from './types.ts';

/** Helpers every provider's build() shares: forwarded headers, base URLs, the request body. */

const DROP = new Set([
  'host', 'connection', 'keep-alive', 'transfer-encoding', 'content-length', 'accept-encoding', 'authorization',
  'x-api-key', 'api-key', 'x-goog-api-key', 'te', 'upgrade', 'proxy-authorization', 'proxy-connection', 'expect', 'cookie',
]);

/** Client headers worth forwarding upstream (anthropic-version, anthropic-beta, openai-*, x-stainless-*, x-goog-api-client, …). */
export function forwardHeaders(h: Record<string, string | string[] | undefined>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(h)) {
    if (v === undefined || DROP.has(k) || k.startsWith('x-tollgate-') || k.startsWith('x-forwarded-')) continue;
    out[k] = Array.isArray(v) ? v.join(', ') : v;
  }
  out['accept-encoding'] = 'identity'; // usage must be readable from the body
  return out;
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
export function serialise(i: BuildInput, mappedModel: string | undefined): Buffer | string {
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
export function baseOf(p: ResolvedProvider) {
  let b = parsedBase.get(p);
  if (!b) {
    const u = new URL(p.base_url);
    b = { u, basePath: u.pathname.replace(/\/+$/, '') };
    parsedBase.set(p, b);
  }
  return b;
}

export const withQuery = (path: string, query: string) => (query ? `${path}?${query}` : path);
