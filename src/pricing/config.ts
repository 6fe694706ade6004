import { z } from 'zod';

/**
 * `pricing:` config section (imported by src/config.ts).
 *
 *   pricing:
 *     overrides:            # provider → region ('*' = any) → model → prices (USD per 1M tokens)
 *       openai:
 *         '*':
 *           gpt-4o: { input: "2.5", output: "10", cache_read: "1.25" }
 *       bedrock:
 *         ap-northeast-2:
 *           anthropic.claude-3-5-sonnet-20240620-v1:0: { input: "3", output: "15", effective_from: "2026-01-01" }
 *     discounts:            # negotiated, percent off the computed cost
 *       - { provider: openai, percent: "10" }
 *       - { team: research, percent: "5", effective_from: "2026-03-01" }
 *     batch_discounts: { openai: "0.5" }   # fraction off for data.batch === true
 *
 * TOLLGATE_PRICING holds the same `overrides` map as JSON; where both name the same price at the
 * same effective date, the environment wins.
 */

const decimal = z
  .union([z.string(), z.number()])
  .transform((v) => (typeof v === 'number' ? String(v) : v.trim()))
  .refine((v) => /^\d+(\.\d+)?$/.test(v), 'must be a non-negative decimal such as "2.5"');

const effectiveFrom = z
  .string()
  .refine((v) => !Number.isNaN(Date.parse(/^\d{4}-\d{2}-\d{2}$/.test(v) ? `${v}T00:00:00Z` : v)), 'must be a date (YYYY-MM-DD) or an RFC 3339 timestamp');

const rates = {
  input: decimal.optional(),
  output: decimal.optional(),
  cache_read: decimal.optional(),
  cache_write: decimal.optional(),
  cache_write_1h: decimal.optional(),
  reasoning: decimal.optional(),
  input_audio: decimal.optional(),
  output_audio: decimal.optional(),
  per_request: decimal.optional(),
};

/** One price as config, env and PUT /v1/prices write it. */
export const priceSpecSchema = z
  .object({
    ...rates,
    tiers: z
      .array(z.object({ above: z.number().int().min(0), ...rates }).strict())
      .optional(),
    batch_discount: decimal.refine((v) => Number(v) <= 1, 'must be a fraction between 0 and 1').optional(),
  })
  .strict();

export const priceOverrideSchema = priceSpecSchema.extend({ effective_from: effectiveFrom.optional(), note: z.string().max(500).optional() }).strict();

const overridesMap = z.record(z.string().min(1), z.record(z.string().min(1), z.record(z.string().min(1), priceOverrideSchema)));

/** TOLLGATE_PRICING arrives as a JSON string. */
const jsonOverrides = z.preprocess((v, ctx) => {
  if (typeof v !== 'string') return v;
  try {
    return JSON.parse(v);
  } catch (e) {
    ctx.addIssue({ code: 'custom', message: `is not valid JSON (TOLLGATE_PRICING must be {"provider":{"region":{"model":{"input":"…","output":"…"}}}}): ${(e as Error).message}` });
    return z.NEVER;
  }
}, overridesMap);

export const discountSchema = z
  .object({
    provider: z.string().min(1).optional(),
    team: z.string().min(1).optional(),
    percent: decimal.refine((v) => Number(v) <= 100, 'must be between 0 and 100'),
    effective_from: effectiveFrom.optional(),
    note: z.string().max(500).optional(),
  })
  .strict()
  .refine((d) => d.provider !== undefined || d.team !== undefined, 'a discount names a provider, a team, or both');

export const pricingConfigSchema = z
  .object({
    overrides: overridesMap.default({}),
    /** Set from TOLLGATE_PRICING (JSON); same shape as overrides. */
    env_overrides: jsonOverrides.optional(),
    discounts: z.array(discountSchema).default([]),
    batch_discounts: z.record(z.string(), decimal.refine((v) => Number(v) <= 1, 'must be a fraction between 0 and 1')).default({}),
    /** How often (seconds) a server re-reads overrides set through the API by other processes. */
    refresh_seconds: z.coerce.number().int().min(0).default(60),
  })
  .strict()
  .default({ overrides: {}, discounts: [], batch_discounts: {}, refresh_seconds: 60 });

export type PricingConfig = z.infer<typeof pricingConfigSchema>;

export const PRICING_ENV: Array<[string, string[]]> = [
  ['TOLLGATE_PRICING', ['pricing', 'env_overrides']],
  ['TOLLGATE_PRICING_REFRESH_SECONDS', ['pricing', 'refresh_seconds']],
];

/** "2026-01-01" or an RFC 3339 timestamp → Date (a bare date is midnight UTC). */
export function parseEffective(v: string | undefined): Date {
  if (!v) return new Date(0);
  return new Date(/^\d{4}-\d{2}-\d{2}$/.test(v) ? `${v}T00:00:00Z` : v);
}
