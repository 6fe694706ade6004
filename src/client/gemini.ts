import type { GenerateContentParameters, GenerateContentResponse, GoogleGenAI } from '@google/genai';
import { google as googleSpec } from '../gateway/providers/google/index.ts';
import { capture, elapsed, observeStream, recordCall, recordFailure, ZERO, type WrapOptions } from './capture.ts';

// Types only: `@google/genai` is the caller's dependency, never loaded by this module.
type Params = GenerateContentParameters;
type Response = GenerateContentResponse;
type Models = GoogleGenAI['models'];

/** The model as the request path names it (`models/gemini-2.5-pro`, `publishers/google/models/…` → `gemini-2.5-pro`). */
export const pathModel = (model: unknown): unknown => (typeof model === 'string' ? model.replace(/^(?:.*\/)?models\//, '') : model);

const isContent = (v: unknown): v is { parts: unknown[] } => !!v && typeof v === 'object' && Array.isArray((v as any).parts);
const asParts = (v: unknown) => (Array.isArray(v) ? v : [v]).map((p) => (typeof p === 'string' ? { text: p } : p));
const asContent = (v: unknown) => (isContent(v) ? v : { role: 'user', parts: asParts(v) });

/**
 * Pure: the prompt part of the wire body the SDK sends for `params` (contents as Content objects,
 * then systemInstruction, then tools — the SDK's order), for estimating the input tokens of a
 * stream that ended without usage exactly as the gateway estimates the same call from its body.
 */
export function geminiPromptBody(params: Partial<Params> | undefined): Record<string, unknown> {
  const c = params?.contents as unknown;
  const contents = c == null ? [] : Array.isArray(c) && isContent(c[0]) ? c : Array.isArray(c) || !isContent(c) ? [asContent(c)] : [c];
  const config = (params?.config ?? {}) as Record<string, unknown>;
  return {
    contents,
    ...(config.systemInstruction != null ? { systemInstruction: asContent(config.systemInstruction) } : {}),
    ...(config.tools != null ? { tools: config.tools } : {}),
  };
}

/**
 * Records every `models.generateContent` and `models.generateContentStream` call a `@google/genai`
 * client makes, as the same llm.usage events the gateway records for them (token classes from
 * `usageMetadata` by the gateway's own reader, providers/google).
 *
 * One event per HTTP request, like the gateway: the SDK's per-request methods are patched when
 * they exist (automatic function calling and automatic continuation make several requests for one
 * generateContent call), else the public methods.
 */
export function wrapGemini<T>(client: T, o: WrapOptions): T {
  const m = (client as { models?: Models }).models as any;
  if (!m || m.__tollgate) return client;
  m.__tollgate = true;
  const provider = o.provider ?? 'google';
  const perRequest = typeof m.generateContentInternal === 'function' && typeof m.generateContentStreamInternal === 'function';
  const [unary, streaming] = perRequest ? ['generateContentInternal', 'generateContentStreamInternal'] : ['generateContent', 'generateContentStream'];
  const generate: (p: Params) => Promise<Response> = m[unary].bind(m);
  const generateStream: (p: Params) => Promise<AsyncGenerator<Response>> = m[streaming].bind(m);

  m[unary] = async (params: Params): Promise<Response> => {
    const c = capture(o, provider, 'generate_content', false, pathModel(params?.model));
    let r: Response;
    try {
      r = await generate(params);
    } catch (e) {
      recordFailure(c, e);
      throw e;
    }
    const obs = googleSpec.usageFromResponse('generate_content', r);
    recordCall(c, obs.usage ?? ZERO, { latency_ms: elapsed(c), ...(obs.model ? { model: obs.model } : {}) }, 200);
    return r;
  };

  m[streaming] = async (params: Params): Promise<AsyncGenerator<Response>> => {
    const c = capture(o, provider, 'generate_content', true, pathModel(params?.model));
    let source: AsyncGenerator<Response>;
    try {
      source = await generateStream(params);
    } catch (e) {
      recordFailure(c, e);
      throw e;
    }
    return observeStream(
      c,
      source,
      (chunk, acc) => {
        // the SDK's chunk is the upstream's JSON plus its response headers (not part of the event)
        googleSpec.usageFromStreamEvent('generate_content', { data: JSON.stringify({ ...chunk, sdkHttpResponse: undefined }) }, acc);
        return true;
      },
      () => geminiPromptBody(params),
    );
  };
  return client;
}
