import { describe, expect, it } from 'vitest';
import { loadCatalog } from './catalog/index.ts';
import { resolveModel } from './resolve.ts';

/**
 * How each name resolves: [provider, model, region] → [Tollgate provider, catalog model id, region, profile].
 * This table is the specification of model-name resolution (docs/pricing.md repeats it).
 */
const TABLE: Array<[string, string, string | null, string, string | null, string | null, string | null]> = [
  // provider, model, region           → provider, catalog model id, region, profile
  // dated snapshots and aliases
  ['openai', 'gpt-4o', null, 'openai', 'gpt-4o', null, null],
  ['openai', 'gpt-4o-2024-08-06', null, 'openai', 'gpt-4o', null, null],
  ['openai', 'gpt-4o-2024-05-13', null, 'openai', 'gpt-4o-2024-05-13', null, null], // the older snapshot has its own (higher) price
  ['openai', 'gpt-4o-mini-2024-07-18', null, 'openai', 'gpt-4o-mini', null, null],
  ['openai', 'o3-2025-04-16', null, 'openai', 'o3', null, null],
  ['anthropic', 'claude-sonnet-4-20250514', null, 'anthropic', 'claude-sonnet-4-0', null, null],
  ['anthropic', 'claude-3-5-sonnet-latest', null, 'anthropic', 'claude-3-5-sonnet', null, null],
  ['anthropic', 'claude-3-haiku-20240307', null, 'anthropic', 'claude-3-haiku', null, null],
  ['x-ai', 'grok-4', null, 'xai', 'grok-4-0709', null, null],
  ['mistral', 'mistral-large-latest', null, 'mistral', 'mistral-large-2512', null, null], // -latest follows the current Large (issue 20)
  ['mistral', 'mistral-large-2411', null, 'mistral', 'mistral-large', null, null],
  // case, whitespace, provider prefixes, SDK resource names
  ['OpenAI', ' GPT-4o ', null, 'openai', 'gpt-4o', null, null],
  ['openai', 'openai/gpt-4o', null, 'openai', 'gpt-4o', null, null],
  ['anthropic', 'anthropic/claude-3-5-haiku-20241022', null, 'anthropic', 'claude-3-5-haiku-latest', null, null],
  ['gemini', 'models/gemini-2.5-flash', null, 'google', 'gemini-2.5-flash', null, null],
  ['vertex_ai', 'publishers/google/models/gemini-2.5-pro', null, 'google', 'gemini-2.5-pro', null, null],
  ['google', 'gemini-1.5-pro-002', null, 'google', 'gemini-1.5-pro', null, null],
  // provider aliases
  ['azure-openai', 'gpt-4o-mini', null, 'azure', 'gpt-4o-mini', null, null], // Azure falls back to OpenAI's list
  ['xai', 'grok-3', null, 'xai', 'grok-3', null, null],
  ['deepseek', 'deepseek-chat', null, 'deepseek', 'deepseek-chat', null, null],
  // Bedrock model ids, inference profiles, ARNs, LiteLLM-style prefixes
  ['bedrock', 'anthropic.claude-3-5-sonnet-20240620-v1:0', 'us-east-1', 'bedrock', 'regional.anthropic.claude-3-5-sonnet-20240620-v1:0', 'us-east-1', null],
  ['aws', 'us.anthropic.claude-sonnet-4-5-20250929-v1:0', 'us-west-2', 'bedrock', 'regional.anthropic.claude-sonnet-4-5-20250929-v1:0', 'us-west-2', 'us'],
  ['bedrock', 'global.anthropic.claude-sonnet-4-5-20250929-v1:0', null, 'bedrock', 'global.anthropic.claude-sonnet-4-5-20250929-v1:0', null, 'global'],
  ['amazon-bedrock', 'meta.llama3-70b-instruct-v1:0', 'EU-WEST-2', 'bedrock', 'meta.llama3-70b-instruct-v1:0', 'eu-west-2', null],
  ['bedrock', 'bedrock/eu.anthropic.claude-3-7-sonnet-20250219-v1:0', 'eu-central-1', 'bedrock', 'regional.anthropic.claude-3-7-sonnet-20250219-v1:0', 'eu-central-1', 'eu'],
  [
    'bedrock',
    'arn:aws:bedrock:ap-northeast-2:123456789012:inference-profile/apac.anthropic.claude-3-5-sonnet-20240620-v1:0',
    null,
    'bedrock',
    'regional.anthropic.claude-3-5-sonnet-20240620-v1:0',
    'ap-northeast-2',
    'apac',
  ],
  // routers keep their own catalog's names
  ['openrouter', 'anthropic/claude-3.5-sonnet', null, 'openrouter', 'anthropic/claude-3.5-sonnet', null, null],
  // unknown: no catalog entry (the event is stored unpriced)
  ['openai', 'my-private-finetune', null, 'openai', null, null, null],
  ['acme-llm', 'foo-1', null, 'acme-llm', null, null, null],
];

describe('resolveModel', () => {
  const catalog = loadCatalog();
  it.each(TABLE)('%s / %s (%s)', (provider, model, region, wantProvider, wantId, wantRegion, wantProfile) => {
    const r = resolveModel(provider, model, region, catalog);
    expect({ provider: r.provider, model_id: r.model_id, region: r.region, profile: r.profile }).toEqual({
      provider: wantProvider,
      model_id: wantId,
      region: wantRegion,
      profile: wantProfile,
    });
  });
});
