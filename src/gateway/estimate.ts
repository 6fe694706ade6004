/**
 * The quota reservation's estimate of a call (the tokenizer and the prompt-text reader live in
 * providers/estimate.ts, shared with the SDK).
 */
import { countInput, loadCounter, loadedCounter } from './providers/estimate.ts';

/** Output cap assumed when the request sets none (the quota reservation must not be zero). */
export const DEFAULT_OUTPUT_CAP = 4096;

/** Pure: the output tokens a request allows (max_tokens and its spellings across the APIs), or undefined. */
export function requestedOutputCap(body: Record<string, any>): number | undefined {
  const gc = body.generationConfig;
  for (const v of [body.max_tokens, body.max_completion_tokens, body.max_output_tokens, gc && typeof gc === 'object' ? gc.maxOutputTokens : undefined, body.inferenceConfig?.maxTokens]) {
    if (typeof v === 'number' && Number.isFinite(v) && v > 0) return Math.floor(v);
  }
  return undefined;
}

/**
 * The quota reservation's estimate of a call: its prompt tokens counted plus the output it allows
 * (max_tokens, else DEFAULT_OUTPUT_CAP). Synchronous once the tokenizer is loaded.
 */
export function estimateCallTokens(body: Record<string, any>, _model: string): number | Promise<number> {
  const out = requestedOutputCap(body) ?? DEFAULT_OUTPUT_CAP;
  const count = (c: (s: string) => number) => countInput(c, body) + out;
  const loaded = loadedCounter();
  return loaded ? count(loaded) : loadCounter().then(count);
}
