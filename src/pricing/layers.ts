import { pickVersion, type Catalog, type CatalogModel } from './catalog/index.ts';
import { BEDROCK_REGIONAL } from './catalog/bedrock-regions.ts';
import { compilePrice, type CompiledPrice } from './price.ts';
import { resolveModel, canonicalProvider, normaliseModel, type Resolution } from './resolve.ts';
import type { CatalogVersion, OverrideOrigin, OverrideRow, PriceSpec } from './types.ts';

/**
 * Where a price can come from, in precedence order: the override series for the model, the
 * Bedrock regional row, the catalog (the newest stored version in force that knows the model,
 * else the bundled one). The answer is cached per (provider, catalog epoch, region, model).
 * State lives in a `Layers` object the engine owns; these functions are the only ones that change it.
 */

const ORIGIN_RANK: Record<OverrideOrigin, number> = { config: 0, env: 1, api: 2 };

export interface CompiledOverride {
  from: number;
  rank: number;
  row: OverrideRow;
  price: CompiledPrice;
}

/** A Bedrock regional row: its fields over the catalog price in force, compiled once per catalog version. */
export interface RegionalRow {
  at(t: number): CompiledPrice;
}

/** One candidate source of a price, in precedence order. */
export type Layer =
  | { kind: 'override'; series: CompiledOverride[] }
  | { kind: 'regional'; region: string; row: RegionalRow }
  | { kind: 'catalog'; model: CatalogModel };

export interface Resolved {
  res: Resolution;
  layers: Layer[];
  /** The catalog the model was found in (the bundled one, or a stored newer version). */
  label: string;
}

export interface Layers {
  readonly catalog: Catalog;
  readonly cacheSize: number;
  /** Stored catalog versions, ascending by `from`. */
  versions: CatalogVersion[];
  overrideRows: OverrideRow[];
  /** provider \0 region \0 model → override series, ascending by start then origin rank. */
  overrideIndex: Map<string, CompiledOverride[]>;
  /** provider[\1 epoch] → region → model → resolution: three Map lookups, no string building per event. */
  cache: Map<string, Map<string, Map<string, Resolved>>>;
  cached: number;
  /** Regional rows by catalog label, model id and region (compiled once). */
  regionalRows: Map<string, RegionalRow>;
}

export function createLayers(catalog: Catalog, cacheSize: number): Layers {
  return { catalog, cacheSize, versions: [], overrideRows: [], overrideIndex: new Map(), cache: new Map(), cached: 0, regionalRows: new Map() };
}

function clearCache(s: Layers): void {
  s.cache = new Map();
  s.cached = 0;
}

export function setVersions(s: Layers, v: CatalogVersion[]): void {
  s.versions = [...v].sort((a, b) => a.from - b.from);
  clearCache(s);
}

export function setOverrides(s: Layers, rows: OverrideRow[]): void {
  const idx = new Map<string, CompiledOverride[]>();
  rows = rows.map((r) => canonicalOverride(r, s.catalog));
  for (const row of rows) {
    const key = `${row.provider}\u0000${row.region}\u0000${row.model}`;
    const list = idx.get(key) ?? [];
    list.push({ from: row.effective_from.getTime(), rank: ORIGIN_RANK[row.origin], row, price: compilePrice(row.spec) });
    idx.set(key, list);
  }
  // Ascending by start; at equal starts the higher-ranked origin (api > env > config) sorts last and wins.
  for (const list of idx.values()) list.sort((a, b) => a.from - b.from || a.rank - b.rank);
  s.overrideRows = rows;
  s.overrideIndex = idx;
  clearCache(s);
}

/** How many stored versions are in force at t (0: the bundled catalog alone). */
export function epochAt(s: Layers, t: number): number {
  let k = 0;
  while (k < s.versions.length && s.versions[k]!.from <= t) k++;
  return k;
}

/** The newest catalog in force that knows the model (else the bundled catalog's answer). */
function resolveIn(s: Layers, provider: string, model: string, region: string | null, epoch: number): { res: Resolution; label: string } {
  for (let k = epoch - 1; k >= 0; k--) {
    const c = s.versions[k]!.catalog;
    const r = resolveModel(provider, model, region, c);
    if (r.catalog_model) return { res: { ...r, provider: canonicalProvider(provider, s.catalog).provider }, label: c.label };
  }
  return { res: resolveModel(provider, model, region, s.catalog), label: s.catalog.label };
}

/** The layers of a resolved model, in precedence order. */
function layersOf(s: Layers, res: Resolution, label: string): Layer[] {
  const layers: Layer[] = [];
  const names = [res.model];
  if (res.profile && res.profile !== 'global') names.push(res.model.slice(res.profile.length + 1));
  if (res.model_id && !names.includes(res.model_id)) names.push(res.model_id);
  const regions = res.region ? [res.region, '*'] : ['*'];
  for (const r of regions) {
    for (const n of names) {
      const series = s.overrideIndex.get(`${res.provider}\u0000${r}\u0000${n}`);
      if (series) layers.push({ kind: 'override', series });
    }
  }
  if (res.provider === 'bedrock' && res.region && res.model_id && res.profile !== 'global') {
    const spec = BEDROCK_REGIONAL[res.model_id]?.[res.region];
    if (spec) {
      const k = `${label}\u0000${res.model_id}\u0000${res.region}`;
      let row = s.regionalRows.get(k);
      if (!row) s.regionalRows.set(k, (row = regionalRow(spec, res.catalog_model)));
      layers.push({ kind: 'regional', region: res.region, row });
    }
  }
  if (res.catalog_model) layers.push({ kind: 'catalog', model: res.catalog_model });
  return layers;
}

/** The resolution and layers of (provider, model, region) with `epoch` stored versions in force (cached). */
export function resolveLayers(s: Layers, provider: string, model: string, region: string | null, epoch = s.versions.length): Resolved {
  // With stored catalog versions the answer depends on which are in force: one cache per epoch.
  const pkey = epoch ? `${provider}\u0001${epoch}` : provider;
  let byRegion = s.cache.get(pkey);
  if (!byRegion) s.cache.set(pkey, (byRegion = new Map()));
  let byModel = byRegion.get(region ?? '');
  if (!byModel) byRegion.set(region ?? '', (byModel = new Map()));
  const hit = byModel.get(model);
  if (hit) return hit;
  const { res, label } = resolveIn(s, provider, model, region, epoch);
  const out = { res, layers: layersOf(s, res, label), label };
  if (++s.cached > s.cacheSize) {
    s.cache = new Map([[pkey, (byRegion = new Map([[region ?? '', (byModel = new Map())]]))]]);
    s.cached = 1;
  }
  byModel.set(model, out);
  return out;
}

/** How `resolve()` names a layer: override:<region>/<model>, regional:<region>, catalog:<provider>/<id>. */
export function layerName(l: Layer): string {
  if (l.kind === 'override') return `override:${l.series[0]!.row.region}/${l.series[0]!.row.model}`;
  return l.kind === 'regional' ? `regional:${l.region}` : `catalog:${l.model.provider}/${l.model.id}`;
}

/** The catalog's own price (no override, no regional row) for a model at t, and where it came from. */
export function catalogPrice(s: Layers, provider: string, model: string, t: number): { label: string; model_id: string; spec: PriceSpec | null } | null {
  const r = resolveLayers(s, provider, model, null, epochAt(s, t));
  const layer = r.layers.find((l): l is Extract<Layer, { kind: 'catalog' }> => l.kind === 'catalog');
  if (!layer) return null;
  return { label: r.label, model_id: layer.model.id, spec: pickVersion(layer.model.versions(), t).spec };
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

/** Keys an override the way events are resolved: Tollgate provider id, lower-case region or '*', normalised model. */
export function canonicalOverride<T extends { provider: string; region: string; model: string }>(row: T, catalog: Catalog): T {
  const provider = canonicalProvider(row.provider, catalog).provider;
  const region = !row.region || row.region === '*' || row.region.toLowerCase() === 'default' ? '*' : row.region.trim().toLowerCase();
  const model = normaliseModel(provider, row.model, null, catalog).model;
  return { ...row, provider, region, model };
}
