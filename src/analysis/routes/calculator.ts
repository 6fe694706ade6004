import { z } from 'zod';
import { ApiError } from '../../shared/errors.ts';
import { Money } from '../../shared/money.ts';
import type { PricingService } from '../../pricing/index.ts';

/**
 * The LLM side of the calculator (GET /v1/analysis/predict with provider, model, requests): a
 * month of requests × average tokens × the catalog price, per model compared.
 */

export interface LlmScenario {
  provider: string;
  models: string[];
  requests: number;
  avg_input_tokens?: number;
  avg_output_tokens?: number;
  avg_cache_read_tokens?: number;
}

export const llmOut = z.object({
  kind: z.literal('llm'),
  currency: z.string(),
  provider: z.string(),
  requests: z.number(),
  avg: z.object({ input_tokens: z.number(), output_tokens: z.number(), cache_read_tokens: z.number() }),
  models: z.array(
    z.object({
      model: z.string(),
      priced: z.boolean(),
      /** Why a model is unpriced. */
      reason: z.string().optional(),
      cost_per_request: z.string().nullable(),
      monthly_cost: z.string().nullable(),
      /** Per-million rates used, by token class. */
      prices: z.record(z.string(), z.string()).optional(),
      formula: z.string().optional(),
    }),
  ),
});

export function llmCalculator(pricing: PricingService | null, q: LlmScenario, now: Date): z.infer<typeof llmOut> {
  if (!pricing) throw new ApiError({ type: 'unavailable', code: 'NO_PRICING', message: 'pricing is not wired in' });
  const usage = { input_tokens: q.avg_input_tokens ?? 0, output_tokens: q.avg_output_tokens ?? 0, cache_read_tokens: q.avg_cache_read_tokens ?? 0 };
  const models = q.models.map((model) => {
    const quote = pricing.engine.price({ provider: q.provider, model, time: now, usage });
    if (!quote.priced) return { model, priced: false, reason: quote.reason, cost_per_request: null, monthly_cost: null };
    const monthly = new Money(quote.cost).times(q.requests).toDecimalPlaces(6).toFixed();
    const p = quote.snapshot.prices;
    const cacheRead = usage.cache_read_tokens ? ` + ${usage.cache_read_tokens} cache read × ${p.cache_read ?? 0}` : '';
    return {
      model,
      priced: true,
      cost_per_request: quote.cost,
      monthly_cost: monthly,
      prices: p,
      formula: `${q.requests} requests × (${usage.input_tokens} input × ${p.input ?? 0} + ${usage.output_tokens} output × ${p.output ?? 0}${cacheRead}) ÷ 1,000,000 = ${monthly} USD`,
    };
  });
  return { kind: 'llm', currency: 'USD', provider: q.provider, requests: q.requests, avg: usage, models };
}
