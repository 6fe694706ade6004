import { describe, expect, it } from 'vitest';
import { compileCatalog, loadCatalog, type RawCatalog } from './catalog/index.ts';
import { applyCorrections, CORRECTIONS } from './catalog/corrections.ts';
import { createEngine, isFailedWithoutUsage } from './engine.ts';
import type { EventRow } from '../events/types.ts';
import type { Usage } from './types.ts';
import { ISSUE_20 } from './issue20.fixture.ts';

const engine = createEngine({ catalog: loadCatalog() });
const T = Date.parse('2026-01-09T10:00:00Z');
const M = 1_000_000;

function quote(provider: string, model: string, usage: Partial<Usage>, region?: string, time = T) {
  const r = engine.price({ provider, model, region, time, usage: { input_tokens: 0, output_tokens: 0, ...usage } });
  if (!r.priced) throw new Error(`${provider}/${model} unpriced: ${r.reason}`);
  return r;
}


describe('issue 20: prices that match the bill', () => {
  it.each(ISSUE_20)('%s %s %s', (provider, model, region, usage, cost, prices) => {
    const r = quote(provider, model, usage, region);
    expect(r.cost).toBe(cost);
    expect(r.snapshot.prices).toEqual(prices);
  });

  it('DeepSeek keeps its earlier prices for earlier events: V3 until 2025-09-05 16:00 UTC, V3.1 until 2025-09-29', () => {
    const u = { input_tokens: M, output_tokens: M };
    expect(quote('deepseek', 'deepseek-reasoner', u, undefined, Date.parse('2025-09-05T15:59:59Z')).cost).toBe('2.74'); // 0.55 + 2.19
    expect(quote('deepseek', 'deepseek-reasoner', u, undefined, Date.parse('2025-09-05T16:00:00Z')).cost).toBe('2.24'); // 0.56 + 1.68
    expect(quote('deepseek', 'deepseek-chat', u, undefined, Date.parse('2025-09-28T23:00:00Z')).cost).toBe('2.24'); // no night discount any more
    expect(quote('deepseek', 'deepseek-chat', u, undefined, Date.parse('2025-09-29T00:00:00Z')).cost).toBe('0.7');
  });

  it('gpt-5.4-pro has the same boundary (272,000)', () => {
    expect(quote('openai', 'gpt-5.4-pro', { input_tokens: 272_000 }).snapshot.tier_above).toBeNull();
    expect(quote('openai', 'gpt-5.4-pro', { input_tokens: 272_001 }).snapshot.tier_above).toBe(272_000);
  });

  it('mistral-large-2411 stays Large 2 (2 / 6)', () => {
    expect(quote('mistral', 'mistral-large-2411', { input_tokens: M, output_tokens: M }).cost).toBe('8');
  });

  it('a correction leaves a source that has fixed the flaw alone, and never applies twice', () => {
    const fixed: RawCatalog = {
      source: { name: 'x', version: '1', url: '', license: '', generated_at: '2026-12-01' },
      providers: [{ id: 'openai', name: 'OpenAI', models: [{ id: 'gpt-5.4', match: { equals: 'gpt-5.4' }, prices: [{ prices: { input_mtok: { base: '2.5', tiers: [{ start: 272_000, price: '5' }] }, output_mtok: '15' } }] }] }],
    };
    expect(applyCorrections(fixed).applied).toEqual([]);
    const once = applyCorrections({ source: fixed.source, providers: [{ id: 'deepseek', name: 'DeepSeek', models: [{ id: 'deepseek-chat', match: { equals: 'deepseek-chat' }, prices: [{ prices: { input_mtok: '0.27', output_mtok: '1.1' } }] }] }] });
    expect(once.applied.map((a) => a.model)).toEqual(['deepseek-chat']);
    expect(applyCorrections(once.catalog).applied).toEqual([]);
    const c = compileCatalog(once.catalog, { corrections: false });
    expect(c.byId.get('deepseek')!.models[0]!.versions().map((v) => v.effective_from)).toEqual([null, '2025-09-05T16:00:00Z', '2025-09-29']);
  });

  it('every correction names a model the bundled catalog has', async () => {
    const { readFileSync } = await import('node:fs');
    const raw = JSON.parse(readFileSync(new URL('./catalog/genai-prices.json', import.meta.url), 'utf8')) as RawCatalog;
    for (const c of CORRECTIONS) expect(raw.providers.find((p) => p.id === c.provider)?.models.some((m) => m.id === c.model), `${c.provider}/${c.model}`).toBe(true);
  });
});

describe('issue 13: a failed call with no usage is not an unpriced call', () => {
  const row = (data: Record<string, unknown>, tokens: Partial<EventRow> = {}): EventRow =>
    ({
      source: 'gw', id: 'x', type: 'llm.usage', subject: null, time: new Date(T), data, provider: String(data.provider), model: String(data.model), region: null, team: null, project: null, api_key: null, feature: null,
      input_tokens: 0, output_tokens: 0, cache_read_tokens: 0, cache_write_tokens: 0, reasoning_tokens: 0, cost: null, cost_source: null, computed_cost: null, price: null, unpriced: false, estimated: false, ...tokens,
    }) as EventRow;

  it.each([
    [{ status: 500, error: 'upstream 500' }, true],
    [{ status: 504, error: 'no response within 30000 ms' }, true],
    [{ status: 0 }, true],
    [{ status: 'timeout' }, true],
    [{ status: '429' }, true],
    [{ error: 'connection reset' }, true],
    [{ status: 200 }, false],
    [{}, false],
  ])('%j → failed without usage: %s', (extra, failed) => {
    const r = row({ provider: 'acme', model: 'nope', ...extra });
    expect(isFailedWithoutUsage(r, r.data as Record<string, unknown>)).toBe(failed);
    engine.priceRow(r);
    expect(r.unpriced).toBe(!failed);
    expect(r.cost).toBe(failed ? '0' : null);
  });

  it('a failed call that did use tokens on an unknown model stays unpriced', () => {
    const r = row({ provider: 'acme', model: 'nope', status: 500 }, { input_tokens: 10 });
    engine.priceRow(r);
    expect(r.unpriced).toBe(true);
  });
});
