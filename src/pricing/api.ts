import { z } from 'zod';
import { discountSchema, priceOverrideSchema, parseEffective } from './config.ts';
import { TOKEN_CLASSES, type DiscountRow, type OverrideRow } from './types.ts';

/**
 * The /v1/prices* wire format: request bodies and the response schemas (fastify-type-provider-zod
 * serialises through them, and the OpenAPI document the dashboard is typed from shows them).
 * Money and rates are decimal strings; counts are numbers.
 */

const money = z.string().describe('decimal string (USD)');
const rate = z.string().describe('decimal string, USD per 1M tokens (per_request: USD per request)');
const rateFields = Object.fromEntries([...TOKEN_CLASSES, 'per_request'].map((c) => [c, rate.optional()])) as Record<(typeof TOKEN_CLASSES)[number] | 'per_request', z.ZodOptional<typeof rate>>;

/** A price (PriceSpec), or `{note}` for a model the catalog lists without token prices. */
export const priceSpecOut = z.object({
  ...rateFields,
  tiers: z.array(z.object({ above: z.number().int(), ...rateFields })).optional(),
  batch_discount: z.string().optional(),
  note: z.string().optional().describe('only on a model listed without token prices'),
});

const origin = z.enum(['config', 'env', 'api']);
const tokens = z.coerce.number().int().min(0).max(Number.MAX_SAFE_INTEGER);
export const instant = (name: string) =>
  z.string().refine((v) => !Number.isNaN(parseEffective(v).getTime()), `${name} must be a date (YYYY-MM-DD) or an RFC 3339 timestamp`);

/** An override as the API shows it (GET /v1/prices lists it). */
export const overrideOut = z.object({
  provider: z.string(),
  region: z.string(),
  model: z.string(),
  source: z.literal('override'),
  origin,
  effective_from: z.string(),
  prices: priceSpecOut,
  note: z.string().nullable(),
});
export const toOverrideOut = (o: OverrideRow): z.infer<typeof overrideOut> => ({
  provider: o.provider,
  region: o.region,
  model: o.model,
  source: 'override',
  origin: o.origin,
  effective_from: o.effective_from.toISOString(),
  prices: o.spec,
  note: o.note ?? null,
});

/** A discount as the API shows it (listed and as saved). */
export const discountOut = z.object({
  id: z.string().nullable().describe('null for a discount from the config file'),
  provider: z.string().nullable(),
  team: z.string().nullable(),
  percent: z.string().describe('percent off, decimal string'),
  effective_from: z.string(),
  origin,
  note: z.string().nullable(),
});
export const toDiscountOut = (d: DiscountRow): z.infer<typeof discountOut> => ({
  id: d.id ?? null,
  provider: d.provider,
  team: d.team,
  percent: d.percent,
  effective_from: d.effective_from.toISOString(),
  origin: d.origin,
  note: d.note ?? null,
});

const priceSource = z.object({
  catalog: z.object({ name: z.string(), version: z.string(), url: z.string(), license: z.string(), generated_at: z.string() }),
  bedrock_regions: z.string(),
});

/** GET /v1/prices without a model: the catalog's models at `at` (a page of them) and every override. */
const catalogList = z.object({
  source: priceSource,
  total: z.number().int(),
  overrides: z.array(overrideOut),
  data: z.array(
    z.object({
      provider: z.string(),
      region: z.literal('*'),
      model: z.string(),
      name: z.string(),
      deprecated: z.boolean(),
      context_window: z.number().nullable(),
      source: z.literal('catalog'),
      effective_from: z.string().nullable(),
      window_utc: z.string().nullable(),
      price_versions: z.number().int(),
      prices: priceSpecOut,
    }),
  ),
});

/** GET /v1/prices with provider and model: its resolution, what is in force, and every price that could apply. */
const modelPrices = z.object({
  source: priceSource,
  resolution: z.object({
    provider: z.string(),
    catalog_provider: z.string().nullable(),
    model: z.string(),
    model_id: z.string().nullable(),
    region: z.string().nullable(),
    profile: z.string().nullable(),
    layers: z.array(z.string()),
  }),
  in_force: z.object({ source: z.enum(['catalog', 'override']), catalog: z.string(), model: z.string(), effective_from: z.string().nullable() }).nullable(),
  data: z.array(
    z.object({
      provider: z.string(),
      region: z.string(),
      model: z.string(),
      name: z.string().optional(),
      source: z.enum(['catalog', 'override']),
      origin: z.string(),
      effective_from: z.string().nullable(),
      window_utc: z.string().nullable().optional(),
      in_force: z.boolean().optional(),
      prices: priceSpecOut,
      note: z.string().nullable().optional(),
    }),
  ),
});

/** The list (required `total`) is tried first: a model answer has none, so it falls to the second. */
export const pricesOut = z.union([catalogList, modelPrices]);
export type CatalogListOut = z.infer<typeof catalogList>;
export type ModelPricesOut = z.infer<typeof modelPrices>;

export const pricesQuery = z.object({
  provider: z.string().optional(),
  model: z.string().optional(),
  region: z.string().optional(),
  at: instant('at').optional(),
  limit: z.coerce.number().int().min(1).max(2000).default(200),
  offset: z.coerce.number().int().min(0).default(0),
});

export const putPriceBody = priceOverrideSchema.extend({
  provider: z.string().min(1).max(128),
  model: z.string().min(1).max(256),
  region: z.string().min(1).max(128).optional(),
});

export const savedOverrideOut = z.object({
  id: z.string().nullable(),
  provider: z.string(),
  region: z.string(),
  model: z.string(),
  effective_from: z.string(),
  prices: priceSpecOut,
  note: z.string().nullable(),
});

export { discountSchema as putDiscountBody };

export const quoteBody = z
  .object({
    provider: z.string().min(1).max(128),
    model: z.string().min(1).max(256),
    region: z.string().max(128).optional(),
    team: z.string().max(512).optional(),
    input_tokens: tokens.default(0),
    output_tokens: tokens.default(0),
    cache_read_tokens: tokens.optional(),
    cache_write_tokens: tokens.optional(),
    cache_write_5m_tokens: tokens.optional(),
    cache_write_1h_tokens: tokens.optional(),
    reasoning_tokens: tokens.optional(),
    input_audio_tokens: tokens.optional(),
    output_audio_tokens: tokens.optional(),
    batch: z.boolean().optional(),
    time: instant('time').optional(),
  })
  .strict();

const moneyMap = z.record(z.string(), money);

/** The price snapshot stored with every priced llm.usage event (types.ts PriceSnapshot). */
export const snapshotOut = z.object({
  provider: z.string(),
  model: z.string(),
  model_requested: z.string(),
  region: z.string().nullable(),
  source: z.enum(['catalog', 'override']),
  catalog: z.string(),
  effective_from: z.string().nullable(),
  tier_above: z.number().int().nullable(),
  prices: z.record(z.string(), rate),
  breakdown: moneyMap,
  subtotal: money.optional().describe('batch calls and negotiated discounts only, as the four fields after it'),
  batch: z.boolean().optional(),
  batch_discount: z.string().nullable().optional(),
  discount_percent: z.string().nullable().optional(),
  discount_scope: z.string().nullable().optional(),
  cost: money,
});

export const quoteOut = z.object({ currency: z.literal('USD'), cost: money, breakdown: moneyMap, price: snapshotOut });

export const unpricedQuery = z.object({ from: instant('from').optional(), to: instant('to').optional(), limit: z.coerce.number().int().min(1).max(1000).default(100) });

export const unpricedOut = z.object({
  data: z.array(
    z.object({
      provider: z.string().nullable(),
      model: z.string().nullable(),
      region: z.string().nullable(),
      events: z.number().int(),
      input_tokens: z.number().int(),
      output_tokens: z.number().int(),
      first_seen: z.string(),
      last_seen: z.string(),
    }),
  ),
  hint: z.string().optional(),
});

export const repriceBody = z.object({ from: instant('from'), to: instant('to'), all: z.boolean().default(false) }).strict();

export const repriceOut = z.object({
  from: z.string(),
  to: z.string(),
  all: z.boolean(),
  total: z.number().int(),
  scanned: z.number().int(),
  updated: z.number().int(),
  priced: z.number().int(),
  still_unpriced: z.number().int(),
});
