import { n, obj, parseJson, type Observed, type Operation, type ProviderSpec, type SseEvent, type StreamAcc, type Usage } from '../usage.ts';
import { baseOf, forwardHeaders, serialise, withQuery } from '../request.ts';
import type { ApiSpec, BuildInput, ProviderFamily, UpstreamRequest } from '../types.ts';

/**
 * OpenAI (and every OpenAI-compatible upstream: Azure OpenAI, vLLM, …).
 * Token mapping (DESIGN.md): input = prompt − cached, cache_read = cached, output = completion
 * (includes reasoning), reasoning = completion_tokens_details.reasoning_tokens.
 */

/** The two APIs name the same four counts differently; cached prompt tokens are part of the prompt. */
function splitUsage(prompt: number, cached: number, output: number, reasoning: number): Usage {
  return {
    input_tokens: Math.max(0, prompt - cached),
    output_tokens: output,
    cache_read_tokens: Math.min(cached, prompt),
    cache_write_tokens: 0,
    reasoning_tokens: Math.min(reasoning, output),
  };
}

/** Chat Completions / Embeddings usage object → Usage. */
export function chatUsage(u: Record<string, any>): Usage {
  return splitUsage(n(u.prompt_tokens), n(obj(u.prompt_tokens_details)?.cached_tokens), n(u.completion_tokens), n(obj(u.completion_tokens_details)?.reasoning_tokens));
}

/** Responses API usage object → Usage. */
export function responsesUsage(u: Record<string, any>): Usage {
  return splitUsage(n(u.input_tokens), n(obj(u.input_tokens_details)?.cached_tokens), n(u.output_tokens), n(obj(u.output_tokens_details)?.reasoning_tokens));
}

function usageFromResponse(op: Operation, body: unknown): Observed {
  const b = obj(body);
  if (!b) return {};
  const u = obj(b.usage);
  const model = typeof b.model === 'string' ? b.model : undefined;
  if (!u) return { model };
  return { model, usage: op === 'responses' ? responsesUsage(u) : chatUsage(u) };
}

function usageFromStreamEvent(op: Operation, ev: SseEvent, acc: StreamAcc): void {
  const data = ev.data.trim();
  if (data === '[DONE]') {
    acc.done = true;
    return;
  }
  const j = obj(parseJson(data));
  if (!j) return;
  if (op === 'responses') {
    const type = typeof j.type === 'string' ? j.type : ev.event;
    if (type === 'response.output_text.delta' || type === 'response.reasoning_summary_text.delta' || type === 'response.function_call_arguments.delta') {
      if (typeof j.delta === 'string') acc.text += j.delta;
    } else if (type === 'response.created' || type === 'response.in_progress') {
      const r = obj(j.response);
      if (typeof r?.model === 'string') acc.model = r.model;
    } else if (type === 'response.completed' || type === 'response.incomplete' || type === 'response.failed') {
      const r = obj(j.response);
      if (typeof r?.model === 'string') acc.model = r.model;
      const u = obj(r?.usage);
      if (u) {
        acc.usage = responsesUsage(u);
        acc.usageFinal = true;
      }
      acc.done = true;
      if (type === 'response.failed') acc.error = String(obj(r?.error)?.message ?? 'response.failed');
    } else if (type === 'error') {
      acc.error = String(j.message ?? obj(j.error)?.message ?? 'error');
    }
    return;
  }
  // Chat completions chunk.
  if (j.error) {
    acc.error = String(obj(j.error)?.message ?? 'error');
    return;
  }
  if (typeof j.model === 'string') acc.model = j.model;
  const u = obj(j.usage);
  if (u) {
    acc.usage = chatUsage(u);
    acc.usageFinal = true;
  }
  if (Array.isArray(j.choices)) {
    for (const c of j.choices) {
      const d = obj(obj(c)?.delta);
      if (!d) continue;
      if (typeof d.content === 'string') acc.text += d.content;
      if (typeof d.reasoning_content === 'string') acc.text += d.reasoning_content;
      if (Array.isArray(d.tool_calls)) for (const t of d.tool_calls) {
        const a = obj(obj(t)?.function)?.arguments;
        if (typeof a === 'string') acc.text += a;
      }
    }
  }
}

export const openai: ProviderSpec = { name: 'openai', usageFromResponse, usageFromStreamEvent };
export default openai;

/**
 * For a streaming chat request whose client did not ask for usage, the gateway asks upstream
 * for it and then must show the client exactly the stream it would have seen without it: the
 * final usage-only chunk is dropped and the `"usage":null` member every other chunk then carries
 * is cut out of the bytes. Returns the event's bytes to forward, or null to drop it.
 */
export function hideUsage(raw: string): string | null {
  const dataIdx = raw.indexOf('data:');
  if (dataIdx < 0) return raw;
  if (!raw.includes('"usage"')) return raw; // most chunks and [DONE]: nothing to cut, nothing to parse
  const exact = raw.indexOf(',"usage":null'); // OpenAI's own spelling: cut without a regex
  if (exact >= 0) return raw.slice(0, exact) + raw.slice(exact + 13);
  const payload = raw.slice(dataIdx + 5).trim();
  if (raw.includes('"usage":null')) {
    const cut = raw.replace(/,\s*"usage":\s*null/, '');
    return cut !== raw ? cut : raw.replace(/"usage":\s*null\s*,\s*/, '');
  }
  const j = obj(parseJson(payload));
  if (j && obj(j.usage) && Array.isArray(j.choices) && j.choices.length === 0) return null;
  return raw;
}

/** True when a chat request body already asks for the usage chunk. */
export function asksForUsage(body: Record<string, any>): boolean {
  return obj(body.stream_options)?.include_usage === true;
}

/** The OpenAI client API: `/<route>/v1/chat/completions`, `/v1/responses`, `/v1/embeddings`. */
export const openaiApi: ApiSpec = {
  name: 'openai',
  endpoints: [
    { path: '/v1/chat/completions', summary: 'Chat Completions (OpenAI-compatible)', shape: () => ({ op: 'chat', subpath: '/chat/completions' }) },
    { path: '/v1/responses', summary: 'Responses API', shape: () => ({ op: 'responses', subpath: '/responses' }) },
    { path: '/v1/embeddings', summary: 'Embeddings', shape: () => ({ op: 'embeddings', subpath: '/embeddings' }) },
  ],
};

/** An OpenAI-style request to `base + subpath`; `auth` sets the key header (Bearer here, api-key for Azure). */
export function openaiStyleRequest(i: BuildInput, path: string, query: string, auth: (h: Record<string, string>, key: string) => void): UpstreamRequest {
  const headers = forwardHeaders(i.clientHeaders);
  if (i.passthrough) Object.assign(headers, i.passthrough);
  else if (i.apiKey) auth(headers, i.apiKey);
  return {
    origin: baseOf(i.provider).u.origin,
    path: withQuery(path, query),
    headers,
    body: serialise(i, i.provider.model_map?.[i.model]),
    spec: openai,
    op: i.op,
    format: i.stream ? 'sse' : 'json',
  };
}

/** OpenAI and any OpenAI-compatible server (vLLM, Gemini's OpenAI-compatible endpoint, …). */
export const openaiProvider: ProviderFamily = {
  type: 'openai',
  serves: ['openai'],
  operations: ['chat', 'responses', 'embeddings'],
  api: openaiApi,
  defaultBaseUrl: () => 'https://api.openai.com/v1',
  env: [
    ['TOLLGATE_OPENAI_BASE_URL', 'base_url'],
    ['OPENAI_API_KEY', 'api_key'],
  ],
  credential: 'key',
  build: (i) => openaiStyleRequest(i, baseOf(i.provider).basePath + i.subpath, i.query, (h, key) => (h.authorization = `Bearer ${key}`)),
};
