import { z } from 'zod';
import type { App } from '../http/server.ts';
import { requireScope } from '../http/auth.ts';
import type { KeyService } from '../auth/service.ts';
import { ApiError, badRequest } from '../shared/errors.ts';
import type { Clock } from '../shared/clock.ts';
import { pickVersion } from './catalog/index.ts';
import { BEDROCK_REGIONAL, BEDROCK_REGIONS_LABEL } from './catalog/bedrock-regions.ts';
import { discountSchema, priceOverrideSchema, parseEffective } from './config.ts';
import { canonicalProvider } from './resolve.ts';
import type { PricingService } from './service.ts';
import type { PriceSpec } from './types.ts';
import type { DiscountRow, OverrideRow } from './engine.ts';

/** An override as the API shows it (GET /v1/prices lists, GET /v1/prices/overrides). */
const overrideOut = (o: OverrideRow) => ({ provider: o.provider, region: o.region, model: o.model, source: 'override' as const, origin: o.origin, effective_from: o.effective_from.toISOString(), prices: o.spec, note: o.note ?? null });
/** A discount as the API shows it (listed and as saved). */
const discountOut = (d: DiscountRow) => ({ id: d.id ?? null, provider: d.provider, team: d.team, percent: d.percent, effective_from: d.effective_from.toISOString(), origin: d.origin, note: d.note ?? null });

const tokens = z.coerce.number().int().min(0).max(Number.MAX_SAFE_INTEGER);
const instant = (name: string) =>
  z.string().refine((v) => !Number.isNaN(parseEffective(v).getTime()), `${name} must be a date (YYYY-MM-DD) or an RFC 3339 timestamp`);

const quoteBody = z
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

const putBody = priceOverrideSchema.extend({
  provider: z.string().min(1).max(128),
  model: z.string().min(1).max(256),
  region: z.string().min(1).max(128).optional(),
});

const repriceBody = z.object({ from: instant('from'), to: instant('to'), all: z.boolean().default(false) }).strict();

function specOut(spec: PriceSpec | null) {
  return spec ?? { note: 'listed without token prices' };
}

export function registerPricingRoutes(app: App, deps: { keys: KeyService; pricing: PricingService; clock: Clock }) {
  const { pricing } = deps;
  const engine = pricing.engine;
  const catalog = engine.catalog;

  app.get(
    '/v1/prices',
    {
      preHandler: requireScope(deps.keys, 'read'),
      schema: {
        tags: ['pricing'],
        summary: 'Prices in the catalog and overrides (USD per 1M tokens), filtered by provider/model',
        querystring: z.object({
          provider: z.string().optional(),
          model: z.string().optional(),
          region: z.string().optional(),
          at: instant('at').optional(),
          limit: z.coerce.number().int().min(1).max(2000).default(200),
          offset: z.coerce.number().int().min(0).default(0),
        }),
      },
    },
    async (req) => {
      const q = req.query;
      const at = q.at ? parseEffective(q.at).getTime() : deps.clock.now().getTime();
      const source = { catalog: catalog.source, bedrock_regions: BEDROCK_REGIONS_LABEL };
      if (q.model) {
        if (!q.provider) throw badRequest('PROVIDER_REQUIRED', 'give provider with model', 'provider');
        const r = engine.resolve(q.provider, q.model, q.region);
        const quote = engine.price({ provider: q.provider, model: q.model, region: q.region, time: at, usage: { input_tokens: 0, output_tokens: 0 } });
        const cm = catalog.byId.get(r.catalog_provider ?? '')?.models.find((m) => m.id === r.model_id) ??
          catalog.providers.flatMap((p) => p.models).find((m) => m.id === r.model_id && r.layers.some((l) => l === `catalog:${m.provider}/${m.id}`));
        return {
          source,
          resolution: r,
          in_force: quote.priced
            ? { source: quote.snapshot.source, catalog: quote.snapshot.catalog, model: quote.snapshot.model, effective_from: quote.snapshot.effective_from }
            : null,
          data: [
            ...engine
              .overrides()
              .filter((o) => o.provider === r.provider && (o.model === r.model || o.model === r.model_id))
              .map(overrideOut),
            ...(r.model_id && BEDROCK_REGIONAL[r.model_id]
              ? Object.entries(BEDROCK_REGIONAL[r.model_id]!).map(([region, spec]) => ({ provider: 'bedrock', region, model: r.model_id, source: 'catalog', origin: BEDROCK_REGIONS_LABEL, effective_from: null, prices: spec }))
              : []),
            ...(cm
              ? cm.versions().map((v) => ({
                  provider: canonicalProvider(cm.provider, catalog).provider,
                  region: '*',
                  model: cm.id,
                  name: cm.name,
                  source: 'catalog',
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
      const rows: unknown[] = [];
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
        .map(overrideOut);
      return { source, total: rows.length, overrides, data: rows.slice(q.offset, q.offset + q.limit) };
    },
  );

  app.put(
    '/v1/prices',
    {
      preHandler: requireScope(deps.keys, 'admin'),
      schema: {
        tags: ['pricing'],
        summary: 'Set a price override (USD per 1M tokens) for provider/region/model from effective_from',
        description:
          'Overrides beat the catalog. Without effective_from the price applies to every event (history: a later effective_from supersedes from that time on). ' +
          'Events already stored keep their price until repriced (POST /v1/prices/reprice).',
        body: putBody,
      },
    },
    async (req, reply) => {
      const { provider, model, region, effective_from, note, ...spec } = req.body;
      let saved;
      try {
        saved = await pricing.putOverride(
          { provider, model, region, spec: spec as PriceSpec, effective_from: effective_from ? parseEffective(effective_from) : undefined, note },
          req.principal?.name ?? null,
        );
      } catch (e) {
        if (e instanceof ApiError) throw e;
        throw badRequest('INVALID_PRICE', (e as Error).message, 'prices');
      }
      return reply.status(200).send({
        id: saved.id,
        provider: saved.provider,
        region: saved.region,
        model: saved.model,
        effective_from: saved.effective_from.toISOString(),
        prices: saved.spec,
        note: saved.note ?? null,
      });
    },
  );

  app.get(
    '/v1/prices/discounts',
    {
      preHandler: requireScope(deps.keys, 'admin'),
      schema: { tags: ['pricing'], summary: 'Negotiated discounts (percent off computed cost) per provider and/or team' },
    },
    async () => ({
      data: engine.discounts().map(discountOut),
    }),
  );

  app.put(
    '/v1/prices/discounts',
    {
      preHandler: requireScope(deps.keys, 'admin'),
      schema: { tags: ['pricing'], summary: 'Set a negotiated discount for a provider, a team, or both, from effective_from', body: discountSchema },
    },
    async (req) => {
      const b = req.body;
      const d = await pricing.putDiscount({ ...b, effective_from: b.effective_from ? parseEffective(b.effective_from) : undefined }, req.principal?.name ?? null);
      return discountOut(d);
    },
  );

  app.post(
    '/v1/prices/quote',
    {
      preHandler: requireScope(deps.keys, 'read'),
      schema: { tags: ['pricing'], summary: 'Price a usage: cost and breakdown per token class, with the price used', body: quoteBody },
    },
    async (req) => {
      const b = req.body;
      const cw = b.cache_write_tokens ?? (b.cache_write_5m_tokens !== undefined || b.cache_write_1h_tokens !== undefined ? (b.cache_write_5m_tokens ?? 0) + (b.cache_write_1h_tokens ?? 0) : 0);
      if (b.cache_write_1h_tokens !== undefined && b.cache_write_1h_tokens > cw) throw badRequest('INVALID_FIELD', 'cache_write_1h_tokens must not exceed cache_write_tokens', 'cache_write_1h_tokens');
      if (b.reasoning_tokens !== undefined && b.reasoning_tokens > b.output_tokens) throw badRequest('INVALID_FIELD', 'reasoning_tokens must not exceed output_tokens (output_tokens includes reasoning tokens)', 'reasoning_tokens');
      const team = req.principal?.team ?? b.team ?? null;
      const out = engine.price({
        provider: b.provider,
        model: b.model,
        region: b.region,
        team,
        time: b.time ? parseEffective(b.time) : deps.clock.now(),
        batch: b.batch,
        usage: {
          input_tokens: b.input_tokens,
          output_tokens: b.output_tokens,
          cache_read_tokens: b.cache_read_tokens,
          cache_write_tokens: cw,
          cache_write_1h_tokens: b.cache_write_1h_tokens,
          reasoning_tokens: b.reasoning_tokens,
          input_audio_tokens: b.input_audio_tokens,
          output_audio_tokens: b.output_audio_tokens,
        },
      });
      if (!out.priced) throw new ApiError({ type: 'not_found', code: 'PRICE_NOT_FOUND', message: `no price for ${b.provider}/${b.model}${b.region ? ` in ${b.region}` : ''}: ${out.reason}`, param: 'model' });
      return { currency: 'USD', cost: out.cost, breakdown: out.snapshot.breakdown, price: out.snapshot };
    },
  );

  app.get(
    '/v1/prices/unpriced',
    {
      preHandler: requireScope(deps.keys, 'read'),
      schema: {
        tags: ['pricing'],
        summary: 'Stored llm.usage events with no price, grouped by provider/model/region',
        querystring: z.object({ from: instant('from').optional(), to: instant('to').optional(), limit: z.coerce.number().int().min(1).max(1000).default(100) }),
      },
    },
    async (req) => {
      const q = req.query;
      const rows = await pricing.store.unpricedSummary({
        from: q.from ? parseEffective(q.from) : undefined,
        to: q.to ? parseEffective(q.to) : undefined,
        team: req.principal?.team ?? null,
        limit: q.limit,
      });
      return {
        data: rows.map((r) => ({ ...r, first_seen: r.first_seen.toISOString(), last_seen: r.last_seen.toISOString() })),
        hint: rows.length ? 'add a price (PUT /v1/prices), then reprice (POST /v1/prices/reprice or `tollgate reprice`)' : undefined,
      };
    },
  );

  app.post(
    '/v1/prices/reprice',
    {
      preHandler: requireScope(deps.keys, 'admin'),
      schema: {
        tags: ['pricing'],
        summary: 'Reprice stored llm.usage events in [from, to): the unpriced ones, or all with all=true',
        description: 'Every aggregate follows: each page of changed events is updated and handed to the cost-change hooks in one transaction.',
        body: repriceBody,
      },
    },
    async (req) => {
      const from = parseEffective(req.body.from);
      const to = parseEffective(req.body.to);
      if (to <= from) throw badRequest('INVALID_RANGE', 'to must be after from', 'to');
      const r = await pricing.reprice({ from, to, all: req.body.all });
      return { from: from.toISOString(), to: to.toISOString(), all: req.body.all, ...r };
    },
  );
}
