/**
 * The token classes of one call, in the llm.usage event's terms (DESIGN.md): classes never
 * overlap — `input_tokens` is billed at the plain input rate, cache reads/writes are apart,
 * `output_tokens` includes `reasoning_tokens`.
 */
export interface Usage {
  input_tokens: number;
  output_tokens: number;
  cache_read_tokens: number;
  cache_write_tokens: number;
  /** Anthropic only: the 5-minute and 1-hour parts of cache_write_tokens, when the upstream says. */
  cache_write_5m_tokens?: number;
  cache_write_1h_tokens?: number;
  reasoning_tokens: number;
}

/** What a provider's pure functions learn from a response or a stream. */
export interface Observed {
  usage?: Usage;
  /** The model the upstream says answered (often a dated snapshot of the requested one). */
  model?: string;
}

/** Accumulator threaded through usageFromStreamEvent calls for one stream. */
export interface StreamAcc extends Observed {
  /** Generated text seen so far (for estimating output tokens when usage never arrives). */
  text: string;
  /** True once the upstream signalled the normal end of the stream. */
  done: boolean;
  /** True once the stream carried its final usage (later events cannot change it). */
  usageFinal?: boolean;
  /** An error event the upstream sent inside the stream. */
  error?: string;
}

export interface SseEvent {
  event?: string;
  data: string;
}

/** The operations a gateway route performs; each provider knows the ones it serves. */
export type Operation = 'chat' | 'responses' | 'embeddings' | 'messages' | 'count_tokens' | 'converse' | 'invoke' | 'generate_content';

export interface ProviderSpec {
  /** Canonical provider family name. */
  name: string;
  usageFromResponse(op: Operation, body: unknown): Observed;
  usageFromStreamEvent(op: Operation, event: SseEvent, acc: StreamAcc): void;
}

export const newAcc = (): StreamAcc => ({ text: '', done: false });

export const n = (v: unknown): number => (typeof v === 'number' && Number.isFinite(v) && v >= 0 ? Math.floor(v) : 0);

export function obj(v: unknown): Record<string, any> | undefined {
  return v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, any>) : undefined;
}

export function parseJson(s: string): unknown {
  try {
    return JSON.parse(s);
  } catch {
    return undefined;
  }
}
