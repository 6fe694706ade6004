import { Decimal } from 'decimal.js';
import type { RawCatalog, RawModel, RawPrice, RawProvider } from './index.ts';

/**
 * Adapter for LiteLLM's `model_prices_and_context_window.json`: USD per token as JSON numbers,
 * keyed by model name (often prefixed `<provider>/`, Bedrock's regional rows as
 * `bedrock/<region>/<model>`), context tiers as `…_above_<N>k_tokens` fields. Read into
 * genai-prices' format, so `tollgate prices update` and `npm run audit:prices` handle one shape.
 */

export interface LitellmEntry {
  litellm_provider?: string;
  mode?: string;
  [field: string]: unknown;
}

/** LiteLLM provider → genai-prices provider id (what Tollgate's resolution expects). */
const PROVIDERS: Record<string, string> = {
  openai: 'openai',
  'text-completion-openai': 'openai',
  anthropic: 'anthropic',
  gemini: 'google',
  'vertex_ai-language-models': 'google',
  bedrock: 'aws',
  bedrock_converse: 'aws',
  mistral: 'mistral',
  deepseek: 'deepseek',
  xai: 'x-ai',
  groq: 'groq',
  azure: 'azure',
  cohere: 'cohere',
  cohere_chat: 'cohere',
};

/** LiteLLM key prefixes that only repeat the provider. */
const PREFIXES = ['openai', 'anthropic', 'gemini', 'mistral', 'deepseek', 'xai', 'groq', 'azure', 'cohere', 'bedrock', 'bedrock_converse'];

/** LiteLLM per-token fields → genai-prices per-million keys. */
const FIELDS: Record<string, string> = {
  input_cost_per_token: 'input_mtok',
  output_cost_per_token: 'output_mtok',
  cache_read_input_token_cost: 'cache_read_mtok',
  cache_creation_input_token_cost: 'cache_write_mtok',
  cache_creation_input_token_cost_above_1hr: 'cache_write_1h_mtok',
  input_cost_per_audio_token: 'input_audio_mtok',
  output_cost_per_audio_token: 'output_audio_mtok',
};
const TIERED = /^(.+)_above_(\d+)k_tokens$/;

/** 3e-7 (per token) → "0.3" (per million), exactly: the number's shortest decimal spelling, shifted. */
export function perMillion(v: number): string {
  return new Decimal(String(v)).times(1_000_000).toFixed();
}

export interface LitellmName {
  provider: string;
  /** The model name with the provider prefix (and Bedrock region) removed. */
  model: string;
  /** Bedrock regional rows: the region. */
  region: string | null;
}

/** Where a LiteLLM key points: genai-prices provider id, model name, region. */
export function litellmName(key: string, e: LitellmEntry): LitellmName {
  const provider = PROVIDERS[e.litellm_provider ?? ''] ?? e.litellm_provider ?? 'unknown';
  let model = key;
  let region: string | null = null;
  const regional = /^bedrock\/([a-z]{2}(?:-gov)?-[a-z]+-\d)\/(.+)$/.exec(model);
  if (regional) {
    region = regional[1]!;
    model = regional[2]!;
  }
  // Strip a prefix that names the entry's own provider ("groq/openai/gpt-oss-120b" keeps "openai/").
  for (;;) {
    const slash = model.indexOf('/');
    const prefix = model.slice(0, slash);
    if (slash <= 0 || !PREFIXES.includes(prefix) || (PROVIDERS[prefix] ?? prefix) !== provider) break;
    model = model.slice(slash + 1);
  }
  return { provider, model: model.toLowerCase(), region };
}

/** One entry's token prices in genai-prices' shape (tiers from the `_above_<N>k_tokens` fields). */
export function litellmPrices(e: LitellmEntry): Record<string, RawPrice> {
  const base: Record<string, string> = {};
  const tiers: Record<string, Array<{ start: number; price: string }>> = {};
  for (const [field, v] of Object.entries(e)) {
    if (typeof v !== 'number' || !Number.isFinite(v) || v < 0) continue;
    const direct = FIELDS[field];
    if (direct) {
      base[direct] = perMillion(v);
      continue;
    }
    const t = TIERED.exec(field);
    const key = t ? FIELDS[t[1]!] : undefined;
    if (t && key) (tiers[key] ??= []).push({ start: Number(t[2]) * 1000, price: perMillion(v) });
  }
  const out: Record<string, RawPrice> = {};
  for (const [key, price] of Object.entries(base)) {
    const ts = tiers[key];
    out[key] = ts?.length ? { base: price, tiers: ts.sort((a, b) => a.start - b.start) } : price;
  }
  return out;
}

/** The entries that carry token prices (LiteLLM's `sample_spec` and image/audio-only rows are skipped). */
export function litellmEntries(table: Record<string, unknown>): Array<[string, LitellmEntry]> {
  return Object.entries(table).filter(
    (x): x is [string, LitellmEntry] => !x[0].startsWith('_') && x[0] !== 'sample_spec' && typeof x[1] === 'object' && x[1] !== null && typeof (x[1] as LitellmEntry).input_cost_per_token === 'number',
  );
}

/**
 * LiteLLM's table as a genai-prices catalog: one model per key (matched by its exact name), grouped
 * by provider. Bedrock's per-region rows have no place in that format and are left out (the
 * audit compares them with Tollgate's regional table instead).
 */
export function litellmToCatalog(table: Record<string, unknown>, source: { version: string; url?: string; generated_at: string }): RawCatalog {
  const providers = new Map<string, RawProvider>();
  for (const [key, e] of litellmEntries(table)) {
    const n = litellmName(key, e);
    if (n.region) continue;
    let p = providers.get(n.provider);
    if (!p) providers.set(n.provider, (p = { id: n.provider, name: n.provider, models: [] }));
    if (p.models.some((m) => m.id === n.model)) continue;
    const model: RawModel = { id: n.model, match: { equals: n.model }, prices: [{ prices: litellmPrices(e) }] };
    p.models.push(model);
  }
  return {
    source: { name: 'litellm', version: source.version, url: source.url ?? 'https://github.com/BerriAI/litellm', license: 'MIT', generated_at: source.generated_at },
    providers: [...providers.values()],
  };
}

/** Whether a parsed JSON file is LiteLLM's table (rather than a genai-prices catalog). */
export function isLitellmTable(v: unknown): v is Record<string, unknown> {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return false;
  if ('providers' in v && Array.isArray((v as { providers: unknown }).providers)) return false;
  return Object.values(v).some((e) => typeof e === 'object' && e !== null && 'litellm_provider' in e);
}
