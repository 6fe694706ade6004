/**
 * Token estimates for streams that ended without usage (client gone, upstream failure), shared by
 * the gateway and the SDK wrappers. The tokenizer (o200k_base, ~MBs of tables) is loaded only the
 * first time an estimate is needed.
 */
let counter: Promise<(s: string) => number> | undefined;
/** The counter once loaded: estimates on the quota path then answer synchronously. */
let loaded: ((s: string) => number) | undefined;

export function loadCounter(): Promise<(s: string) => number> {
  return (counter ??= import('gpt-tokenizer').then((m) => (loaded = (s: string) => (s ? m.countTokens(s) : 0))));
}

/** The counter if it is already loaded (a synchronous answer), else undefined. */
export const loadedCounter = (): ((s: string) => number) | undefined => loaded;

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

/** Pure: estimated input tokens of a request with `count`: its text plus ~4 tokens of framing per message. */
export function countInput(count: (s: string) => number, body: unknown): number {
  const { text, messages } = requestText(body);
  return count(text) + 4 * messages;
}

/** Estimated input tokens of a request body. */
export async function estimateInput(body: unknown): Promise<number> {
  return countInput(await loadCounter(), body);
}

export async function estimateText(text: string): Promise<number> {
  return (await loadCounter())(text);
}
