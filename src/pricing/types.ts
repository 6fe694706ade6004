import type { Catalog } from './catalog/index.ts';

/**
 * Pricing vocabulary. Prices are USD per million tokens, written as decimal strings; a price
 * "version" is the set of rates in force from an effective date (or in a time-of-day window).
 */

/** The token classes Tollgate prices. They never overlap (see DESIGN.md "Token classes"). */
export const TOKEN_CLASSES = [
  'input',
  'cache_read',
  'cache_write',
  'cache_write_1h',
  'input_audio',
  'output',
  'reasoning',
  'output_audio',
] as const;
export type TokenClass = (typeof TOKEN_CLASSES)[number];

/** Per-million rates as decimal strings; `per_request` is USD per request. */
export type RateSpec = Partial<Record<TokenClass | 'per_request', string>>;

/** A price as written by a user (config, TOLLGATE_PRICING, PUT /v1/prices) or generated from the catalog. */
export interface PriceSpec extends RateSpec {
  /** Context-length tiers: when the prompt (input + cache read + cache write) is above `above`, these rates replace the base ones. */
  tiers?: Array<RateSpec & { above: number }>;
  /** Batch discount as a fraction (0.5 = half price) for events with data.batch === true; overrides the provider default. */
  batch_discount?: string;
}

/** Usage as DESIGN.md defines it: classes never overlap; reasoning and audio are parts of output / input. */
export interface Usage {
  input_tokens: number;
  output_tokens: number;
  cache_read_tokens?: number;
  /** Total cache writes (5-minute + 1-hour). */
  cache_write_tokens?: number;
  /** Part of cache_write_tokens written with the 1-hour TTL (Anthropic); the rest is 5-minute. */
  cache_write_1h_tokens?: number;
  /** Part of output_tokens that was reasoning; priced apart only where the provider does. */
  reasoning_tokens?: number;
  /** Part of input_tokens that was audio. */
  input_audio_tokens?: number;
  /** Part of output_tokens that was audio. */
  output_audio_tokens?: number;
}

/** Where a price came from. */
export type PriceSource = 'catalog' | 'override';

export interface Breakdown {
  /** Cost per class (only classes with tokens, plus `request` for a per-request fee), decimal strings. */
  [cls: string]: string;
}

export interface PriceSnapshot {
  provider: string;
  model: string;
  model_requested: string;
  region: string | null;
  source: PriceSource;
  /** Which table: "genai-prices@0.1.8", "bedrock-regions@2026-11-22", "config", "env", "api". */
  catalog: string;
  effective_from: string | null;
  /** The context tier applied (prompt tokens above this), or null for base rates. */
  tier_above: number | null;
  /** Per-million rates used for the classes present, decimal strings. */
  prices: Record<string, string>;
  breakdown: Breakdown;
  /**
   * Sum of the breakdown, before discounts. This and the four fields after it are present only on
   * events priced as batch calls or under a negotiated discount; without them, cost is the sum of
   * the breakdown.
   */
  subtotal?: string;
  batch?: boolean;
  batch_discount?: string | null;
  discount_percent?: string | null;
  discount_scope?: string | null;
  cost: string;
}

/** Who set an override or discount; at equal start dates api beats env beats config. */
export type OverrideOrigin = 'config' | 'env' | 'api';

/** A price override for provider/region/model from effective_from (config, env or API). */
export interface OverrideRow {
  provider: string;
  /** '*' for every region. */
  region: string;
  model: string;
  spec: PriceSpec;
  effective_from: Date;
  origin: OverrideOrigin;
  id?: string;
  note?: string | null;
}

/** A negotiated discount for a provider and/or a team from effective_from. */
export interface DiscountRow {
  provider: string | null;
  team: string | null;
  /** Percent off, decimal string ("12.5"). */
  percent: string;
  effective_from: Date;
  origin: OverrideOrigin;
  id?: string;
  note?: string | null;
}

/** A newer catalog loaded at run time (`tollgate prices update`), in force from `from` (epoch ms). */
export interface CatalogVersion {
  from: number;
  catalog: Catalog;
}
