import type { RawCatalog, RawModel, RawPrice, MatchLogic } from './index.ts';

/**
 * Tollgate's corrections to genai-prices data, kept by hand (the generated JSON is never edited).
 * Each one was found by cross-checking quotes against LiteLLM's table and the providers' own
 * pages (issue 20; docs/pricing.md "Corrections"). They are applied to every catalog in
 * genai-prices' format — the bundled one and any newer version loaded by `tollgate prices update` —
 * and each checks first that the data still has the flaw it fixes, so a source that has fixed it
 * since is left alone.
 */

export interface Correction {
  provider: string;
  model: string;
  /** What is wrong in the source and what the provider bills; shown by `tollgate prices update`. */
  why: string;
  /** Changes the model in place when it still has the flaw; returns whether it changed anything. */
  fix(m: RawModel): boolean;
}

/** Per-million rates as genai-prices keys them. */
type Rates = Record<string, string>;

/** Adds a context tier (prompt above `start` tokens) to each named price that has none yet. */
function addTier(start: number, rates: Rates): (m: RawModel) => boolean {
  return (m) => {
    let changed = false;
    for (const set of m.prices) {
      if (set.when) continue; // only the unconditional price; dated ones carry their own shape
      for (const [key, price] of Object.entries(rates)) {
        const cur = set.prices[key];
        if (cur === undefined || typeof cur !== 'string') continue;
        set.prices[key] = { base: cur, tiers: [{ start, price }] } satisfies RawPrice;
        changed = true;
      }
    }
    return changed;
  };
}

/** Moves a tier start written one below the provider's boundary (271,999) to the boundary (272,000). */
function moveTierStart(from: number, to: number): (m: RawModel) => boolean {
  return (m) => {
    let changed = false;
    for (const set of m.prices)
      for (const p of Object.values(set.prices))
        if (typeof p !== 'string')
          for (const t of p.tiers)
            if (t.start === from) {
              t.start = to;
              changed = true;
            }
    return changed;
  };
}

/**
 * Appends a dated price while the source still bills the stale list (`staleInput`: the input rates
 * of the prices it replaces) and has no price change on or after that date of its own.
 */
function addDated(start: string, prices: Rates, staleInput: string[]): (m: RawModel) => boolean {
  return (m) => {
    const day = start.slice(0, 10);
    if (m.prices.some((p) => p.when?.type === 'start_date' && p.when.start_date.slice(0, 10) >= day)) return false;
    if (!m.prices.some((p) => typeof p.prices.input_mtok === 'string' && staleInput.includes(p.prices.input_mtok))) return false;
    m.prices.push({ when: { type: 'start_date', start_date: start }, prices: { ...prices } });
    return true;
  };
}

/** Sets a rate the unconditional price lacks (never replaces one the source has). */
function addRate(key: string, value: string): (m: RawModel) => boolean {
  return (m) => {
    const base = m.prices.find((p) => !p.when);
    if (!base || base.prices[key] !== undefined) return false;
    base.prices[key] = value;
    return true;
  };
}

function names(match: MatchLogic): string[] {
  if ('equals' in match) return [match.equals];
  if ('or' in match) return match.or.flatMap(names);
  return [];
}

/** Adds exact-name aliases to a model (names it does not match yet). */
function addAliases(...aliases: string[]): (m: RawModel) => boolean {
  return (m) => {
    const have = new Set(names(m.match));
    const missing = aliases.filter((a) => !have.has(a));
    if (!missing.length) return false;
    m.match = { or: [m.match, ...missing.map((equals) => ({ equals }))] };
    return true;
  };
}

/** Removes exact-name aliases (a `-latest` name that moved to a newer model). */
function dropAliases(...aliases: string[]): (m: RawModel) => boolean {
  return (m) => {
    const drop = new Set(aliases);
    const before = JSON.stringify(m.match);
    const prune = (x: MatchLogic): MatchLogic | null => {
      if ('equals' in x) return drop.has(x.equals) ? null : x;
      if ('or' in x) {
        const kept = x.or.map(prune).filter((y): y is MatchLogic => y !== null);
        return kept.length ? { or: kept } : null;
      }
      return x;
    };
    m.match = prune(m.match) ?? { equals: m.id };
    return JSON.stringify(m.match) !== before;
  };
}

const all = (...fs: Array<(m: RawModel) => boolean>) => (m: RawModel) => fs.map((f) => f(m)).some(Boolean);

/** Anthropic's long-context rates for Sonnet 4 / 4.5 above 200k prompt tokens (2× input, 1.5× output). */
const SONNET_LONG = { input_mtok: '6', output_mtok: '22.5', cache_read_mtok: '0.6', cache_write_mtok: '7.5', cache_write_1h_mtok: '12' };
/** The same +10 % for Bedrock's regional (in-region and geo-profile) Sonnet 4.5 endpoints. */
const SONNET_LONG_REGIONAL = { input_mtok: '6.6', output_mtok: '24.75', cache_read_mtok: '0.66', cache_write_mtok: '8.25', cache_write_1h_mtok: '13.2' };

/** DeepSeek's price list from 2025-09-05 16:00 UTC (V3.1; the night discount ended) and from 2025-09-29 (V3.2). */
const DEEPSEEK_V31 = { input_mtok: '0.56', cache_read_mtok: '0.07', output_mtok: '1.68' };
const DEEPSEEK_V32 = { input_mtok: '0.28', cache_read_mtok: '0.028', output_mtok: '0.42' };
/** Input rates of the V3 / R1 list (standard and night): a source still billing them is stale. */
const DEEPSEEK_V3_INPUT = ['0.27', '0.55', '0.135'];
const deepseek = all(addDated('2025-09-05T16:00:00Z', DEEPSEEK_V31, DEEPSEEK_V3_INPUT), addDated('2025-09-29', DEEPSEEK_V32, [...DEEPSEEK_V3_INPUT, '0.56']));

export const CORRECTIONS: Correction[] = [
  {
    provider: 'deepseek',
    model: 'deepseek-chat',
    why: 'DeepSeek bills V3.1 prices (0.56 / 0.07 / 1.68, no night discount) from 2025-09-05 16:00 UTC and V3.2 prices (0.28 / 0.028 / 0.42) from 2025-09-29; the source still has the V3 list',
    fix: deepseek,
  },
  {
    provider: 'deepseek',
    model: 'deepseek-reasoner',
    why: 'deepseek-reasoner is billed like deepseek-chat since V3.1: 0.56 / 0.07 / 1.68 from 2025-09-05 16:00 UTC, 0.28 / 0.028 / 0.42 from 2025-09-29; the source still has the R1 list',
    fix: deepseek,
  },
  {
    provider: 'anthropic',
    model: 'claude-sonnet-4-0',
    why: 'Claude Sonnet 4 bills 6 / 22.50 (cache 0.60 / 7.50 / 12) for the whole request above 200k prompt tokens; the source has no tier',
    fix: addTier(200_000, SONNET_LONG),
  },
  // Bedrock takes Anthropic's 1-hour cache TTL for the 4.5 models at Anthropic's rate (2× input);
  // without a rate of its own a 1-hour write was billed at the 5-minute rate. (Before the tier
  // correction below, which then tiers this rate too.)
  ...(
    [
      ['global.anthropic.claude-sonnet-4-5-20250929-v1:0', '6'],
      ['regional.anthropic.claude-sonnet-4-5-20250929-v1:0', '6.6'],
      ['global.anthropic.claude-haiku-4-5-20251001-v1:0', '2'],
      ['regional.anthropic.claude-haiku-4-5-20251001-v1:0', '2.2'],
    ] as const
  ).map(([model, rate]): Correction => ({ provider: 'aws', model, why: `Bedrock bills 1-hour cache writes at 2× input (${rate}); the source has no 1-hour rate`, fix: addRate('cache_write_1h_mtok', rate) })),
  ...['global.anthropic.claude-sonnet-4-20250514-v1:0', 'regional.anthropic.claude-sonnet-4-20250514-v1:0', 'global.anthropic.claude-sonnet-4-5-20250929-v1:0'].map(
    (model): Correction => ({ provider: 'aws', model, why: 'Bedrock bills Claude Sonnet 4 / 4.5 above 200k prompt tokens at 6 / 22.50 like Anthropic; the source has no tier', fix: addTier(200_000, SONNET_LONG) }),
  ),
  {
    provider: 'aws',
    model: 'regional.anthropic.claude-sonnet-4-5-20250929-v1:0',
    why: "Bedrock's regional Sonnet 4.5 (+10 %) bills 6.60 / 24.75 above 200k prompt tokens; the source has no tier",
    fix: addTier(200_000, SONNET_LONG_REGIONAL),
  },
  ...['gpt-5.4', 'gpt-5.4-pro'].map(
    (model): Correction => ({ provider: 'openai', model, why: 'OpenAI bills the long-context price for prompts above 272,000 tokens; the source writes the tier start as 271,999', fix: moveTierStart(271_999, 272_000) }),
  ),
  ...['grok-4-fast-reasoning', 'grok-4-fast-non-reasoning', 'grok-4-1-fast-reasoning', 'grok-4-1-fast-non-reasoning'].map(
    (model): Correction => ({ provider: 'x-ai', model, why: 'xAI bills Grok 4 Fast and 4.1 Fast at 0.40 / 1.00 for prompts above 128k tokens; the source has no tier', fix: addTier(128_000, { input_mtok: '0.4', output_mtok: '1' }) }),
  ),
  {
    provider: 'google',
    model: 'gemini-2.0-flash-lite',
    why: 'Gemini 2.0 Flash-Lite cache reads cost 0.01875 (25 % of input); the source has no cache-read price, so cached tokens were charged at the input rate',
    fix: addRate('cache_read_mtok', '0.01875'),
  },
  {
    provider: 'mistral',
    model: 'mistral-large',
    why: 'mistral-large-latest points at Mistral Large 3 (mistral-large-2512, 0.5 / 1.5) since December 2025, not Large 2 (2 / 6)',
    fix: dropAliases('mistral-large-latest'),
  },
  { provider: 'mistral', model: 'mistral-large-2512', why: 'mistral-large-latest is Mistral Large 3 (0.5 / 1.5)', fix: addAliases('mistral-large-latest') },
  {
    provider: 'mistral',
    model: 'mistral-small-latest',
    why: 'mistral-small-2503 (Small 3.1) and mistral-small-2506 (Small 3.2) are billed 0.1 / 0.3 like mistral-small-latest; the source does not know the dated names',
    fix: addAliases('mistral-small-2503', 'mistral-small-2506'),
  },
  { provider: 'mistral', model: 'mistral-nemo', why: 'open-mistral-nemo-2407 is Mistral Nemo (0.15 / 0.15); the source knows only the undated names', fix: addAliases('open-mistral-nemo-2407', 'mistral-nemo-2407') },
];

export interface AppliedCorrection {
  provider: string;
  model: string;
  why: string;
}

/** A copy of the catalog with every correction that still applies; the list of those applied. */
export function applyCorrections(source: RawCatalog): { catalog: RawCatalog; applied: AppliedCorrection[] } {
  const catalog = structuredClone(source);
  const applied: AppliedCorrection[] = [];
  for (const c of CORRECTIONS) {
    const m = catalog.providers.find((p) => p.id === c.provider)?.models.find((x) => x.id === c.model);
    if (m && c.fix(m)) applied.push({ provider: c.provider, model: c.model, why: c.why });
  }
  return { catalog, applied };
}
