import { describe, expect, it } from 'vitest';
import { loadConfig } from '../config.ts';

const load = (env: Record<string, string>, overrides: Record<string, unknown> = {}) => loadConfig({ env, cwd: '/nonexistent', overrides });

describe('pricing config', () => {
  it('reads TOLLGATE_PRICING as provider → region → model → prices', () => {
    const c = load({ TOLLGATE_PRICING: '{"bedrock":{"ap-northeast-2":{"anthropic.claude-3-5-sonnet-20240620-v1:0":{"input":"3","output":15}}}}' });
    expect(c.pricing.env_overrides).toEqual({ bedrock: { 'ap-northeast-2': { 'anthropic.claude-3-5-sonnet-20240620-v1:0': { input: '3', output: '15' } } } });
  });

  it('names the field on bad values', () => {
    expect(() => load({ TOLLGATE_PRICING: '{not json' })).toThrow(/pricing\.env_overrides \(from TOLLGATE_PRICING\): is not valid JSON/);
    expect(() => load({ TOLLGATE_PRICING: '{"openai":{"*":{"gpt-4o":{"input":"cheap"}}}}' })).toThrow(/pricing\.env_overrides\.openai\.\*\.gpt-4o\.input.*non-negative decimal/);
    expect(() => load({}, { 'pricing.discounts': [{ percent: '10' }] })).toThrow(/pricing\.discounts\.0.*names a provider, a team, or both/);
    expect(() => load({}, { 'pricing.overrides': { openai: { '*': { 'gpt-4o': { input: '1', effective_from: 'soon' } } } } })).toThrow(/effective_from/);
  });
});
