import type { Usage } from './types.ts';

const M = 1_000_000;

/**
 * Issue 20's defects, each as [provider, model, region, usage, expected cost, expected $/M]: what the
 * provider bills, checked against its pricing page and LiteLLM's table (docs/pricing.md).
 */
export const ISSUE_20: Array<[string, string, string | undefined, Partial<Usage>, string, Record<string, string>]> = [
  // DeepSeek V3.2: 0.28 in / 0.42 out / 0.028 cache read, both models
  ['deepseek', 'deepseek-chat', undefined, { input_tokens: M, output_tokens: M, cache_read_tokens: M }, '0.728', { input: '0.28', cache_read: '0.028', output: '0.42' }],
  ['deepseek', 'deepseek-reasoner', undefined, { input_tokens: M, output_tokens: M, cache_read_tokens: M }, '0.728', { input: '0.28', cache_read: '0.028', output: '0.42' }],
  // Claude Sonnet 4 above 200k prompt tokens: 6 / 22.50 for the whole request (direct and Bedrock), Sonnet 4.5 on Bedrock too
  ['anthropic', 'claude-sonnet-4-20250514', undefined, { input_tokens: 200_001, output_tokens: M }, '23.700006', { input: '6', output: '22.5' }],
  ['anthropic', 'claude-sonnet-4-20250514', undefined, { input_tokens: 200_000, output_tokens: M }, '15.6', { input: '3', output: '15' }],
  ['bedrock', 'anthropic.claude-sonnet-4-20250514-v1:0', 'us-east-1', { input_tokens: 250_000, output_tokens: M }, '24', { input: '6', output: '22.5' }],
  ['bedrock', 'global.anthropic.claude-sonnet-4-20250514-v1:0', undefined, { input_tokens: 250_000, output_tokens: M }, '24', { input: '6', output: '22.5' }],
  ['bedrock', 'global.anthropic.claude-sonnet-4-5-20250929-v1:0', undefined, { input_tokens: 250_000, output_tokens: M }, '24', { input: '6', output: '22.5' }],
  ['bedrock', 'us.anthropic.claude-sonnet-4-5-20250929-v1:0', 'us-east-1', { input_tokens: 250_000, output_tokens: M }, '26.4', { input: '6.6', output: '24.75' }],
  // Bedrock regional rows override only their fields: Claude 3.5 Sonnet v1 keeps the catalog's cache prices 0.30 / 3.75
  ['bedrock', 'anthropic.claude-3-5-sonnet-20240620-v1:0', 'us-east-1', { input_tokens: M, cache_read_tokens: M, cache_write_tokens: M, output_tokens: M }, '22.05', { input: '3', cache_read: '0.3', cache_write: '3.75', output: '15' }],
  ['bedrock', 'anthropic.claude-3-5-sonnet-20240620-v1:0', 'eu-central-1', { input_tokens: M, cache_read_tokens: M, output_tokens: M }, '18.3', { input: '3', cache_read: '0.3', output: '15' }],
  // … and Claude 3 Haiku, which the catalog lists without cache prices (Bedrock offers it no caching): input rate
  ['bedrock', 'anthropic.claude-3-haiku-20240307-v1:0', 'us-east-1', { input_tokens: M, cache_read_tokens: M, output_tokens: M }, '1.75', { input: '0.25', cache_read: '0.25', output: '1.25' }],
  // Bedrock Llama 3 70B in eu-west-1 (a row the audit found missing): 2.86 / 3.78
  ['bedrock', 'meta.llama3-70b-instruct-v1:0', 'eu-west-1', { input_tokens: M, output_tokens: M }, '6.64', { input: '2.86', output: '3.78' }],
  // Embeddings price input only; output tokens are free
  ['openai', 'text-embedding-3-small', undefined, { input_tokens: M, output_tokens: 1 }, '0.02', { input: '0.02', output: '0' }],
  ['openai', 'text-embedding-3-large', undefined, { input_tokens: M, output_tokens: 3 }, '0.13', { input: '0.13', output: '0' }],
  // Aliases: mistral-large-latest is Large 3 (0.5 / 1.5); dated Small and Nemo names resolve
  ['mistral', 'mistral-large-latest', undefined, { input_tokens: M, output_tokens: M }, '2', { input: '0.5', output: '1.5' }],
  ['mistral', 'mistral-small-2503', undefined, { input_tokens: M, output_tokens: M }, '0.4', { input: '0.1', output: '0.3' }],
  ['mistral', 'mistral-small-2506', undefined, { input_tokens: M, output_tokens: M }, '0.4', { input: '0.1', output: '0.3' }],
  ['mistral', 'open-mistral-nemo-2407', undefined, { input_tokens: M, output_tokens: M }, '0.3', { input: '0.15', output: '0.15' }],
  // Gemini 2.0 Flash-Lite cache reads: 0.01875
  ['google', 'gemini-2.0-flash-lite', undefined, { input_tokens: M, cache_read_tokens: M, output_tokens: M }, '0.39375', { input: '0.075', cache_read: '0.01875', output: '0.3' }],
  // gpt-5.4: base price up to 272,000 prompt tokens, long-context (5 / 22.50) above
  ['openai', 'gpt-5.4', undefined, { input_tokens: 272_000, output_tokens: M }, '15.68', { input: '2.5', output: '15' }],
  ['openai', 'gpt-5.4', undefined, { input_tokens: 272_001, output_tokens: M }, '23.860005', { input: '5', output: '22.5' }],
];
