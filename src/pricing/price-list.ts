import { pickVersion } from './catalog/index.ts';
import { BEDROCK_REGIONAL, BEDROCK_REGIONS_LABEL } from './catalog/bedrock-regions.ts';
import { canonicalProvider } from './resolve.ts';
import { toOverrideOut, type CatalogListOut, type ModelPricesOut } from './api.ts';
import type { PricingEngine } from './engine.ts';
import type { PriceSpec } from './types.ts';

/** What GET /v1/prices answers: the catalog page, or one model's prices (pure over the engine). */

function specOut(spec: PriceSpec | null) {
  return spec ?? { note: 'listed without token prices' };
}

function sourceOf(engine: PricingEngine) {
  return { catalog: engine.catalog.source, bedrock_regions: BEDROCK_REGIONS_LABEL };
}

/** One model: how it resolves, the price in force at `at`, and every override, regional row and catalog version for it. */
export function modelPrices(engine: PricingEngine, q: { provider: string; model: string; region?: string }, at: number): ModelPricesOut {
  const catalog = engine.catalog;
  const r = engine.resolve(q.provider, q.model, q.region);
  const quote = engine.price({ provider: q.provider, model: q.model, region: q.region, time: at, usage: { input_tokens: 0, output_tokens: 0 } });
  const cm =
    catalog.byId.get(r.catalog_provider ?? '')?.models.find((m) => m.id === r.model_id) ??
    catalog.providers.flatMap((p) => p.models).find((m) => m.id === r.model_id && r.layers.some((l) => l === `catalog:${m.provider}/${m.id}`));
  const regional = r.model_id ? BEDROCK_REGIONAL[r.model_id] : undefined;
  return {
    source: sourceOf(engine),
    resolution: r,
    in_force: quote.priced ? { source: quote.snapshot.source, catalog: quote.snapshot.catalog, model: quote.snapshot.model, effective_from: quote.snapshot.effective_from } : null,
    data: [
      ...engine
        .overrides()
        .filter((o) => o.provider === r.provider && (o.model === r.model || o.model === r.model_id))
        .map(toOverrideOut),
      ...(regional
        ? Object.entries(regional).map(([region, spec]) => ({ provider: 'bedrock', region, model: r.model_id!, source: 'catalog' as const, origin: BEDROCK_REGIONS_LABEL, effective_from: null, prices: spec }))
        : []),
      ...(cm
        ? cm.versions().map((v) => ({
            provider: canonicalProvider(cm.provider, catalog).provider,
            region: '*',
            model: cm.id,
            name: cm.name,
            source: 'catalog' as const,
            origin: catalog.label,
            effective_from: v.effective_from,
            window_utc: v.window,
            in_force: pickVersion(cm.versions(), at) === v,
            prices: specOut(v.spec),
          }))
        : []),
    ],
  };
}

/** The catalog's models (of one provider, if given) with the version in force at `at`, a page of them, and the overrides. */
export function catalogPrices(engine: PricingEngine, q: { provider?: string; limit: number; offset: number }, at: number): CatalogListOut {
  const catalog = engine.catalog;
  const rows: CatalogListOut['data'] = [];
  const wantProvider = q.provider ? canonicalProvider(q.provider, catalog) : null;
  for (const p of catalog.providers) {
    if (wantProvider && p.id !== wantProvider.catalog?.id) continue;
    for (const m of p.models) {
      const v = pickVersion(m.versions(), at);
      rows.push({
        provider: canonicalProvider(p.id, catalog).provider,
        region: '*',
        model: m.id,
        name: m.name,
        deprecated: m.deprecated,
        context_window: m.context_window,
        source: 'catalog',
        effective_from: v.effective_from,
        window_utc: v.window,
        price_versions: m.versions().length,
        prices: specOut(v.spec),
      });
    }
  }
  const overrides = engine
    .overrides()
    .filter((o) => !wantProvider || o.provider === wantProvider.provider)
    .map(toOverrideOut);
  return { source: sourceOf(engine), total: rows.length, overrides, data: rows.slice(q.offset, q.offset + q.limit) };
}
