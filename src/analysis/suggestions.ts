import { Money } from '../shared/money.ts';
import type { PriceOutcome, PriceRequest } from '../pricing/index.ts';
import type { Measures } from '../rollups/service.ts';

/**
 * Savings advice from a window of usage (normally the last 30 days, taken as "a month"), pure
 * apart from the price function passed in (the pricing engine's catalog quote). Every suggestion
 * carries its evidence and a monthly saving priced from the catalog; the assumptions behind an
 * estimate are in its evidence.
 */

/** One rollup cell's measures (reasoning is part of output) by scope, feature, provider and model. */
export type UsageCell = Omit<Measures, 'reasoning_tokens'> & {
  scope: string | null;
  feature: string | null;
  provider: string | null;
  model: string | null;
};

export interface Suggestion {
  kind: 'cheaper_model' | 'prompt_caching' | 'output_heavy' | 'unpriced_model' | 'idle_key' | 'outsized_spender';
  scope: string | null;
  title: string;
  evidence: Record<string, unknown>;
  estimated_monthly_savings: string;
}

export type PriceFn = (req: Omit<PriceRequest, 'time'>) => PriceOutcome;

/** A smaller sibling in the same provider family, first match wins (documented in docs/analysis.md). */
export const CHEAPER_SIBLINGS: Array<[RegExp, string]> = [
  [/^claude-opus-/, 'claude-sonnet-4-5'],
  [/^claude-(sonnet-4|3-7-sonnet|3-5-sonnet)/, 'claude-haiku-4-5'],
  [/^gpt-4o(?!-mini)/, 'gpt-4o-mini'],
  [/^gpt-4\.1(?!-mini|-nano)/, 'gpt-4.1-mini'],
  [/^gpt-5(?!.*-(mini|nano))/, 'gpt-5-mini'],
  [/^o3(-\d|$)/, 'o4-mini'],
  [/^gemini-2\.5-pro/, 'gemini-2.5-flash'],
  [/^gemini-2\.5-flash(?!-lite)/, 'gemini-2.5-flash-lite'],
];

export const THRESHOLDS = {
  /** "Short call": fewer tokens per request than this (input + cache + output). */
  shortCallTokens: 2_000,
  /** A model "dominates" a feature's spend at this share. */
  dominantShare: 0.5,
  /** Long prompts: input (incl. cache) per request at least this (providers' minimum cacheable prefix is ~1,024). */
  longPromptTokens: 1_024,
  /** Cache reads below this share of prompt tokens count as "low". */
  lowCacheShare: 0.1,
  /** Share of a long prompt assumed to be a repeated, cacheable prefix. */
  cacheablePrefix: 0.5,
  minRequests: 100,
  /** Output-heavy: output tokens at least this multiple of prompt tokens, and this share of cost. */
  outputRatio: 2,
  outputCostShare: 0.7,
  /** Output assumed avoidable by a max_tokens cap / terser format. */
  outputTrim: 0.25,
  /** Outsized spender: this multiple of the median spender and this share of the total. */
  outsizedMultiple: 5,
  outsizedShare: 0.1,
};

interface Rates {
  input: Money;
  output: Money;
  cache_read: Money;
  cache_write: Money;
  prices: Record<string, string>;
}

/**
 * Per-token base rates of a model, from quotes of 1,000 tokens of each class (aggregates must not
 * be quoted as one call: a month of tokens would cross the long-context tiers). Null when unpriced.
 */
export function ratesOf(price: PriceFn, provider: string, model: string): Rates | null {
  const one = (usage: { input_tokens: number; output_tokens: number; cache_read_tokens?: number; cache_write_tokens?: number }) => {
    const q = price({ provider, model, usage });
    return q.priced ? q : null;
  };
  const i = one({ input_tokens: 1000, output_tokens: 0 });
  const o = one({ input_tokens: 0, output_tokens: 1000 });
  const r = one({ input_tokens: 0, output_tokens: 0, cache_read_tokens: 1000 });
  const w = one({ input_tokens: 0, output_tokens: 0, cache_write_tokens: 1000 });
  if (!i || !o || !r || !w) return null;
  const per = (q: { cost: string }) => new Money(q.cost).div(1000);
  const mtok = (q: { cost: string }) => new Money(q.cost).times(1000).toFixed();
  return { input: per(i), output: per(o), cache_read: per(r), cache_write: per(w), prices: { input_mtok: mtok(i), output_mtok: mtok(o), cache_read_mtok: mtok(r), cache_write_mtok: mtok(w) } };
}

const costAt = (r: Rates, c: Pick<UsageCell, 'input_tokens' | 'output_tokens' | 'cache_read_tokens' | 'cache_write_tokens'>) =>
  r.input.times(c.input_tokens).plus(r.output.times(c.output_tokens)).plus(r.cache_read.times(c.cache_read_tokens)).plus(r.cache_write.times(c.cache_write_tokens));
const cents = (m: Money) => m.toDecimalPlaces(2, Money.ROUND_DOWN).toFixed(2);

/** A suggestion about one usage cell; its evidence starts with the cell's feature, provider, model and requests. */
function cellSuggestion(kind: Suggestion['kind'], c: UsageCell, title: string, evidence: Record<string, unknown>, savings: Money): Suggestion {
  return { kind, scope: c.scope, title, evidence: { feature: c.feature, provider: c.provider, model: c.model, requests: c.requests, ...evidence }, estimated_monthly_savings: cents(savings) };
}

export function modelSuggestions(cells: UsageCell[], price: PriceFn): Suggestion[] {
  const out: Suggestion[] = [];
  const featureCost = new Map<string, Money>();
  const fkey = (c: UsageCell) => JSON.stringify([c.scope, c.feature]);
  for (const c of cells) featureCost.set(fkey(c), (featureCost.get(fkey(c)) ?? new Money(0)).plus(c.cost));

  for (const c of cells) {
    if (c.requests < THRESHOLDS.minRequests || !c.provider || !c.model) continue;
    const cost = new Money(c.cost);
    const prompt = c.input_tokens + c.cache_read_tokens + c.cache_write_tokens;
    const perRequest = (prompt + c.output_tokens) / c.requests;
    const share = featureCost.get(fkey(c))!.isZero() ? 0 : cost.div(featureCost.get(fkey(c))!).toNumber();
    const where = c.feature ? `feature "${c.feature}"` : 'calls without a feature';

    // 1. Short calls on a big model that dominate a feature's spend: its smaller sibling.
    const sibling = CHEAPER_SIBLINGS.find(([re]) => re.test(c.model!))?.[1];
    if (sibling && sibling !== c.model && perRequest <= THRESHOLDS.shortCallTokens && share >= THRESHOLDS.dominantShare) {
      const rates = ratesOf(price, c.provider, sibling);
      const alt = rates ? costAt(rates, c) : null;
      if (alt && alt.lt(cost)) {
        out.push(
          cellSuggestion('cheaper_model', c, `Try ${sibling} for the short ${c.model} calls of ${where}`, {
            suggested_model: sibling, tokens_per_request: Math.round(perRequest), share_of_feature_cost: Math.round(share * 1000) / 1000,
            cost: cost.toFixed(), cost_with_suggested_model: alt.toDecimalPlaces(6).toFixed(), suggested_model_prices: rates!.prices,
          }, cost.minus(alt)),
        );
      }
    }

    // 2. Long prompts, few cache reads: prompt caching.
    const promptPerRequest = prompt / c.requests;
    const cacheShare = prompt ? c.cache_read_tokens / prompt : 0;
    if (promptPerRequest >= THRESHOLDS.longPromptTokens && cacheShare < THRESHOLDS.lowCacheShare) {
      const moved = Math.floor(c.input_tokens * THRESHOLDS.cacheablePrefix);
      const rates = ratesOf(price, c.provider, c.model);
      if (rates && rates.cache_read.lt(rates.input)) {
        out.push(
          cellSuggestion('prompt_caching', c, `Cache the repeated prompt prefix of ${c.model} in ${where}`, {
            prompt_tokens_per_request: Math.round(promptPerRequest), cache_read_share: Math.round(cacheShare * 1000) / 1000,
            assumed_cacheable_share: THRESHOLDS.cacheablePrefix, tokens_moved_to_cache_reads: moved,
            input_price_mtok: rates.prices.input_mtok, cache_read_price_mtok: rates.prices.cache_read_mtok,
          }, rates.input.minus(rates.cache_read).times(moved)),
        );
      }
    }

    // 3. Output-heavy: most of the cost is output.
    if (prompt > 0 && c.output_tokens >= THRESHOLDS.outputRatio * prompt) {
      const rates = ratesOf(price, c.provider, c.model);
      const outCost = rates ? rates.output.times(c.output_tokens) : null;
      if (outCost && !cost.isZero() && outCost.div(cost).gte(THRESHOLDS.outputCostShare)) {
        out.push(
          cellSuggestion('output_heavy', c, `Cap or shorten the output of ${c.model} in ${where}`, {
            output_tokens_per_request: Math.round(c.output_tokens / c.requests), prompt_tokens_per_request: Math.round(promptPerRequest),
            output_cost: outCost.toDecimalPlaces(6).toFixed(), cost: cost.toFixed(), assumed_trim: THRESHOLDS.outputTrim,
          }, outCost.times(THRESHOLDS.outputTrim)),
        );
      }
    }
  }

  // 4. Unpriced models: their cost is unknown, not zero.
  const unpriced = new Map<string, { scope: string | null; provider: string | null; model: string | null; requests: number }>();
  for (const c of cells) {
    if (!c.unpriced_requests) continue;
    const k = JSON.stringify([c.scope, c.provider, c.model]);
    const u = unpriced.get(k) ?? { scope: c.scope, provider: c.provider, model: c.model, requests: 0 };
    u.requests += c.unpriced_requests;
    unpriced.set(k, u);
  }
  for (const u of unpriced.values()) {
    out.push({
      kind: 'unpriced_model',
      scope: u.scope,
      title: `Add a price for ${u.provider}/${u.model}: its cost is unknown, not zero`,
      evidence: { provider: u.provider, model: u.model, unpriced_requests: u.requests, fix: 'PUT /v1/prices, then tollgate reprice' },
      estimated_monthly_savings: '0.00',
    });
  }
  return out;
}

/** API keys that spent in the previous window but not in this one. */
export function idleKeySuggestions(before: Array<{ scope: string | null; api_key: string | null; requests: number; cost: string }>, recent: Set<string>): Suggestion[] {
  return before
    .filter((k) => k.api_key && k.requests > 0 && !recent.has(JSON.stringify([k.scope, k.api_key])))
    .map((k) => ({
      kind: 'idle_key' as const,
      scope: k.scope,
      title: `Key ${k.api_key} has been idle for 30 days: revoke it or rotate it`,
      evidence: { api_key: k.api_key, requests_in_previous_30_days: k.requests, cost_in_previous_30_days: k.cost, requests_in_last_30_days: 0 },
      estimated_monthly_savings: '0.00',
    }));
}

/** Subjects spending far beyond the rest: a quota trims the excess over the multiple of the median. */
export function outsizedSuggestions(spenders: Array<{ scope: string | null; subject: string | null; cost: string; requests: number }>): Suggestion[] {
  const byScope = new Map<string, typeof spenders>();
  for (const s of spenders) {
    const k = JSON.stringify(s.scope);
    byScope.set(k, [...(byScope.get(k) ?? []), s]);
  }
  const out: Suggestion[] = [];
  for (const list of byScope.values()) {
    if (list.length < 3) continue;
    const costs = list.map((s) => new Money(s.cost)).sort((a, b) => a.comparedTo(b));
    const median = costs.length % 2 ? costs[costs.length >> 1]! : costs[(costs.length >> 1) - 1]!.plus(costs[costs.length >> 1]!).div(2);
    const total = costs.reduce((a, b) => a.plus(b), new Money(0));
    const cap = median.times(THRESHOLDS.outsizedMultiple);
    for (const s of list) {
      const c = new Money(s.cost);
      if (median.isZero() || c.lte(cap) || c.div(total).lt(THRESHOLDS.outsizedShare)) continue;
      out.push({
        kind: 'outsized_spender',
        scope: s.scope,
        title: `${s.subject} spends ${c.div(median).toDecimalPlaces(1).toFixed()}× the median user: set a quota`,
        evidence: { subject: s.subject, cost: c.toFixed(), requests: s.requests, median_subject_cost: median.toFixed(), share_of_total: c.div(total).toDecimalPlaces(3).toNumber(), quota_at: cap.toFixed() },
        estimated_monthly_savings: cents(c.minus(cap)),
      });
    }
  }
  return out;
}
