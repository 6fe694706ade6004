/**
 * Token estimates for streams that ended without usage (client gone, upstream failure). The
 * tokenizer (o200k_base, ~MBs of tables) is loaded only the first time an estimate is needed.
 */
let counter: Promise<(s: string) => number> | undefined;
/** The counter once loaded: estimates on the quota path then answer synchronously. */
let loaded: ((s: string) => number) | undefined;

export function loadCounter(): Promise<(s: string) => number> {
  return (counter ??= import('gpt-tokenizer').then((m) => (loaded = (s: string) => (s ? m.countTokens(s) : 0))));
}

const TEXT_KEYS = new Set(['content', 'text', 'input', 'instructions', 'system', 'prompt', 'arguments', 'thinking']);

/** Pure: the prompt text of a request body (every string under content/text/input/system/…). */
export function requestText(body: unknown): { text: string; messages: number } {
  const parts: string[] = [];
  let messages = 0;
  const walk = (v: unknown, take: boolean) => {
    if (typeof v === 'string') {
      if (take) parts.push(v);
    } else if (Array.isArray(v)) for (const x of v) walk(x, take);
    else if (v && typeof v === 'object') {
      for (const [k, x] of Object.entries(v)) {
        if (k === 'messages' && Array.isArray(x)) messages += x.length;
        walk(x, take || TEXT_KEYS.has(k));
      }
    }
  };
  walk(body, false);
  return { text: parts.join('\n'), messages };
}

/** Estimated input tokens of a request: its text plus ~4 tokens of framing per message. */
export async function estimateInput(body: unknown): Promise<number> {
  const count = await loadCounter();
  const { text, messages } = requestText(body);
  return count(text) + 4 * messages;
}

export async function estimateText(text: string): Promise<number> {
  return (await loadCounter())(text);
}

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
  const count = (c: (s: string) => number) => {
    const { text, messages } = requestText(body);
    return c(text) + 4 * messages + out;
  };
  return loaded ? count(loaded) : loadCounter().then(count);
}
