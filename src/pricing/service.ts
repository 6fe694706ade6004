import type { Db } from '../shared/db/index.ts';
import type { Logger } from '../shared/log.ts';
import { money } from '../shared/money.ts';
import type { EventStore } from '../events/store.ts';
import type { IngestHooks } from '../events/types.ts';
import { loadCatalog } from './catalog/index.ts';
import { createEngine, type PricingEngine } from './engine.ts';
import { canonicalOverride } from './layers.ts';
import { parseEffective, type PricingConfig } from './config.ts';
import { compilePrice } from './price.ts';
import { canonicalProvider } from './resolve.ts';
import { pricingStore, type PricingStore } from './store.ts';
import type { CatalogVersion, DiscountRow, OverrideOrigin, OverrideRow, PriceSpec } from './types.ts';
import { compileCatalog, correctionsFor, diffCatalog, versionLabel, type CatalogChanges, type ParsedCatalog } from './versions.ts';
import type { Catalog } from './catalog/index.ts';
import { reprice, type RepriceOptions, type RepriceProgress } from './reprice.ts';

export type { RepriceOptions, RepriceProgress } from './reprice.ts';

export interface PricingService {
  engine: PricingEngine;
  store: PricingStore;
  /** Re-reads API overrides and discounts from the database (config ones are fixed at start). */
  reload(): Promise<void>;
  putOverride(input: { provider: string; region?: string; model: string; spec: PriceSpec; effective_from?: Date; note?: string }, by?: string | null): Promise<OverrideRow>;
  putDiscount(input: { provider?: string; team?: string; percent: string; effective_from?: Date; note?: string }, by?: string | null): Promise<DiscountRow>;
  reprice(opts: RepriceOptions): Promise<RepriceProgress>;
  /**
   * Stores a newer catalog as a dated version (unless dryRun) and reports what it changes from its
   * effective date on; events before that date keep their prices (a reprice changes nothing there).
   */
  updateCatalog(input: UpdateCatalogInput): Promise<UpdateCatalogResult>;
}

export interface UpdateCatalogInput {
  parsed: ParsedCatalog;
  effective_from: Date;
  loaded_from: string;
  label?: string;
  dryRun?: boolean;
  by?: string | null;
  onProgress?(done: number, total: number): void;
}

export interface UpdateCatalogResult {
  label: string;
  effective_from: Date;
  stored: boolean;
  changes: CatalogChanges;
}

export interface PricingDeps {
  db: Db;
  config: PricingConfig;
  logger: Logger;
  eventStore: EventStore;
  hooks: IngestHooks;
}

function configOverrides(map: PricingConfig['overrides'] | undefined, origin: OverrideOrigin): OverrideRow[] {
  const out: OverrideRow[] = [];
  for (const [provider, regions] of Object.entries(map ?? {})) {
    for (const [region, models] of Object.entries(regions)) {
      for (const [model, p] of Object.entries(models)) {
        const { effective_from, note, ...spec } = p;
        out.push({ provider, region, model, spec: spec as PriceSpec, effective_from: parseEffective(effective_from), origin, note: note ?? null });
      }
    }
  }
  return out;
}

function configDiscounts(list: PricingConfig['discounts']): DiscountRow[] {
  return list.map((d) => ({
    provider: d.provider ?? null,
    team: d.team ?? null,
    percent: d.percent,
    effective_from: parseEffective(d.effective_from),
    origin: 'config' as const,
    note: d.note ?? null,
  }));
}

/** What the service holds: the engine, the rows fixed at start (config, env) and the compiled stored catalogs. */
interface State {
  deps: PricingDeps;
  catalog: Catalog;
  store: PricingStore;
  engine: PricingEngine;
  fixedOverrides: OverrideRow[];
  fixedDiscounts: DiscountRow[];
  /** Stored versions never change, so each is compiled once per process (by id). */
  compiled: Map<string, CatalogVersion>;
}

/** The config and env overrides (each checked, naming the override) and the config discounts. */
function fixedRows(config: PricingConfig, catalog: Catalog): { overrides: OverrideRow[]; discounts: DiscountRow[] } {
  const overrides = [...configOverrides(config.overrides, 'config'), ...configOverrides(config.env_overrides, 'env')];
  for (const o of overrides) {
    try {
      compilePrice(o.spec);
    } catch (e) {
      throw new Error(`pricing override ${o.provider}/${o.region}/${o.model}: ${(e as Error).message}`);
    }
  }
  const discounts = configDiscounts(config.discounts).map((d) => ({ ...d, provider: d.provider ? canonicalProvider(d.provider, catalog).provider : null }));
  return { overrides, discounts };
}

async function reloadVersions(s: State): Promise<void> {
  const heads = await s.store.listCatalogs({ withCatalog: false });
  if (heads.every((h) => s.compiled.has(h.id)) && heads.length === s.compiled.size) return;
  for (const row of await s.store.listCatalogs()) {
    if (s.compiled.has(row.id) || !row.catalog) continue;
    const c: Catalog = compileCatalog(row.catalog, { label: row.label });
    s.compiled.set(row.id, { from: row.effective_from.getTime(), catalog: c });
  }
  s.engine.setVersions([...s.compiled.values()]);
}

async function reload(s: State): Promise<void> {
  const [ov, di] = await Promise.all([s.store.listOverrides(), s.store.listDiscounts(), reloadVersions(s)]);
  s.engine.setOverrides([...s.fixedOverrides, ...ov]);
  s.engine.setDiscounts([...s.fixedDiscounts, ...di]);
}

async function putOverride(s: State, input: Parameters<PricingService['putOverride']>[0], by?: string | null): Promise<OverrideRow> {
  compilePrice(input.spec); // throws naming the bad field
  const row = canonicalOverride(
    { provider: input.provider, region: input.region ?? '*', model: input.model, spec: input.spec, effective_from: input.effective_from ?? new Date(0), origin: 'api' as const, note: input.note ?? null },
    s.catalog,
  );
  const saved = await s.store.insertOverride({ ...row, created_by: by ?? null });
  await reload(s);
  return saved;
}

async function putDiscount(s: State, input: Parameters<PricingService['putDiscount']>[0], by?: string | null): Promise<DiscountRow> {
  const saved = await s.store.insertDiscount({
    provider: input.provider ? canonicalProvider(input.provider, s.catalog).provider : null,
    team: input.team ?? null,
    percent: money(input.percent).toFixed(),
    effective_from: input.effective_from ?? new Date(0),
    origin: 'api',
    note: input.note ?? null,
    created_by: by ?? null,
  });
  await reload(s);
  return saved;
}

async function updateCatalog(s: State, input: UpdateCatalogInput): Promise<UpdateCatalogResult> {
  const label = input.label ?? versionLabel(input.parsed.raw, input.effective_from);
  const next = compileCatalog(input.parsed.raw, { label });
  const changes: CatalogChanges = { ...diffCatalog(s.engine, next, input.effective_from.getTime(), input.onProgress), corrections: correctionsFor(input.parsed.raw) };
  if (input.dryRun) return { label, effective_from: input.effective_from, stored: false, changes };
  await s.store.insertCatalog({
    label,
    effective_from: input.effective_from,
    format: input.parsed.format,
    source: { ...input.parsed.raw.source, loaded_from: input.loaded_from },
    catalog: input.parsed.raw,
    summary: { models: changes.models, added: changes.added.length, moved: changes.moved.length, unchanged: changes.unchanged },
    created_by: input.by ?? null,
  });
  await reload(s);
  s.deps.logger.info({ label, effective_from: input.effective_from, added: changes.added.length, moved: changes.moved.length }, 'price catalog version stored');
  return { label, effective_from: input.effective_from, stored: true, changes };
}

export async function createPricingService(deps: PricingDeps): Promise<PricingService> {
  const catalog = loadCatalog();
  const store = pricingStore(deps.db);
  const fixed = fixedRows(deps.config, catalog);
  const engine = createEngine({ catalog, overrides: fixed.overrides, discounts: fixed.discounts, batchDiscounts: deps.config.batch_discounts });
  const s: State = { deps, catalog, store, engine, fixedOverrides: fixed.overrides, fixedDiscounts: fixed.discounts, compiled: new Map() };
  await reload(s);
  const repriceDeps = { db: deps.db, store, engine, eventStore: deps.eventStore, hooks: deps.hooks, logger: deps.logger };
  return {
    engine,
    store,
    reload: () => reload(s),
    putOverride: (input, by) => putOverride(s, input, by),
    putDiscount: (input, by) => putDiscount(s, input, by),
    updateCatalog: (input) => updateCatalog(s, input),
    reprice: (opts) => reprice(repriceDeps, opts),
  };
}
