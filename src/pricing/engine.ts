import { Money } from '../shared/money.ts';
import type { EventRow } from '../events/types.ts';
import { pickVersion, type Catalog, type CatalogModel } from './catalog/index.ts';
import { BEDROCK_REGIONAL, BEDROCK_REGIONS_LABEL } from './catalog/bedrock-regions.ts';
import { DEFAULT_BATCH_DISCOUNTS } from './catalog/batch.ts';
import { compilePrice, priceUsage, type CompiledPrice } from './price.ts';
import { resolveModel, canonicalProvider, normaliseModel, type Resolution } from './resolve.ts';
import type { PriceSnapshot, PriceSpec, Usage } from './types.ts';

/**
 * The in-memory pricer: catalog + Bedrock regional table + overrides + discounts, with resolution
 * cached per (provider, region, model). Synchronous, so the ingest enrich hook stays cheap.
 */

export type OverrideOrigin = 'config' | 'env' | 'api';
const ORIGIN_RANK: Record<OverrideOrigin, number> = { config: 0, env: 1, api: 2 };

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

interface CompiledOverride {
  from: number;
  rank: number;
  row: OverrideRow;
  price: CompiledPrice;
}

/** One candidate source of a price, in precedence order. */
type Layer =
  | { kind: 'override'; series: CompiledOverride[] }
  | { kind: 'regional'; region: string; row: RegionalRow }
  | { kind: 'catalog'; model: CatalogModel };

interface Resolved {
  res: Resolution;
  layers: Layer[];
  /** The catalog the model was found in (the bundled one, or a stored newer version). */
  label: string;
}

/** A newer catalog loaded at run time (`tollgate prices update`), in force from `from` (epoch ms). */
export interface CatalogVersion {
  from: number;
  catalog: Catalog;
}

export interface PriceRequest {
  provider: string;
  model: string;
  region?: string | null;
  team?: string | null;
  /** Epoch ms or Date: the price in force at this time applies. */
  time: number | Date;
  usage: Usage;
  batch?: boolean;
}

export type PriceOutcome = { priced: true; cost: string; snapshot: PriceSnapshot } | { priced: false; resolution: Resolution; reason: string };

export interface EngineOptions {
  catalog: Catalog;
  overrides?: OverrideRow[];
  discounts?: DiscountRow[];
  /** Provider → fraction, merged over the defaults. */
  batchDiscounts?: Record<string, string>;
  /** Max cached resolutions (cleared when full). */
  cacheSize?: number;
  /** Newer catalogs, each in force from its date; the bundled `catalog` is the oldest. */
  versions?: CatalogVersion[];
}

const ONE = new Money(1);
const HUNDRED = new Money(100);

export interface PricingEngine {
  readonly catalog: Catalog;
  price(req: PriceRequest): PriceOutcome;
  /** Fills cost, cost_source, computed_cost, price and unpriced on llm.usage rows in place. */
  priceRows(rows: EventRow[]): void;
  /** Same for one row; returns whether it is priced (by Tollgate or by the provider). */
  priceRow(row: EventRow): void;
  resolve(provider: string, model: string, region?: string | null): Omit<Resolution, 'catalog_model'> & { layers: string[] };
  setOverrides(rows: OverrideRow[]): void;
  setVersions(versions: CatalogVersion[]): void;
  versions(): CatalogVersion[];
  /** The catalog's own price (no override, no regional row) for a model at t, and where it came from. */
  catalogPrice(provider: string, model: string, t: number): { label: string; model_id: string; spec: PriceSpec | null } | null;
  setDiscounts(rows: DiscountRow[]): void;
  overrides(): OverrideRow[];
  discounts(): DiscountRow[];
  batchDiscount(provider: string): string | null;
}

export function createEngine(opts: EngineOptions): PricingEngine {
  const catalog = opts.catalog;
  const cacheSize = opts.cacheSize ?? 50_000;
  const batch: Record<string, string> = { ...DEFAULT_BATCH_DISCOUNTS };
  for (const [k, v] of Object.entries(opts.batchDiscounts ?? {})) batch[canonicalProvider(k, catalog).provider] = v;
  let overrideRows: OverrideRow[] = [];
  let overrideIndex = new Map<string, CompiledOverride[]>();
  let discountRows: DiscountRow[] = [];
  // provider → region → model → resolution: three Map lookups, no string building per event.
  let cache = new Map<string, Map<string, Map<string, Resolved>>>();
  let cached = 0;
  const regionalRows = new Map<string, RegionalRow>();
  let versions: CatalogVersion[] = [];
  function setVersions(v: CatalogVersion[]) {
    versions = [...v].sort((a, b) => a.from - b.from);
    cache = new Map();
    cached = 0;
  }
  /** How many stored versions are in force at t (0: the bundled catalog alone). */
  function epochAt(t: number): number {
    let k = 0;
    while (k < versions.length && versions[k]!.from <= t) k++;
    return k;
  }
  /** The newest catalog in force that knows the model (else the bundled catalog's answer). */
  function resolveIn(provider: string, model: string, region: string | null, epoch: number): { res: Resolution; label: string } {
    for (let k = epoch - 1; k >= 0; k--) {
      const c = versions[k]!.catalog;
      const r = resolveModel(provider, model, region, c);
      if (r.catalog_model) return { res: { ...r, provider: canonicalProvider(provider, catalog).provider }, label: c.label };
    }
    return { res: resolveModel(provider, model, region, catalog), label: catalog.label };
  }

  function setOverrides(rows: OverrideRow[]) {
    const idx = new Map<string, CompiledOverride[]>();
    rows = rows.map((r) => canonicalOverride(r, catalog));
    for (const row of rows) {
      const key = `${row.provider}\u0000${row.region}\u0000${row.model}`;
      const list = idx.get(key) ?? [];
      list.push({ from: row.effective_from.getTime(), rank: ORIGIN_RANK[row.origin], row, price: compilePrice(row.spec) });
      idx.set(key, list);
    }
    // Ascending by start; at equal starts the higher-ranked origin (api > env > config) sorts last and wins.
    for (const list of idx.values()) list.sort((a, b) => a.from - b.from || a.rank - b.rank);
    overrideRows = rows;
    overrideIndex = idx;
    cache = new Map();
    cached = 0;
  }
  function setDiscounts(rows: DiscountRow[]) {
    discountRows = rows.map((r) => ({ ...r }));
  }
  setOverrides(opts.overrides ?? []);
  setDiscounts(opts.discounts ?? []);
  setVersions(opts.versions ?? []);

  function resolveLayers(provider: string, model: string, region: string | null, epoch = versions.length): Resolved {
    // With stored catalog versions the answer depends on which are in force: one cache per epoch.
    const pkey = epoch ? `${provider}\u0001${epoch}` : provider;
    let byRegion = cache.get(pkey);
    if (!byRegion) cache.set(pkey, (byRegion = new Map()));
    let byModel = byRegion.get(region ?? '');
    if (!byModel) byRegion.set(region ?? '', (byModel = new Map()));
    const hit = byModel.get(model);
    if (hit) return hit;
    const { res, label } = resolveIn(provider, model, region, epoch);
    const layers: Layer[] = [];
    const names = [res.model];
    if (res.profile && res.profile !== 'global') names.push(res.model.slice(res.profile.length + 1));
    if (res.model_id && !names.includes(res.model_id)) names.push(res.model_id);
    const regions = res.region ? [res.region, '*'] : ['*'];
    for (const r of regions) {
      for (const n of names) {
        const series = overrideIndex.get(`${res.provider}\u0000${r}\u0000${n}`);
        if (series) layers.push({ kind: 'override', series });
      }
    }
    if (res.provider === 'bedrock' && res.region && res.model_id && res.profile !== 'global') {
      const spec = BEDROCK_REGIONAL[res.model_id]?.[res.region];
      if (spec) {
        const k = `${label}\u0000${res.model_id}\u0000${res.region}`;
        let row = regionalRows.get(k);
        if (!row) regionalRows.set(k, (row = regionalRow(spec, res.catalog_model)));
        layers.push({ kind: 'regional', region: res.region, row });
      }
    }
    if (res.catalog_model) layers.push({ kind: 'catalog', model: res.catalog_model });
    const out = { res, layers, label };
    if (++cached > cacheSize) {
      cache = new Map([[pkey, (byRegion = new Map([[region ?? '', (byModel = new Map())]]))]]);
      cached = 1;
    }
    byModel.set(model, out);
    return out;
  }

  function discountFor(provider: string, team: string | null, t: number): DiscountRow | null {
    let best: DiscountRow | null = null;
    let bestScore = -1;
    let bestFrom = -Infinity;
    for (const d of discountRows) {
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

  function price(req: PriceRequest): PriceOutcome {
    const snap = priceAt(req.provider, req.model, req.region ?? null, req.team ?? null, typeof req.time === 'number' ? req.time : req.time.getTime(), req.usage, req.batch === true);
    if (snap) return { priced: true, cost: snap.cost, snapshot: snap };
    const t = typeof req.time === 'number' ? req.time : req.time.getTime();
    return { priced: false, resolution: resolveLayers(req.provider, req.model, req.region ?? null, epochAt(t)).res, reason: lastReason };
  }

  let lastReason = '';
  /** The snapshot (cost included), or null with lastReason set. */
  function priceAt(reqProvider: string, reqModel: string, region: string | null, team: string | null, t: number, usage: Usage, isBatch: boolean): PriceSnapshot | null {
    const resolved = resolveLayers(reqProvider, reqModel, region, versions.length ? epochAt(t) : 0);
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
      if (layer.model.provider !== res.catalog_provider) provider = canonicalProvider(layer.model.provider, catalog).provider;
      break;
    }
    if (!compiled) {
      lastReason = reason ?? (res.catalog_provider ? `no price for model "${res.model}"` : `unknown provider "${reqProvider}"`);
      return null;
    }
    const result = priceUsage(compiled, usage);
    if (!result) {
      lastReason = `the price for "${modelId}" has no rate for a token class this event uses`;
      return null;
    }
    const batchDiscount = isBatch ? (compiled.batch_discount ?? batch[res.provider] ?? null) : null;
    const discount = discountRows.length ? discountFor(res.provider, team, t) : null;
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

  const scratch: Required<Usage> = { input_tokens: 0, output_tokens: 0, cache_read_tokens: 0, cache_write_tokens: 0, cache_write_1h_tokens: 0, reasoning_tokens: 0, input_audio_tokens: 0, output_audio_tokens: 0 };
  function priceRow(row: EventRow) {
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
      out = priceAt(row.provider, row.model, row.region, row.team, row.time instanceof Date ? row.time.getTime() : new Date(row.time).getTime(), u, d.batch === true);
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

  return {
    catalog,
    price,
    priceRow,
    priceRows(rows) {
      for (let i = 0; i < rows.length; i++) priceRow(rows[i]!);
    },
    resolve(provider, model, region) {
      const r = resolveLayers(provider, model, region ?? null);
      const { catalog_model: _cm, ...res } = r.res;
      return {
        ...res,
        layers: r.layers.map((l) => (l.kind === 'override' ? `override:${l.series[0]!.row.region}/${l.series[0]!.row.model}` : l.kind === 'regional' ? `regional:${l.region}` : `catalog:${l.model.provider}/${l.model.id}`)),
      };
    },
    setOverrides,
    setDiscounts,
    setVersions,
    versions: () => versions,
    catalogPrice(provider, model, t) {
      const r = resolveLayers(provider, model, null, epochAt(t));
      const layer = r.layers.find((l): l is Extract<Layer, { kind: 'catalog' }> => l.kind === 'catalog');
      if (!layer) return null;
      return { label: r.label, model_id: layer.model.id, spec: pickVersion(layer.model.versions(), t).spec };
    },
    overrides: () => overrideRows,
    discounts: () => discountRows,
    batchDiscount: (p) => batch[canonicalProvider(p, catalog).provider] ?? null,
  };
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

/** A Bedrock regional row: its fields over the catalog price in force, compiled once per catalog version. */
interface RegionalRow {
  at(t: number): CompiledPrice;
}

/**
 * A regional row overrides only the fields it sets: rates it leaves out (cache prices, the 1-hour
 * write, tiers) come from the catalog's entry for the model at the event's time.
 */
export function regionalRow(spec: PriceSpec, base: CatalogModel | null): RegionalRow {
  const byVersion = new WeakMap<object, CompiledPrice>();
  const alone = compilePrice(spec);
  return {
    at(t) {
      const v = base ? pickVersion(base.versions(), t) : null;
      if (!v?.spec) return alone;
      let p = byVersion.get(v);
      if (!p) byVersion.set(v, (p = compilePrice(mergeSpec(v.spec, spec))));
      return p;
    },
  };
}

/** `over`'s fields replace `under`'s; everything `over` leaves out is kept. */
export function mergeSpec(under: PriceSpec, over: PriceSpec): PriceSpec {
  const out: PriceSpec = { ...under };
  for (const [k, v] of Object.entries(over)) if (v !== undefined) (out as Record<string, unknown>)[k] = v;
  return out;
}

function num(v: unknown): number {
  const n = typeof v === 'number' ? v : typeof v === 'string' ? Number(v) : 0;
  return Number.isFinite(n) && n > 0 ? Math.floor(n) : 0;
}

/** Keys an override the way events are resolved: Tollgate provider id, lower-case region or '*', normalised model. */
export function canonicalOverride<T extends { provider: string; region: string; model: string }>(row: T, catalog: Catalog): T {
  const provider = canonicalProvider(row.provider, catalog).provider;
  const region = !row.region || row.region === '*' || row.region.toLowerCase() === 'default' ? '*' : row.region.trim().toLowerCase();
  const model = normaliseModel(provider, row.model, null, catalog).model;
  return { ...row, provider, region, model };
}
