import type { PriceSpec } from '../types.ts';

/**
 * AWS Bedrock prices per region, kept by hand: genai-prices lists one Bedrock price per model
 * (us-east-1, plus global vs. geo/regional inference profiles), but AWS lists some models at
 * different prices in different regions.
 *
 * Keys are genai-prices `aws` model ids (what a Bedrock model id or inference-profile id resolves
 * to). A region missing here is billed at the catalog price. Global (`global.`) profiles always
 * use the catalog's global price; geo profiles (`us.`, `eu.`, `apac.`, `jp.`, `au.`) bill at the
 * source region's price, so the event's region selects the row.
 *
 * Source: https://aws.amazon.com/bedrock/pricing/ (on-demand, per 1M tokens), as recalled on
 * 2026-11-22 — NOT re-verified against the live page or the AWS Price List API. See
 * docs/pricing.md; correct any figure with a config override (pricing.overrides.bedrock.<region>).
 */
export const BEDROCK_REGIONS_AS_OF = '2026-11-22';
export const BEDROCK_REGIONS_LABEL = `bedrock-regions@${BEDROCK_REGIONS_AS_OF}`;

export const BEDROCK_REGIONAL: Record<string, Record<string, PriceSpec>> = {
  // Meta Llama 3 (the 2024 generation): AWS lists Ireland, Mumbai, Canada, London and São Paulo
  // above the US regions. eu-west-1, us-west-1 and sa-east-1 added 2026-11-23 from the audit against
  // LiteLLM's table (its bedrock/<region>/meta.llama3-* rows, snapshot 2026-07-24).
  'meta.llama3-8b-instruct-v1:0': {
    'us-east-1': { input: '0.3', output: '0.6' },
    'us-west-1': { input: '0.3', output: '0.6' },
    'us-west-2': { input: '0.3', output: '0.6' },
    'eu-west-1': { input: '0.32', output: '0.65' },
    'sa-east-1': { input: '0.5', output: '1.01' },
    'ap-south-1': { input: '0.36', output: '0.72' },
    'ca-central-1': { input: '0.35', output: '0.69' },
    'eu-west-2': { input: '0.39', output: '0.78' },
  },
  'meta.llama3-70b-instruct-v1:0': {
    'us-east-1': { input: '2.65', output: '3.5' },
    'us-west-1': { input: '2.65', output: '3.5' },
    'us-west-2': { input: '2.65', output: '3.5' },
    'eu-west-1': { input: '2.86', output: '3.78' },
    'sa-east-1': { input: '4.45', output: '5.88' },
    'ap-south-1': { input: '3.18', output: '4.2' },
    'ca-central-1': { input: '3.05', output: '4.03' },
    'eu-west-2': { input: '3.45', output: '4.55' },
  },
  // Anthropic on Bedrock: one in-region price across the regions that serve the model (listed so
  // the snapshot records the region; Seoul and Tokyo are what seed 004 runs in). A row overrides
  // only the fields it sets: cache prices and long-context tiers come from the catalog entry.
  'regional.anthropic.claude-3-5-sonnet-20240620-v1:0': sameIn(['us-east-1', 'us-west-2', 'eu-central-1', 'ap-northeast-1', 'ap-northeast-2'], {
    input: '3',
    output: '15',
  }),
  'regional.anthropic.claude-3-haiku-20240307-v1:0': sameIn(['us-east-1', 'us-west-2', 'eu-central-1', 'ap-northeast-1', 'ap-northeast-2'], {
    input: '0.25',
    output: '1.25',
  }),
  'regional.anthropic.claude-3-7-sonnet-20250219-v1:0': sameIn(['us-east-1', 'us-west-2', 'eu-central-1', 'ap-northeast-1', 'ap-northeast-2'], {
    input: '3',
    output: '15',
    cache_read: '0.3',
    cache_write: '3.75',
  }),
  'regional.anthropic.claude-sonnet-4-20250514-v1:0': sameIn(['us-east-1', 'us-west-2', 'eu-central-1', 'ap-northeast-1', 'ap-northeast-2'], {
    input: '3',
    output: '15',
    cache_read: '0.3',
    cache_write: '3.75',
  }),
};

function sameIn(regions: string[], spec: PriceSpec): Record<string, PriceSpec> {
  return Object.fromEntries(regions.map((r) => [r, spec]));
}
