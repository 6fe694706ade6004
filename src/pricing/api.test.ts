import { describe, expect, it } from 'vitest';
import { loadCatalog } from './catalog/index.ts';
import { createEngine } from './engine.ts';
import { catalogPrices, modelPrices } from './price-list.ts';
import { pricesOut, quoteOut, toDiscountOut, discountOut } from './api.ts';

/**
 * fastify-type-provider-zod serialises through the response schema and drops keys it does not
 * name: every field the handlers produce must survive the schema unchanged.
 */
const engine = createEngine({
  catalog: loadCatalog(),
  overrides: [{ provider: 'openai', region: '*', model: 'gpt-4o', spec: { input: '2', output: '8', tiers: [{ above: 1000, input: '3' }] }, effective_from: new Date(0), origin: 'config', note: 'n' }],
  discounts: [{ provider: null, team: 'a', percent: '10', effective_from: new Date(0), origin: 'config' }],
});
const at = Date.parse('2026-01-09T10:00:00Z');
const same = (schema: { parse(v: unknown): unknown }, v: unknown) => {
  const wire = JSON.parse(JSON.stringify(v));
  expect(JSON.parse(JSON.stringify(schema.parse(wire)))).toEqual(wire);
};

describe('pricing response schemas keep every field', () => {
  it('GET /v1/prices: the whole catalog', () => {
    same(pricesOut, catalogPrices(engine, { limit: 100_000, offset: 0 }, at));
  });

  it('GET /v1/prices?model=: overrides, Bedrock regional rows, catalog versions, models without token prices', () => {
    const cases: Array<[string, string, string?]> = [
      ['openai', 'gpt-4o'],
      ['openai', 'o3-2025-04-16'],
      ['bedrock', 'anthropic.claude-3-5-sonnet-20240620-v1:0', 'us-west-2'],
      ['acme', 'unknown-model'],
    ];
    for (const p of engine.catalog.providers) for (const m of p.models.slice(0, 40)) cases.push([p.id, m.id]);
    for (const [provider, model, region] of cases) same(pricesOut, modelPrices(engine, { provider, model, region }, at));
    const one = modelPrices(engine, { provider: 'openai', model: 'gpt-4o' }, at);
    expect(pricesOut.parse(JSON.parse(JSON.stringify(one)))).toHaveProperty('resolution');
  });

  it('POST /v1/prices/quote: plain, tiered, batch and discounted snapshots', () => {
    for (const [req, team, batch] of [
      [{ provider: 'openai', model: 'gpt-4o', usage: { input_tokens: 2000, output_tokens: 10 } }, null, false],
      [{ provider: 'anthropic', model: 'claude-sonnet-4-20250514', usage: { input_tokens: 10, output_tokens: 10, cache_read_tokens: 5, cache_write_tokens: 7, cache_write_1h_tokens: 2 } }, 'a', true],
      [{ provider: 'google', model: 'gemini-2.5-pro', usage: { input_tokens: 250_000, output_tokens: 2_000 } }, null, true],
    ] as const) {
      const out = engine.price({ ...req, team, batch, time: at });
      if (!out.priced) throw new Error(out.reason);
      same(quoteOut, { currency: 'USD', cost: out.cost, breakdown: out.snapshot.breakdown, price: out.snapshot });
    }
  });

  it('discounts', () => {
    for (const d of engine.discounts()) same(discountOut, toDiscountOut(d));
  });
});
