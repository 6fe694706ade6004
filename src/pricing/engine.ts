import type { EventRow } from '../events/types.ts';
import type { Catalog } from './catalog/index.ts';
import { DEFAULT_BATCH_DISCOUNTS } from './catalog/batch.ts';
import { canonicalProvider, type Resolution } from './resolve.ts';
import { catalogPrice, createLayers, epochAt, layerName, resolveLayers, setOverrides, setVersions } from './layers.ts';
import { priceAt, priceRow, type Pricer } from './pricer.ts';
import type { CatalogVersion, DiscountRow, OverrideRow, PriceSnapshot, PriceSpec, Usage } from './types.ts';

/**
 * The in-memory pricer: catalog + Bedrock regional table + overrides + discounts, with resolution
 * cached per (provider, region, model). Synchronous, so the ingest enrich hook stays cheap.
 * Composes layers.ts (where a price comes from, cached) and pricer.ts (pricing one call).
 */

export type { CatalogVersion, DiscountRow, OverrideOrigin, OverrideRow } from './types.ts';
export { isFailedWithoutUsage } from './pricer.ts';
export { canonicalOverride, mergeSpec, regionalRow } from './layers.ts';

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

export interface PricingEngine {
  readonly catalog: Catalog;
  price(req: PriceRequest): PriceOutcome;
  /** Fills cost, cost_source, computed_cost, price and unpriced on llm.usage rows in place. */
  priceRows(rows: EventRow[]): void;
  /** Same for one row. */
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
  const batch: Record<string, string> = { ...DEFAULT_BATCH_DISCOUNTS };
  for (const [k, v] of Object.entries(opts.batchDiscounts ?? {})) batch[canonicalProvider(k, catalog).provider] = v;
  const layers = createLayers(catalog, opts.cacheSize ?? 50_000);
  const pricer: Pricer = { layers, batch, discounts: [], reason: '' };
  const setDiscounts = (rows: DiscountRow[]) => {
    pricer.discounts = rows.map((r) => ({ ...r }));
  };
  setOverrides(layers, opts.overrides ?? []);
  setDiscounts(opts.discounts ?? []);
  setVersions(layers, opts.versions ?? []);
  const one = (row: EventRow) => priceRow(pricer, row);

  return {
    catalog,
    price(req) {
      const t = typeof req.time === 'number' ? req.time : req.time.getTime();
      const snap = priceAt(pricer, req.provider, req.model, req.region ?? null, req.team ?? null, t, req.usage, req.batch === true);
      if (snap) return { priced: true, cost: snap.cost, snapshot: snap };
      return { priced: false, resolution: resolveLayers(layers, req.provider, req.model, req.region ?? null, epochAt(layers, t)).res, reason: pricer.reason };
    },
    priceRow: one,
    priceRows(rows) {
      for (let i = 0; i < rows.length; i++) priceRow(pricer, rows[i]!);
    },
    resolve(provider, model, region) {
      const r = resolveLayers(layers, provider, model, region ?? null);
      const { catalog_model: _cm, ...res } = r.res;
      return { ...res, layers: r.layers.map(layerName) };
    },
    setOverrides: (rows) => setOverrides(layers, rows),
    setDiscounts,
    setVersions: (v) => setVersions(layers, v),
    versions: () => layers.versions,
    catalogPrice: (provider, model, t) => catalogPrice(layers, provider, model, t),
    overrides: () => layers.overrideRows,
    discounts: () => pricer.discounts,
    batchDiscount: (p) => batch[canonicalProvider(p, catalog).provider] ?? null,
  };
}
