import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { loadCatalog } from './catalog/index.ts';
import { createEngine, type PriceOutcome } from './engine.ts';
import type { EventRow } from '../events/types.ts';
import type { Usage } from './types.ts';

const catalog = loadCatalog();
const engine = createEngine({ catalog });
const T = Date.parse('2026-01-09T10:00:00Z'); // 10:00 UTC: DeepSeek standard hours

function quote(provider: string, model: string, usage: Partial<Usage>, o: { region?: string; time?: number; batch?: boolean; team?: string; e?: typeof engine } = {}) {
  const r: PriceOutcome = (o.e ?? engine).price({
    provider,
    model,
    region: o.region,
    team: o.team,
    time: o.time ?? T,
    batch: o.batch,
    usage: { input_tokens: 0, output_tokens: 0, ...usage },
  });
  if (!r.priced) throw new Error(`${provider}/${model} unpriced: ${r.reason}`);
  return r;
}

/**
 * Published list prices (USD per 1M tokens), checked by hand against the providers' pricing pages;
 * the catalog must reproduce them. [provider, model, region, usage, expected cost, expected per-M prices]
 */
const LIST_PRICES: Array<[string, string, string | undefined, Partial<Usage>, string, Record<string, string>]> = [
  // OpenAI: gpt-4o $2.50 / $10 (cached $1.25), gpt-4o-mini $0.15 / $0.60, the May 2024 snapshot $5 / $15
  ['openai', 'gpt-4o-2024-08-06', undefined, { input_tokens: 1_000_000, cache_read_tokens: 1_000_000, output_tokens: 1_000_000 }, '13.75', { input: '2.5', cache_read: '1.25', output: '10' }],
  ['openai', 'gpt-4o-mini', undefined, { input_tokens: 1_000_000, output_tokens: 1_000_000 }, '0.75', { input: '0.15', output: '0.6' }],
  ['openai', 'gpt-4o-2024-05-13', undefined, { input_tokens: 1_000_000, output_tokens: 1_000_000 }, '20', { input: '5', output: '15' }],
  // reasoning-heavy o3 call (after the 2025-06-10 price cut: $2 / $8): 18k of 20k output tokens are reasoning, billed as output
  ['openai', 'o3', undefined, { input_tokens: 1_000, output_tokens: 20_000, reasoning_tokens: 18_000 }, '0.162', { input: '2', output: '8' }],
  ['openai', 'o4-mini', undefined, { input_tokens: 10_000, output_tokens: 30_000, reasoning_tokens: 25_000 }, '0.143', { input: '1.1', output: '4.4' }],
  // Anthropic, cache-heavy Claude Sonnet 4 call: $3 in, $15 out, reads $0.30, 5-minute writes $3.75, 1-hour writes $6
  [
    'anthropic',
    'claude-sonnet-4-20250514',
    undefined,
    { input_tokens: 50, cache_read_tokens: 100_000, cache_write_tokens: 20_000, cache_write_1h_tokens: 5_000, output_tokens: 800 },
    '0.1284',
    { input: '3', cache_read: '0.3', cache_write: '3.75', cache_write_1h: '6', output: '15' },
  ],
  ['anthropic', 'claude-3-5-haiku-20241022', undefined, { input_tokens: 1_000_000, output_tokens: 1_000_000 }, '4.8', { input: '0.8', output: '4' }],
  // Google Gemini 2.5 Pro: ≤200k prompt $1.25 / $10; above 200k $2.50 / $15 (whole request)
  ['google', 'gemini-2.5-pro', undefined, { input_tokens: 100_000, output_tokens: 2_000 }, '0.145', { input: '1.25', output: '10' }],
  ['google', 'gemini-2.5-pro', undefined, { input_tokens: 250_000, output_tokens: 2_000 }, '0.655', { input: '2.5', output: '15' }],
  ['gemini', 'gemini-2.5-flash', undefined, { input_tokens: 1_000_000, output_tokens: 1_000_000 }, '2.8', { input: '0.3', output: '2.5' }],
  // AWS Bedrock: Claude Sonnet 4.5 through the global profile $3 / $15, through the US geo profile +10 % ($3.30 / $16.50)
  // (200,000 prompt tokens: the base rates; above that the long-context tier applies to the whole request, issue 20)
  ['bedrock', 'global.anthropic.claude-sonnet-4-5-20250929-v1:0', undefined, { input_tokens: 200_000, output_tokens: 1_000_000 }, '15.6', { input: '3', output: '15' }],
  ['bedrock', 'us.anthropic.claude-sonnet-4-5-20250929-v1:0', 'us-east-1', { input_tokens: 200_000, output_tokens: 1_000_000 }, '17.16', { input: '3.3', output: '16.5' }],
  // Bedrock Llama 3 70B in two regions (Tollgate's regional table): us-east-1 $2.65 / $3.50, eu-west-2 $3.45 / $4.55
  ['bedrock', 'meta.llama3-70b-instruct-v1:0', 'us-east-1', { input_tokens: 1_000_000, output_tokens: 1_000_000 }, '6.15', { input: '2.65', output: '3.5' }],
  ['bedrock', 'meta.llama3-70b-instruct-v1:0', 'eu-west-2', { input_tokens: 1_000_000, output_tokens: 1_000_000 }, '8', { input: '3.45', output: '4.55' }],
  // Azure OpenAI (global deployments list OpenAI's price)
  ['azure', 'gpt-4o', undefined, { input_tokens: 1_000_000, output_tokens: 1_000_000 }, '12.5', { input: '2.5', output: '10' }],
  // Mistral Large 2 $2 / $6, Mistral Small $0.10 / $0.30
  ['mistral', 'mistral-large-2411', undefined, { input_tokens: 1_000_000, output_tokens: 1_000_000 }, '8', { input: '2', output: '6' }],
  ['mistral', 'mistral-small-latest', undefined, { input_tokens: 1_000_000, output_tokens: 1_000_000 }, '0.4', { input: '0.1', output: '0.3' }],
  // DeepSeek V3.2 (deepseek-chat and deepseek-reasoner, since 2025-09-29): $0.28 miss, $0.028 hit, $0.42 out
  ['deepseek', 'deepseek-chat', undefined, { input_tokens: 1_000_000, cache_read_tokens: 1_000_000, output_tokens: 1_000_000 }, '0.728', { input: '0.28', cache_read: '0.028', output: '0.42' }],
  // xAI Grok 3 $3 / $15, Grok 3 mini $0.30 / $0.50
  ['xai', 'grok-3', undefined, { input_tokens: 1_000_000, output_tokens: 1_000_000 }, '18', { input: '3', output: '15' }],
  ['xai', 'grok-3-mini', undefined, { input_tokens: 1_000_000, output_tokens: 1_000_000 }, '0.8', { input: '0.3', output: '0.5' }],
];

describe('published list prices', () => {
  it.each(LIST_PRICES)('%s %s %s', (provider, model, region, usage, cost, prices) => {
    const r = quote(provider, model, usage, { region });
    expect(r.cost).toBe(cost);
    expect(r.snapshot.prices).toEqual(prices);
  });

  it('records the snapshot: model resolved, region, source, effective date, tier', () => {
    const o3 = quote('openai', 'o3-2025-04-16', { input_tokens: 1, output_tokens: 1 });
    expect(o3.snapshot).toMatchObject({ provider: 'openai', model: 'o3', model_requested: 'o3-2025-04-16', source: 'catalog', catalog: catalog.label, effective_from: '2025-06-10' });
    const g = quote('google', 'gemini-2.5-pro', { input_tokens: 250_000 });
    expect(g.snapshot.tier_above).toBe(200_000);
    const llama = quote('bedrock', 'meta.llama3-70b-instruct-v1:0', { input_tokens: 1 }, { region: 'eu-west-2' });
    expect(llama.snapshot).toMatchObject({ region: 'eu-west-2', source: 'catalog', catalog: 'bedrock-regions@2026-11-22' });
  });

  it('prices a price change at its date: o3 before and after 2025-06-10', () => {
    const u = { input_tokens: 1_000_000, output_tokens: 1_000_000 };
    expect(quote('openai', 'o3', u, { time: Date.parse('2025-06-09T23:59:59.999Z') }).cost).toBe('50');
    expect(quote('openai', 'o3', u, { time: Date.parse('2025-06-10T00:00:00Z') }).cost).toBe('10');
  });

  it('applies DeepSeek off-peak hours (UTC 16:30–00:30) at half price while they existed (until 2025-09-05 16:00 UTC)', () => {
    const u = { input_tokens: 1_000_000, output_tokens: 1_000_000 };
    // DeepSeek V3 standard hours: $0.27 miss, $0.07 hit, $1.10 out
    expect(quote('deepseek', 'deepseek-chat', u, { time: Date.parse('2025-06-09T16:29:59Z') }).cost).toBe('1.37');
    expect(quote('deepseek', 'deepseek-chat', u, { time: Date.parse('2025-06-09T16:30:00Z') }).cost).toBe('0.685');
  });
});

describe('overrides, discounts, batch', () => {
  const u = { input_tokens: 1_000_000, output_tokens: 1_000_000 };

  it('an override beats the catalog, from its effective date; regional beats any-region', () => {
    const e = createEngine({
      catalog,
      overrides: [
        { provider: 'openai', region: '*', model: 'gpt-4o', spec: { input: '2', output: '8' }, effective_from: new Date('2026-01-01T00:00:00Z'), origin: 'config' },
        { provider: 'OpenAI', region: '*', model: 'openai/GPT-4o', spec: { input: '1', output: '4' }, effective_from: new Date('2026-02-01T00:00:00Z'), origin: 'api' },
        { provider: 'aws', region: 'ap-northeast-2', model: 'anthropic.claude-3-5-sonnet-20240620-v1:0', spec: { input: '3.5', output: '17' }, effective_from: new Date(0), origin: 'env' },
      ],
    });
    expect(quote('openai', 'gpt-4o-2024-08-06', u, { e, time: Date.parse('2025-12-31T23:59:59Z') }).snapshot).toMatchObject({ source: 'catalog', cost: '12.5' });
    expect(quote('openai', 'gpt-4o-2024-08-06', u, { e, time: Date.parse('2026-01-15T00:00:00Z') }).snapshot).toMatchObject({
      source: 'override',
      catalog: 'config',
      effective_from: '2026-01-01T00:00:00.000Z',
      cost: '10',
    });
    expect(quote('openai', 'gpt-4o', u, { e, time: Date.parse('2026-03-01T00:00:00Z') }).cost).toBe('5');
    expect(quote('bedrock', 'apac.anthropic.claude-3-5-sonnet-20240620-v1:0', u, { e, region: 'ap-northeast-2' }).cost).toBe('20.5');
    expect(quote('bedrock', 'anthropic.claude-3-5-sonnet-20240620-v1:0', u, { e, region: 'ap-northeast-1' }).cost).toBe('18');
  });

  it('a price change at T prices events before and after T differently (property)', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1_600_000_000_000, max: 1_900_000_000_000 }), fc.integer({ min: -1e10, max: 1e10 }), (tChange, delta) => {
        const e = createEngine({
          catalog,
          overrides: [{ provider: 'acme', region: '*', model: 'm', spec: { input: '1', output: '1' }, effective_from: new Date(tChange), origin: 'api' }, { provider: 'acme', region: '*', model: 'm', spec: { input: '2', output: '2' }, effective_from: new Date(0), origin: 'config' }],
        });
        const r = quote('acme', 'm', { input_tokens: 1_000_000 }, { e, time: tChange + delta });
        expect(r.cost).toBe(delta >= 0 ? '1' : '2');
      }),
      { numRuns: 300 },
    );
  });

  it('negotiated discounts: team-and-provider beats team beats provider; batch halves where the provider offers it', () => {
    const e = createEngine({
      catalog,
      discounts: [
        { provider: 'openai', team: null, percent: '10', effective_from: new Date(0), origin: 'config' },
        { provider: null, team: 'research', percent: '20', effective_from: new Date(0), origin: 'config' },
        { provider: 'openai', team: 'research', percent: '25', effective_from: new Date('2026-06-01T00:00:00Z'), origin: 'api' },
      ],
    });
    expect(quote('openai', 'gpt-4o', u, { e }).snapshot).toMatchObject({ subtotal: '12.5', cost: '11.25', discount_percent: '10', discount_scope: 'provider:openai' });
    expect(quote('openai', 'gpt-4o', u, { e, team: 'research' }).cost).toBe('10');
    expect(quote('openai', 'gpt-4o', u, { e, team: 'research', time: Date.parse('2026-06-01T00:00:00Z') }).cost).toBe('9.375');
    expect(quote('anthropic', 'claude-3-5-haiku-20241022', u, { e }).cost).toBe('4.8');
    expect(quote('openai', 'gpt-4o', u, { batch: true }).snapshot).toMatchObject({ subtotal: '12.5', cost: '6.25', batch: true, batch_discount: '0.5' });
    expect(quote('deepseek', 'deepseek-chat', u, { batch: true, time: Date.parse('2025-06-09T10:00:00Z') }).cost).toBe('1.37'); // no batch discount
    expect(quote('openai', 'gpt-4o', u, { e, batch: true }).cost).toBe('5.625');
  });

  it('unknown models are unpriced, with a reason', () => {
    const r = engine.price({ provider: 'openai', model: 'gpt-99', time: T, usage: { input_tokens: 1, output_tokens: 1 } });
    expect(r).toMatchObject({ priced: false, reason: 'no price for model "gpt-99"' });
    expect(engine.price({ provider: 'acme', model: 'x', time: T, usage: { input_tokens: 1, output_tokens: 1 } })).toMatchObject({ priced: false, reason: 'unknown provider "acme"' });
  });
});

describe('priceRows (the ingest enrich hook)', () => {
  const row = (over: Partial<EventRow>): EventRow => ({
    source: 's', id: '1', type: 'llm.usage', subject: null, time: new Date(T), data: {},
    provider: 'openai', model: 'gpt-4o', region: null, team: null, project: null, api_key: null, feature: null,
    input_tokens: 1000, output_tokens: 500, cache_read_tokens: 0, cache_write_tokens: 0, reasoning_tokens: 0,
    cost: null, cost_source: null, computed_cost: null, price: null, unpriced: true, estimated: false,
    ...over,
  });

  it('sets cost = computed cost, or keeps the provider-reported cost beside it, or flags unpriced', () => {
    const rows = [
      row({}),
      row({ id: '2', data: { cost: '0.02' }, cost: '0.02', cost_source: 'provider', unpriced: false }),
      row({ id: '3', model: 'gpt-99' }),
      row({ id: '4', model: 'gpt-99', data: { cost: '0.5' }, cost: '0.5', cost_source: 'provider', unpriced: false }),
      row({ id: '5', type: 'resource.snapshot', provider: null, model: null, unpriced: false }),
      row({ id: '6', model: 'claude-sonnet-4-20250514', provider: 'anthropic', cache_write_tokens: 2000, data: { cache_write_1h_tokens: 1000, batch: true } }),
    ];
    engine.priceRows(rows);
    expect(rows[0]).toMatchObject({ cost: '0.0075', cost_source: 'computed', computed_cost: '0.0075', unpriced: false });
    expect(rows[0]!.price).toMatchObject({ model: 'gpt-4o', breakdown: { input: '0.0025', output: '0.005' } });
    expect(rows[1]).toMatchObject({ cost: '0.02', cost_source: 'provider', computed_cost: '0.0075', unpriced: false });
    expect(rows[2]).toMatchObject({ cost: null, cost_source: null, computed_cost: null, price: null, unpriced: true });
    expect(rows[3]).toMatchObject({ cost: '0.5', cost_source: 'provider', computed_cost: null, unpriced: false });
    expect(rows[4]).toMatchObject({ cost: null, price: null, unpriced: false });
    // 1000 in × 3 + 1000 5m × 3.75 + 1000 1h × 6 + 500 out × 15 = 0.003 + 0.00375 + 0.006 + 0.0075 = 0.02025, batch half
    expect(rows[5]).toMatchObject({ cost: '0.010125', computed_cost: '0.010125' });
  });
});
