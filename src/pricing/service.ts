import type { Db } from '../shared/db/index.ts';
import type { Logger } from '../shared/log.ts';
import { money } from '../shared/money.ts';
import type { EventStore, CostUpdate } from '../events/store.ts';
import type { IngestHooks, StoredEvent } from '../events/types.ts';
import { loadCatalog } from './catalog/index.ts';
import { createEngine, canonicalOverride, type DiscountRow, type OverrideRow, type PricingEngine, type OverrideOrigin } from './engine.ts';
import { parseEffective, type PricingConfig } from './config.ts';
import { compilePrice } from './price.ts';
import { canonicalProvider } from './resolve.ts';
import { pricingStore, type PricingStore } from './store.ts';
import type { PriceSpec } from './types.ts';
import { compileCatalog, correctionsFor, diffCatalog, versionLabel, type CatalogChanges, type ParsedCatalog } from './versions.ts';
import type { Catalog } from './catalog/index.ts';
import type { CatalogVersion } from './engine.ts';

export interface RepriceOptions {
  from: Date;
  to: Date;
  /** Reprice every llm.usage event in the range, not only the unpriced ones. */
  all?: boolean;
  pageSize?: number;
  onProgress?(p: RepriceProgress): void;
}

export interface RepriceProgress {
  total: number;
  scanned: number;
  updated: number;
  priced: number;
  still_unpriced: number;
}

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

/** JSON with sorted keys: jsonb reorders keys, so compare snapshots this way. */
function stable(v: unknown): string {
  if (v === null || typeof v !== 'object') return JSON.stringify(v) ?? 'null';
  if (Array.isArray(v)) return `[${v.map(stable).join(',')}]`;
  return `{${Object.keys(v as object)
    .filter((k) => (v as Record<string, unknown>)[k] !== undefined)
    .sort()
    .map((k) => `${JSON.stringify(k)}:${stable((v as Record<string, unknown>)[k])}`)
    .join(',')}}`;
}

const sameMoney = (a: string | null, b: string | null) => (a === null || b === null ? a === b : money(a).eq(money(b)));

export async function createPricingService(deps: PricingDeps): Promise<PricingService> {
  const catalog = loadCatalog();
  const store = pricingStore(deps.db);
  const fixedOverrides = [...configOverrides(deps.config.overrides, 'config'), ...configOverrides(deps.config.env_overrides, 'env')];
  for (const o of fixedOverrides) {
    try {
      compilePrice(o.spec);
    } catch (e) {
      throw new Error(`pricing override ${o.provider}/${o.region}/${o.model}: ${(e as Error).message}`);
    }
  }
  const fixedDiscounts = configDiscounts(deps.config.discounts).map((d) => ({ ...d, provider: d.provider ? canonicalProvider(d.provider, catalog).provider : null }));
  const engine = createEngine({ catalog, overrides: fixedOverrides, discounts: fixedDiscounts, batchDiscounts: deps.config.batch_discounts });

  // Stored versions never change, so each is compiled once per process (by id).
  const compiled = new Map<string, CatalogVersion>();
  async function reloadVersions() {
    const heads = await store.listCatalogs({ withCatalog: false });
    if (heads.every((h) => compiled.has(h.id)) && heads.length === compiled.size) return;
    for (const row of await store.listCatalogs()) {
      if (compiled.has(row.id) || !row.catalog) continue;
      const c: Catalog = compileCatalog(row.catalog, { label: row.label });
      compiled.set(row.id, { from: row.effective_from.getTime(), catalog: c });
    }
    engine.setVersions([...compiled.values()]);
  }

  async function reload() {
    const [ov, di] = await Promise.all([store.listOverrides(), store.listDiscounts(), reloadVersions()]);
    engine.setOverrides([...fixedOverrides, ...ov]);
    engine.setDiscounts([...fixedDiscounts, ...di]);
  }
  await reload();

  return {
    engine,
    store,
    reload,
    async putOverride(input, by) {
      compilePrice(input.spec); // throws naming the bad field
      const row = canonicalOverride(
        { provider: input.provider, region: input.region ?? '*', model: input.model, spec: input.spec, effective_from: input.effective_from ?? new Date(0), origin: 'api' as const, note: input.note ?? null },
        catalog,
      );
      const saved = await store.insertOverride({ ...row, created_by: by ?? null });
      await reload();
      return saved;
    },
    async putDiscount(input, by) {
      const saved = await store.insertDiscount({
        provider: input.provider ? canonicalProvider(input.provider, catalog).provider : null,
        team: input.team ?? null,
        percent: money(input.percent).toFixed(),
        effective_from: input.effective_from ?? new Date(0),
        origin: 'api',
        note: input.note ?? null,
        created_by: by ?? null,
      });
      await reload();
      return saved;
    },
    async updateCatalog(input) {
      const label = input.label ?? versionLabel(input.parsed.raw, input.effective_from);
      const next = compileCatalog(input.parsed.raw, { label });
      const changes: CatalogChanges = { ...diffCatalog(engine, next, input.effective_from.getTime(), input.onProgress), corrections: correctionsFor(input.parsed.raw) };
      if (input.dryRun) return { label, effective_from: input.effective_from, stored: false, changes };
      await store.insertCatalog({
        label,
        effective_from: input.effective_from,
        format: input.parsed.format,
        source: { ...input.parsed.raw.source, loaded_from: input.loaded_from },
        catalog: input.parsed.raw,
        summary: { models: changes.models, added: changes.added.length, moved: changes.moved.length, unchanged: changes.unchanged },
        created_by: input.by ?? null,
      });
      await reload();
      deps.logger.info({ label, effective_from: input.effective_from, added: changes.added.length, moved: changes.moved.length }, 'price catalog version stored');
      return { label, effective_from: input.effective_from, stored: true, changes };
    },
    async reprice(opts) {
      const all = opts.all === true;
      const limit = opts.pageSize ?? 500;
      const progress: RepriceProgress = { total: await store.countEvents({ from: opts.from, to: opts.to, all }), scanned: 0, updated: 0, priced: 0, still_unpriced: 0 };
      opts.onProgress?.(progress);
      let afterSeq = '0';
      for (;;) {
        const page = await store.pageEvents({ from: opts.from, to: opts.to, all, afterSeq, limit });
        if (!page.length) break;
        afterSeq = page[page.length - 1]!.seq;
        const updates: CostUpdate[] = [];
        for (const row of page) {
          const next: StoredEvent = { ...row };
          engine.priceRow(next);
          progress.scanned++;
          if (next.unpriced) progress.still_unpriced++;
          else if (row.unpriced) progress.priced++;
          const changed =
            next.unpriced !== row.unpriced ||
            next.cost_source !== row.cost_source ||
            !sameMoney(next.cost, row.cost) ||
            !sameMoney(next.computed_cost, row.computed_cost) ||
            stable(next.price) !== stable(row.price);
          if (changed) updates.push({ seq: row.seq, cost: next.cost, cost_source: next.cost_source, computed_cost: next.computed_cost, price: next.price, unpriced: next.unpriced });
        }
        if (updates.length) {
          await deps.db.transaction(async (tx) => {
            const changes = await deps.eventStore.updateCosts(tx, updates);
            for (const hook of deps.hooks.inTransaction) if (changes.length) await hook(tx, { kind: 'repriced', changes });
          });
          progress.updated += updates.length;
        }
        opts.onProgress?.(progress);
      }
      deps.logger.info({ from: opts.from, to: opts.to, all, ...progress }, 'reprice finished');
      return progress;
    },
  };
}
