import { describe, expect, it } from 'vitest';
import { loadCatalog } from './catalog/index.ts';
import { createEngine } from './engine.ts';
import { auditAgainstLitellm, auditReport, formatAudit, reviewedDifferences } from './audit.ts';
import { litellmName, litellmPrices, litellmToCatalog, perMillion } from './catalog/litellm.ts';

const FIXTURE = new URL('../../test/pricing/fixtures/litellm-prices-2026-07-24.json', import.meta.url);
const DOCS = new URL('../../docs/pricing.md', import.meta.url);
const engine = createEngine({ catalog: loadCatalog() });

describe('audit:prices — the catalog against an independent table (LiteLLM, 2026-07-24)', () => {
  it('has no disagreement that docs/pricing.md does not review, and no review left over', () => {
    const r = auditReport(engine, FIXTURE, DOCS);
    expect(r.compared).toBeGreaterThanOrEqual(100);
    // On failure: run `npm run audit:prices`, fix the price or add the line with its reason to docs/pricing.md.
    expect(r.unreviewed, formatAudit(r)).toEqual([]);
    expect(r.stale, formatAudit(r)).toEqual([]);
  });

  it('finds a new disagreement (a price moved in the table)', () => {
    const table = { 'gpt-4o': { litellm_provider: 'openai', input_cost_per_token: 0.000003, output_cost_per_token: 0.00001 } };
    expect(auditAgainstLitellm(engine, table, Date.parse('2026-07-24T12:00:00Z'))).toEqual([{ key: 'gpt-4o', field: 'input', catalog: '2.5', litellm: '3' }]);
  });

  it('reads the reviewed table from markdown', () => {
    const md = '<!-- audit:known-differences:start -->\n| LiteLLM key | field | catalog | litellm | reason |\n|---|---|---|---|---|\n| `a/b` | input | 1 | 2 | why |\n<!-- audit:known-differences:end -->';
    expect(reviewedDifferences(md)).toEqual([{ key: 'a/b', field: 'input', catalog: '1', litellm: '2', reason: 'why' }]);
  });
});

describe('LiteLLM adapter', () => {
  it('per-token floats become exact per-million decimals', () => {
    expect([2.8e-7, 1.875e-8, 0.0000225, 3e-7, 0.000004125].map(perMillion)).toEqual(['0.28', '0.01875', '22.5', '0.3', '4.125']);
  });

  it('names: provider prefixes and Bedrock regions come off, a router prefix stays', () => {
    expect(litellmName('bedrock/eu-west-1/meta.llama3-70b-instruct-v1:0', { litellm_provider: 'bedrock' })).toEqual({ provider: 'aws', model: 'meta.llama3-70b-instruct-v1:0', region: 'eu-west-1' });
    expect(litellmName('groq/openai/gpt-oss-120b', { litellm_provider: 'groq' })).toEqual({ provider: 'groq', model: 'openai/gpt-oss-120b', region: null });
    expect(litellmName('gemini/gemini-2.5-pro', { litellm_provider: 'gemini' })).toEqual({ provider: 'google', model: 'gemini-2.5-pro', region: null });
  });

  it('tiers from _above_<N>k_tokens', () => {
    expect(litellmPrices({ input_cost_per_token: 0.0000025, input_cost_per_token_above_272k_tokens: 0.000005, output_cost_per_token: 0.000015 })).toEqual({
      input_mtok: { base: '2.5', tiers: [{ start: 272_000, price: '5' }] },
      output_mtok: '15',
    });
  });

  it('a whole table becomes a genai-prices catalog that prices', () => {
    const raw = litellmToCatalog({ 'deepseek-chat': { litellm_provider: 'deepseek', input_cost_per_token: 2.8e-7, output_cost_per_token: 4.2e-7 } }, { version: '2026-07-24', generated_at: '2026-07-24' });
    expect(raw.providers).toEqual([{ id: 'deepseek', name: 'deepseek', models: [{ id: 'deepseek-chat', match: { equals: 'deepseek-chat' }, prices: [{ prices: { input_mtok: '0.28', output_mtok: '0.42' } }] }] }]);
  });
});
