import { z } from 'zod';
import type { App } from '../http/server.ts';
import { requireScope } from '../http/auth.ts';
import type { KeyService } from '../auth/service.ts';
import { ApiError, badRequest } from '../shared/errors.ts';
import type { Clock } from '../shared/clock.ts';
import { parseEffective } from './config.ts';
import type { PricingService } from './service.ts';
import type { PriceSpec, Usage } from './types.ts';
import { catalogPrices, modelPrices } from './price-list.ts';
import {
  discountOut,
  pricesOut,
  pricesQuery,
  putDiscountBody,
  putPriceBody,
  quoteBody,
  quoteOut,
  repriceBody,
  repriceOut,
  savedOverrideOut,
  toDiscountOut,
  unpricedOut,
  unpricedQuery,
} from './api.ts';

/** /v1/prices*: one register function per resource; the wire format lives in api.ts, the price list in price-list.ts. */

interface RouteDeps {
  keys: KeyService;
  pricing: PricingService;
  clock: Clock;
}

export function registerPricingRoutes(app: App, deps: RouteDeps) {
  registerPrices(app, deps);
  registerDiscounts(app, deps);
  registerQuote(app, deps);
  registerUnpriced(app, deps);
  registerReprice(app, deps);
}

/** GET /v1/prices (the catalog, or one model) and PUT /v1/prices (an override). */
function registerPrices(app: App, { keys, pricing, clock }: RouteDeps) {
  app.get(
    '/v1/prices',
    {
      preHandler: requireScope(keys, 'read'),
      schema: {
        tags: ['pricing'],
        summary: 'Prices in the catalog and overrides (USD per 1M tokens), filtered by provider/model',
        querystring: pricesQuery,
        response: { 200: pricesOut },
      },
    },
    async (req) => {
      const q = req.query;
      const at = q.at ? parseEffective(q.at).getTime() : clock.now().getTime();
      if (!q.model) return catalogPrices(pricing.engine, q, at);
      if (!q.provider) throw badRequest('PROVIDER_REQUIRED', 'give provider with model', 'provider');
      return modelPrices(pricing.engine, { provider: q.provider, model: q.model, region: q.region }, at);
    },
  );

  app.put(
    '/v1/prices',
    {
      preHandler: requireScope(keys, 'admin'),
      schema: {
        tags: ['pricing'],
        summary: 'Set a price override (USD per 1M tokens) for provider/region/model from effective_from',
        description:
          'Overrides beat the catalog. Without effective_from the price applies to every event (history: a later effective_from supersedes from that time on). ' +
          'Events already stored keep their price until repriced (POST /v1/prices/reprice).',
        body: putPriceBody,
        response: { 200: savedOverrideOut },
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
        id: saved.id ?? null,
        provider: saved.provider,
        region: saved.region,
        model: saved.model,
        effective_from: saved.effective_from.toISOString(),
        prices: saved.spec,
        note: saved.note ?? null,
      });
    },
  );
}

/** GET and PUT /v1/prices/discounts. */
function registerDiscounts(app: App, { keys, pricing }: RouteDeps) {
  app.get(
    '/v1/prices/discounts',
    {
      preHandler: requireScope(keys, 'admin'),
      schema: { tags: ['pricing'], summary: 'Negotiated discounts (percent off computed cost) per provider and/or team', response: { 200: z.object({ data: z.array(discountOut) }) } },
    },
    async () => ({ data: pricing.engine.discounts().map(toDiscountOut) }),
  );

  app.put(
    '/v1/prices/discounts',
    {
      preHandler: requireScope(keys, 'admin'),
      schema: { tags: ['pricing'], summary: 'Set a negotiated discount for a provider, a team, or both, from effective_from', body: putDiscountBody, response: { 200: discountOut } },
    },
    async (req) => {
      const b = req.body;
      const d = await pricing.putDiscount({ ...b, effective_from: b.effective_from ? parseEffective(b.effective_from) : undefined }, req.principal?.name ?? null);
      return toDiscountOut(d);
    },
  );
}

/** The usage a quote body describes; cache writes may come as one total or as 5-minute + 1-hour parts. */
function quoteUsage(b: z.infer<typeof quoteBody>): Usage {
  const cw = b.cache_write_tokens ?? (b.cache_write_5m_tokens !== undefined || b.cache_write_1h_tokens !== undefined ? (b.cache_write_5m_tokens ?? 0) + (b.cache_write_1h_tokens ?? 0) : 0);
  if (b.cache_write_1h_tokens !== undefined && b.cache_write_1h_tokens > cw) throw badRequest('INVALID_FIELD', 'cache_write_1h_tokens must not exceed cache_write_tokens', 'cache_write_1h_tokens');
  if (b.reasoning_tokens !== undefined && b.reasoning_tokens > b.output_tokens) throw badRequest('INVALID_FIELD', 'reasoning_tokens must not exceed output_tokens (output_tokens includes reasoning tokens)', 'reasoning_tokens');
  return {
    input_tokens: b.input_tokens,
    output_tokens: b.output_tokens,
    cache_read_tokens: b.cache_read_tokens,
    cache_write_tokens: cw,
    cache_write_1h_tokens: b.cache_write_1h_tokens,
    reasoning_tokens: b.reasoning_tokens,
    input_audio_tokens: b.input_audio_tokens,
    output_audio_tokens: b.output_audio_tokens,
  };
}

/** POST /v1/prices/quote. */
function registerQuote(app: App, { keys, pricing, clock }: RouteDeps) {
  app.post(
    '/v1/prices/quote',
    {
      preHandler: requireScope(keys, 'read'),
      schema: { tags: ['pricing'], summary: 'Price a usage: cost and breakdown per token class, with the price used', body: quoteBody, response: { 200: quoteOut } },
    },
    async (req) => {
      const b = req.body;
      const usage = quoteUsage(b);
      const team = req.principal?.team ?? b.team ?? null;
      const out = pricing.engine.price({ provider: b.provider, model: b.model, region: b.region, team, time: b.time ? parseEffective(b.time) : clock.now(), batch: b.batch, usage });
      if (!out.priced) throw new ApiError({ type: 'not_found', code: 'PRICE_NOT_FOUND', message: `no price for ${b.provider}/${b.model}${b.region ? ` in ${b.region}` : ''}: ${out.reason}`, param: 'model' });
      return { currency: 'USD' as const, cost: out.cost, breakdown: out.snapshot.breakdown, price: out.snapshot };
    },
  );
}

/** GET /v1/prices/unpriced. */
function registerUnpriced(app: App, { keys, pricing }: RouteDeps) {
  app.get(
    '/v1/prices/unpriced',
    {
      preHandler: requireScope(keys, 'read'),
      schema: { tags: ['pricing'], summary: 'Stored llm.usage events with no price, grouped by provider/model/region', querystring: unpricedQuery, response: { 200: unpricedOut } },
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
}

/** POST /v1/prices/reprice. */
function registerReprice(app: App, { keys, pricing }: RouteDeps) {
  app.post(
    '/v1/prices/reprice',
    {
      preHandler: requireScope(keys, 'admin'),
      schema: {
        tags: ['pricing'],
        summary: 'Reprice stored llm.usage events in [from, to): the unpriced ones, or all with all=true',
        description: 'Every aggregate follows: each page of changed events is updated and handed to the cost-change hooks in one transaction.',
        body: repriceBody,
        response: { 200: repriceOut },
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
