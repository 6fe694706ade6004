import { n, obj, parseJson, type Observed, type Operation, type ProviderSpec, type SseEvent, type StreamAcc, type Usage } from '../usage.ts';
import { baseOf, forwardHeaders, serialise, withQuery } from '../request.ts';
import type { ApiSpec, ProviderFamily } from '../types.ts';

/**
 * Anthropic Messages (direct, and the same body on Bedrock InvokeModel).
 * Token mapping: input_tokens as is, cache_read = cache_read_input_tokens,
 * cache_write = cache_creation_input_tokens, split into 5-minute / 1-hour writes from
 * cache_creation.ephemeral_5m_input_tokens / ephemeral_1h_input_tokens when given.
 */
export function anthropicUsage(u: Record<string, any>, prev?: Usage): Usage {
  const has = (k: string) => typeof u[k] === 'number';
  const cc = obj(u.cache_creation);
  const write = has('cache_creation_input_tokens') ? n(u.cache_creation_input_tokens) : (prev?.cache_write_tokens ?? 0);
  const out: Usage = {
    input_tokens: has('input_tokens') ? n(u.input_tokens) : (prev?.input_tokens ?? 0),
    output_tokens: has('output_tokens') ? n(u.output_tokens) : (prev?.output_tokens ?? 0),
    cache_read_tokens: has('cache_read_input_tokens') ? n(u.cache_read_input_tokens) : (prev?.cache_read_tokens ?? 0),
    cache_write_tokens: write,
    reasoning_tokens: 0,
  };
  if (cc) {
    const w5 = n(cc.ephemeral_5m_input_tokens);
    const w1 = n(cc.ephemeral_1h_input_tokens);
    // Only keep the split when it adds up (the ingest validator insists on it).
    if (w5 + w1 === write) {
      out.cache_write_5m_tokens = w5;
      out.cache_write_1h_tokens = w1;
    }
  } else if (prev?.cache_write_5m_tokens !== undefined && prev.cache_write_tokens === write) {
    out.cache_write_5m_tokens = prev.cache_write_5m_tokens;
    out.cache_write_1h_tokens = prev.cache_write_1h_tokens;
  }
  return out;
}

function usageFromResponse(_op: Operation, body: unknown): Observed {
  const b = obj(body);
  if (!b) return {};
  const model = typeof b.model === 'string' ? b.model : undefined;
  const u = obj(b.usage);
  return u ? { model, usage: anthropicUsage(u) } : { model };
}

function usageFromStreamEvent(_op: Operation, ev: SseEvent, acc: StreamAcc): void {
  const j = obj(parseJson(ev.data));
  if (!j) return;
  const type = typeof j.type === 'string' ? j.type : ev.event;
  switch (type) {
    case 'message_start': {
      const m = obj(j.message);
      if (typeof m?.model === 'string') acc.model = m.model;
      const u = obj(m?.usage);
      if (u) acc.usage = anthropicUsage(u);
      break;
    }
    case 'content_block_delta': {
      const d = obj(j.delta);
      if (!d) break;
      if (typeof d.text === 'string') acc.text += d.text;
      else if (typeof d.thinking === 'string') acc.text += d.thinking;
      else if (typeof d.partial_json === 'string') acc.text += d.partial_json;
      break;
    }
    case 'message_delta': {
      // message_delta usage is cumulative: its fields replace what message_start said.
      const u = obj(j.usage);
      if (u) {
        acc.usage = anthropicUsage(u, acc.usage);
        acc.usageFinal = true;
      }
      break;
    }
    case 'message_stop':
      acc.done = true;
      break;
    case 'error':
      acc.error = String(obj(j.error)?.message ?? 'error');
      break;
  }
}

export const anthropic: ProviderSpec = { name: 'anthropic', usageFromResponse, usageFromStreamEvent };
export default anthropic;

/** The Anthropic client API: `/<route>/v1/messages` and `/v1/messages/count_tokens` (passed through, not recorded). */
export const anthropicApi: ApiSpec = {
  name: 'anthropic',
  endpoints: [
    { path: '/v1/messages', summary: 'Anthropic Messages', shape: () => ({ op: 'messages', subpath: '/v1/messages' }) },
    { path: '/v1/messages/count_tokens', summary: 'Anthropic token counting (passed through, not recorded)', shape: () => ({ op: 'count_tokens', subpath: '/v1/messages/count_tokens' }) },
  ],
};

export const anthropicProvider: ProviderFamily = {
  type: 'anthropic',
  serves: ['anthropic'],
  operations: ['messages', 'count_tokens'],
  api: anthropicApi,
  defaultBaseUrl: () => 'https://api.anthropic.com',
  env: [
    ['TOLLGATE_ANTHROPIC_BASE_URL', 'base_url'],
    ['ANTHROPIC_API_KEY', 'api_key'],
  ],
  credential: 'key',
  build(i) {
    const headers = forwardHeaders(i.clientHeaders);
    if (i.passthrough) Object.assign(headers, i.passthrough);
    else if (i.apiKey) headers['x-api-key'] = i.apiKey;
    headers['anthropic-version'] ??= '2023-06-01';
    const { u, basePath } = baseOf(i.provider);
    return {
      origin: u.origin,
      path: withQuery(basePath + i.subpath, i.query),
      headers,
      body: serialise(i, i.provider.model_map?.[i.model]),
      spec: anthropic,
      op: i.op,
      format: i.stream ? 'sse' : 'json',
    };
  },
};
