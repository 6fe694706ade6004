import { ApiError } from '../../../shared/errors.ts';
import { n, obj, parseJson, type Observed, type Operation, type ProviderSpec, type SseEvent, type StreamAcc, type Usage } from '../usage.ts';
import { baseOf, forwardHeaders } from '../request.ts';
import type { ApiSpec, CallShape, ProviderFamily } from '../types.ts';

/**
 * Google Gemini: the Gemini API (`/v1beta/models/{model}:generateContent`,
 * `:streamGenerateContent?alt=sse`, `:countTokens`) and Vertex AI's
 * `/v1/projects/{p}/locations/{l}/publishers/google/models/{model}:generateContent` form.
 *
 * Token mapping from `usageMetadata` (no double counting): `cachedContentTokenCount` is part of
 * `promptTokenCount`, so input = prompt − cached and cache_read = cached; `toolUsePromptTokenCount`
 * is input too; `thoughtsTokenCount` is billed as output and reported as reasoning, so
 * output = candidates + thoughts. In a stream each chunk may carry usage: the last one that does wins.
 */
export function geminiUsage(u: Record<string, any>): Usage {
  const prompt = n(u.promptTokenCount);
  const cached = Math.min(n(u.cachedContentTokenCount), prompt);
  const thoughts = n(u.thoughtsTokenCount);
  return {
    input_tokens: prompt - cached + n(u.toolUsePromptTokenCount),
    output_tokens: n(u.candidatesTokenCount) + thoughts,
    cache_read_tokens: cached,
    cache_write_tokens: 0,
    reasoning_tokens: thoughts,
  };
}

function usageFromResponse(_op: Operation, body: unknown): Observed {
  const b = obj(body);
  if (!b) return {};
  const model = typeof b.modelVersion === 'string' ? b.modelVersion : undefined;
  const u = obj(b.usageMetadata);
  return u ? { model, usage: geminiUsage(u) } : { model };
}

function usageFromStreamEvent(_op: Operation, ev: SseEvent, acc: StreamAcc): void {
  const j = obj(parseJson(ev.data));
  if (!j) return;
  if (j.error) {
    acc.error = String(obj(j.error)?.message ?? 'error');
    return;
  }
  if (typeof j.modelVersion === 'string') acc.model = j.modelVersion;
  const u = obj(j.usageMetadata);
  if (u) acc.usage = geminiUsage(u);
  if (!Array.isArray(j.candidates)) return;
  for (const c of j.candidates) {
    const parts = obj(obj(c)?.content)?.parts;
    if (Array.isArray(parts)) for (const p of parts) if (typeof obj(p)?.text === 'string') acc.text += p.text;
    // The chunk that finishes the candidate carries the final usage: later chunks cannot change it.
    if (typeof obj(c)?.finishReason === 'string') {
      acc.done = true;
      if (acc.usage) acc.usageFinal = true;
    }
  }
}

export const google: ProviderSpec = { name: 'google', usageFromResponse, usageFromStreamEvent };
export default google;

const METHODS: Record<string, { op: Operation; stream: boolean }> = {
  generateContent: { op: 'generate_content', stream: false },
  streamGenerateContent: { op: 'generate_content', stream: true },
  countTokens: { op: 'count_tokens', stream: false },
};

/** `{model}:{method}` from the path's tail → the call (the subpath is the whole path under the route). */
function shapeOf(prefix: string, params: Record<string, string>): CallShape {
  const tail = params['*'] ?? '';
  const i = tail.lastIndexOf(':');
  const m = i > 0 ? METHODS[tail.slice(i + 1)] : undefined;
  if (!m) throw new ApiError({ type: 'not_found', code: 'UNKNOWN_METHOD', message: `unknown Gemini method "${tail}": use {model}:generateContent, :streamGenerateContent or :countTokens` });
  const scoped = params.project !== undefined ? `/projects/${params.project}/locations/${params.location}/publishers/google/models/` : '/models/';
  return { op: m.op, subpath: `${prefix}${scoped}${tail}`, pathModel: decodeURIComponent(tail.slice(0, i)), pathStream: m.stream };
}

/** The Gemini client API (the `@google/genai` SDK's base URL is `http://HOST:PORT/google`). */
export const googleApi: ApiSpec = {
  name: 'google',
  keyHeaders: ['x-goog-api-key'],
  keyQuery: 'key',
  endpoints: [
    { path: '/v1beta/models/*', summary: 'Gemini API generateContent / streamGenerateContent / countTokens', shape: (p) => shapeOf('/v1beta', p) },
    { path: '/v1/models/*', summary: 'Gemini API (v1) generateContent / streamGenerateContent / countTokens', shape: (p) => shapeOf('/v1', p) },
    { path: '/v1/projects/:project/locations/:location/publishers/google/models/*', summary: 'Vertex AI generateContent / streamGenerateContent / countTokens', shape: (p) => shapeOf('/v1', p) },
    { path: '/v1beta1/projects/:project/locations/:location/publishers/google/models/*', summary: 'Vertex AI (v1beta1) generateContent / streamGenerateContent', shape: (p) => shapeOf('/v1beta1', p) },
  ],
};

/** The query without the caller's own `key` (a Tollgate key must not travel upstream). */
function upstreamQuery(query: string): string {
  if (!query.includes('key=')) return query;
  const q = new URLSearchParams(query);
  q.delete('key');
  return q.toString();
}

export const googleProvider: ProviderFamily = {
  type: 'google',
  serves: ['google'],
  operations: ['generate_content', 'count_tokens'],
  api: googleApi,
  defaultBaseUrl: () => 'https://generativelanguage.googleapis.com',
  env: [
    ['TOLLGATE_GOOGLE_BASE_URL', 'base_url'],
    ['GEMINI_API_KEY', 'api_key'],
  ],
  credential: 'key',
  build(i) {
    const headers = forwardHeaders(i.clientHeaders);
    const vertex = i.subpath.includes('/publishers/google/');
    if (i.passthrough) Object.assign(headers, i.passthrough);
    else if (i.apiKey) {
      if (vertex) headers.authorization = `Bearer ${i.apiKey}`;
      else headers['x-goog-api-key'] = i.apiKey;
    }
    const mapped = i.provider.model_map?.[i.model];
    const subpath = mapped ? i.subpath.replace(/\/models\/[^/]+:/, `/models/${encodeURIComponent(mapped)}:`) : i.subpath;
    const query = upstreamQuery(i.query);
    const { u, basePath } = baseOf(i.provider);
    return { origin: u.origin, path: basePath + subpath + (query ? `?${query}` : ''), headers, body: i.raw, spec: google, op: i.op, format: i.stream ? 'sse' : 'json' };
  },
};
