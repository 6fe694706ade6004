/**
 * Anthropic Admin API usage and cost reports, read as pure functions (the collector does the
 * I/O): the URL of one page, and one page's JSON parsed into plain rows.
 * Wire facts: `uncached_input_tokens` EXCLUDES cache reads and writes (they are
 * `cache_read_input_tokens` and `cache_creation.ephemeral_5m_input_tokens` /
 * `ephemeral_1h_input_tokens`); the usage report has no request count; `api_key_id` is null for
 * Workbench usage and `workspace_id` null for the default workspace (both kept); the cost
 * report's `amount` is a decimal STRING IN CENTS ("123.45" is $1.2345).
 */

import { Money } from '../../../shared/money.ts';
import { maxBuckets, nextPage, num, ReportShapeError, strOrNull, withQuery, type Page } from '../usage-report.ts';
export { maxBuckets, ReportShapeError, type Page } from '../usage-report.ts';

export interface AnthropicUsageRow {
  /** RFC 3339, as the report gives them. */
  starting_at: string;
  ending_at: string;
  api_key_id: string | null;
  workspace_id: string | null;
  model: string | null;
  service_tier: string | null;
  context_window: string | null;
  uncached_input: number;
  cache_read: number;
  cache_write_5m: number;
  cache_write_1h: number;
  output: number;
  /** e.g. {web_search_requests: 3}. */
  server_tool_use: Record<string, number>;
}

export type AnthropicTokenClass = 'input' | 'cache_read' | 'cache_write_5m' | 'cache_write_1h' | 'output';

export interface AnthropicCostLine {
  starting_at: string;
  ending_at: string;
  workspace_id: string | null;
  description: string | null;
  model: string | null;
  service_tier: string | null;
  context_window: string | null;
  cost_type: string | null;
  token_class: AnthropicTokenClass | null;
  /** USD decimal string (the wire's cents divided by 100). */
  amount_usd: string;
  currency: string;
}


export const USAGE_GROUP_BY = ['api_key_id', 'workspace_id', 'model', 'service_tier', 'context_window'] as const;
export const COST_GROUP_BY = ['workspace_id', 'description'] as const;
export const ANTHROPIC_VERSION = '2023-06-01';

/** `base` is the API origin (https://api.anthropic.com). Times RFC 3339; end exclusive. */
export function anthropicUsageUrl(base: string, o: { start: string; end: string; width: '1d' | '1h'; page?: string | null }): string {
  return withQuery(base, '/v1/organizations/usage_report/messages', [
    ['starting_at', o.start],
    ['ending_at', o.end],
    ['bucket_width', o.width],
    ...USAGE_GROUP_BY.map((g) => ['group_by[]', g] as [string, string]),
    ['limit', maxBuckets(o.width)],
    ['page', o.page],
  ]);
}

export function anthropicCostUrl(base: string, o: { start: string; end: string; page?: string | null }): string {
  return withQuery(base, '/v1/organizations/cost_report', [
    ['starting_at', o.start],
    ['ending_at', o.end],
    ...COST_GROUP_BY.map((g) => ['group_by[]', g] as [string, string]),
    ['limit', 31],
    ['page', o.page],
  ]);
}

export const anthropicHeaders = (adminKey: string) => ({ 'x-api-key': adminKey, 'anthropic-version': ANTHROPIC_VERSION });


function buckets(body: unknown): Array<{ starting_at: string; ending_at: string; results: Array<Record<string, unknown>> }> {
  const b = body as { data?: unknown };
  if (!b || typeof b !== 'object' || !Array.isArray(b.data)) throw new ReportShapeError('the report has no data array');
  return b.data.map((x: any) => {
    if (typeof x?.starting_at !== 'string' || typeof x?.ending_at !== 'string' || !Array.isArray(x?.results)) throw new ReportShapeError('a bucket lacks starting_at, ending_at or results');
    return x;
  });
}


export function parseAnthropicUsagePage(body: unknown): Page<AnthropicUsageRow> {
  const items: AnthropicUsageRow[] = [];
  for (const bucket of buckets(body)) {
    for (const r of bucket.results) {
      const cc = (r.cache_creation ?? {}) as Record<string, unknown>;
      const tools: Record<string, number> = {};
      for (const [k, v] of Object.entries((r.server_tool_use ?? {}) as Record<string, unknown>)) tools[k] = num(v, `server_tool_use.${k}`);
      items.push({
        starting_at: bucket.starting_at,
        ending_at: bucket.ending_at,
        api_key_id: strOrNull(r.api_key_id),
        workspace_id: strOrNull(r.workspace_id),
        model: strOrNull(r.model),
        service_tier: strOrNull(r.service_tier),
        context_window: strOrNull(r.context_window),
        uncached_input: num(r.uncached_input_tokens, 'uncached_input_tokens'),
        cache_read: num(r.cache_read_input_tokens, 'cache_read_input_tokens'),
        cache_write_5m: num(cc.ephemeral_5m_input_tokens, 'cache_creation.ephemeral_5m_input_tokens'),
        cache_write_1h: num(cc.ephemeral_1h_input_tokens, 'cache_creation.ephemeral_1h_input_tokens'),
        output: num(r.output_tokens, 'output_tokens'),
        server_tool_use: tools,
      });
    }
  }
  return { items, next_page: nextPage(body) };
}

const TOKEN_TYPES: Record<string, AnthropicTokenClass> = {
  uncached_input_tokens: 'input',
  cache_read_input_tokens: 'cache_read',
  'cache_creation.ephemeral_5m_input_tokens': 'cache_write_5m',
  'cache_creation.ephemeral_1h_input_tokens': 'cache_write_1h',
  output_tokens: 'output',
};

/** Cents (decimal string) → dollars (decimal string), exactly (40 significant digits). */
export function centsToUsd(cents: string): string {
  if (!/^-?\d+(\.\d+)?$/.test(cents.trim())) throw new ReportShapeError(`amount is not a decimal string: ${JSON.stringify(cents)}`);
  return new Money(cents.trim()).div(100).toFixed();
}

export function parseAnthropicCostPage(body: unknown): Page<AnthropicCostLine> {
  const items: AnthropicCostLine[] = [];
  for (const bucket of buckets(body)) {
    for (const r of bucket.results) {
      if (typeof r.amount !== 'string') throw new ReportShapeError(`amount must be a decimal string in cents, got ${JSON.stringify(r.amount)}`);
      const tokenType = strOrNull(r.token_type);
      items.push({
        starting_at: bucket.starting_at,
        ending_at: bucket.ending_at,
        workspace_id: strOrNull(r.workspace_id),
        description: strOrNull(r.description),
        model: strOrNull(r.model),
        service_tier: strOrNull(r.service_tier),
        context_window: strOrNull(r.context_window),
        cost_type: strOrNull(r.cost_type),
        token_class: tokenType ? (TOKEN_TYPES[tokenType] ?? null) : null,
        amount_usd: centsToUsd(r.amount),
        currency: (strOrNull(r.currency) ?? 'USD').toUpperCase(),
      });
    }
  }
  return { items, next_page: nextPage(body) };
}
