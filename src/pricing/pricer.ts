import { Money } from '../shared/money.ts';
import type { EventRow } from '../events/types.ts';
import { pickVersion } from './catalog/index.ts';
import { BEDROCK_REGIONS_LABEL } from './catalog/bedrock-regions.ts';
import { canonicalProvider } from './resolve.ts';
import { priceUsage, type CompiledPrice, type PriceResult } from './price.ts';
import { epochAt, resolveLayers, type CompiledOverride, type Layers } from './layers.ts';
import type { DiscountRow, PriceSnapshot, Usage } from './types.ts';

/**
 * Pricing one call: the layer in force at its time, the list price, the batch and negotiated
 * discounts, the snapshot stored with the event. Synchronous and allocation-lean: this is the
 * ingest enrich hook's path (bench:pricing).
 */

export interface Pricer {
  readonly layers: Layers;
  /** Provider → batch discount fraction. */
  readonly batch: Record<string, string>;
  discounts: DiscountRow[];
  /** Why the last priceAt() returned null. */
  reason: string;
}

const ONE = new Money(1);
const HUNDRED = new Money(100);

/** The most specific discount in force at t (team beats provider; the latest start wins a tie). */
function discountFor(discounts: DiscountRow[], provider: string, team: string | null, t: number): DiscountRow | null {
  let best: DiscountRow | null = null;
  let bestScore = -1;
  let bestFrom = -Infinity;
  for (const d of discounts) {
    if (d.provider !== null && d.provider !== provider) continue;
    if (d.team !== null && d.team !== team) continue;
    const from = d.effective_from.getTime();
    if (from > t) continue;
    const score = (d.team !== null ? 2 : 0) + (d.provider !== null ? 1 : 0);
    if (score > bestScore || (score === bestScore && from >= bestFrom)) {
      best = d;
      bestScore = score;
      bestFrom = from;
    }
  }
  return best;
}

/** The snapshot (cost included), or null with p.reason set. */
export function priceAt(p: Pricer, reqProvider: string, reqModel: string, region: string | null, team: string | null, t: number, usage: Usage, isBatch: boolean): PriceSnapshot | null {
  const resolved = resolveLayers(p.layers, reqProvider, reqModel, region, p.layers.versions.length ? epochAt(p.layers, t) : 0);
  const { res, layers } = resolved;
  let compiled: CompiledPrice | null = null;
  let source: PriceSnapshot['source'] = 'catalog';
  let label = resolved.label;
  let effective: string | null = null;
  let modelId = res.model_id ?? res.model;
  let provider = res.provider;
  let reason: string | null = null;
  for (const layer of layers) {
    if (layer.kind === 'override') {
      let v: CompiledOverride | null = null;
      for (const o of layer.series) if (o.from <= t) v = o;
      if (!v) continue;
      compiled = v.price;
      source = 'override';
      label = v.row.origin;
      effective = v.row.effective_from.toISOString();
      modelId = v.row.model;
      break;
    }
    if (layer.kind === 'regional') {
      compiled = layer.row.at(t);
      label = BEDROCK_REGIONS_LABEL;
      break;
    }
    const version = pickVersion(layer.model.versions(), t);
    compiled = version.price;
    effective = version.effective_from;
    if (!compiled) reason = `the catalog lists "${layer.model.id}" without token prices`;
    if (layer.model.provider !== res.catalog_provider) provider = canonicalProvider(layer.model.provider, p.layers.catalog).provider;
    break;
  }
  if (!compiled) {
    p.reason = reason ?? (res.catalog_provider ? `no price for model "${res.model}"` : `unknown provider "${reqProvider}"`);
    return null;
  }
  const result = priceUsage(compiled, usage);
  if (!result) {
    p.reason = `the price for "${modelId}" has no rate for a token class this event uses`;
    return null;
  }
  const discount = p.discounts.length ? discountFor(p.discounts, res.provider, team, t) : null;
  // A snapshot lives as long as its batch and is stored with every event, so the usual one
  // carries only what applies; the discount fields come only with a discount.
  const snapshot: PriceSnapshot = {
    provider,
    model: modelId,
    model_requested: res.model,
    region: res.region,
    source,
    catalog: label,
    effective_from: effective,
    tier_above: result.tier_above,
    prices: result.prices as Record<string, string>,
    breakdown: result.breakdown,
    cost: result.cost,
  };
  if (!isBatch && !discount) return snapshot;
  const batchDiscount = isBatch ? (compiled.batch_discount ?? p.batch[res.provider] ?? null) : null;
  return discounted(snapshot, result, isBatch, batchDiscount, discount);
}

/** The snapshot of a batch call or of a call under a negotiated discount: the subtotal and what came off. */
function discounted(snapshot: PriceSnapshot, result: PriceResult, isBatch: boolean, batchDiscount: string | null, discount: DiscountRow | null): PriceSnapshot {
  let cost = result.cost;
  if ((batchDiscount !== null && batchDiscount !== '0') || discount) {
    let f = ONE;
    if (batchDiscount !== null) f = f.minus(batchDiscount);
    if (discount) f = f.times(HUNDRED.minus(discount.percent).div(HUNDRED));
    cost = new Money(result.cost).times(f).toFixed();
  }
  return {
    ...snapshot,
    subtotal: result.cost,
    batch: isBatch,
    batch_discount: batchDiscount,
    discount_percent: discount?.percent ?? null,
    discount_scope: discount ? (discount.team !== null ? `team:${discount.team}` : `provider:${discount.provider}`) : null,
    cost,
  };
}

/** The usage of the row being priced (pricing is synchronous, so one object serves all). */
const scratch: Required<Usage> = { input_tokens: 0, output_tokens: 0, cache_read_tokens: 0, cache_write_tokens: 0, cache_write_1h_tokens: 0, reasoning_tokens: 0, input_audio_tokens: 0, output_audio_tokens: 0 };

/** Fills cost, cost_source, computed_cost, price and unpriced on an llm.usage row in place. */
export function priceRow(p: Pricer, row: EventRow): void {
  if (row.type !== 'llm.usage') return;
  const d = (row.data ?? {}) as Record<string, unknown>;
  const reported = typeof d.cost === 'string' ? d.cost : typeof d.cost === 'number' ? String(d.cost) : row.cost_source === 'provider' ? row.cost : null;
  let out: PriceSnapshot | null = null;
  if (row.provider && row.model) {
    const u = scratch;
    u.input_tokens = num(row.input_tokens);
    u.output_tokens = num(row.output_tokens);
    u.cache_read_tokens = num(row.cache_read_tokens);
    u.cache_write_tokens = num(row.cache_write_tokens);
    u.cache_write_1h_tokens = num(d.cache_write_1h_tokens);
    u.reasoning_tokens = num(row.reasoning_tokens);
    u.input_audio_tokens = num(d.input_audio_tokens);
    u.output_audio_tokens = num(d.output_audio_tokens);
    out = priceAt(p, row.provider, row.model, row.region, row.team, row.time instanceof Date ? row.time.getTime() : new Date(row.time).getTime(), u, d.batch === true);
  }
  if (out) {
    row.computed_cost = out.cost;
    row.price = out as unknown as Record<string, unknown>;
  } else {
    row.computed_cost = null;
    row.price = null;
  }
  if (reported !== null) {
    row.cost = reported;
    row.cost_source = 'provider';
    row.unpriced = false;
  } else if (out) {
    row.cost = out.cost;
    row.cost_source = 'computed';
    row.unpriced = false;
  } else if (isFailedWithoutUsage(row, d)) {
    // Nothing was used, so nothing is owed: a failed attempt is not an unpriced call (issue 13).
    row.cost = '0';
    row.cost_source = 'computed';
    row.computed_cost = '0';
    row.unpriced = false;
  } else {
    row.cost = null;
    row.cost_source = null;
    row.unpriced = true;
  }
}

const FAILED_STATUS = /^(error|failed|failure|timeout|timed_out|cancelled|canceled|aborted)$/i;

/**
 * A call that failed (an HTTP status of 400 or more, 0 for no answer, an error status word, or an
 * `error` field, as the gateway records failed attempts) and used no token of any class.
 */
export function isFailedWithoutUsage(row: EventRow, d: Record<string, unknown>): boolean {
  if (num(row.input_tokens) || num(row.output_tokens) || num(row.cache_read_tokens) || num(row.cache_write_tokens) || num(row.reasoning_tokens)) return false;
  const st = d.status;
  const code = typeof st === 'number' ? st : typeof st === 'string' && /^\d{1,3}$/.test(st) ? Number(st) : null;
  if (code !== null) return code === 0 || code >= 400;
  if (typeof st === 'string') return FAILED_STATUS.test(st.trim());
  return d.error !== undefined && d.error !== null && d.error !== false && d.error !== '';
}

function num(v: unknown): number {
  const n = typeof v === 'number' ? v : typeof v === 'string' ? Number(v) : 0;
  return Number.isFinite(n) && n > 0 ? Math.floor(n) : 0;
}
