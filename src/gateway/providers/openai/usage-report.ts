/**
 * OpenAI organisation usage and costs reports, read as pure functions (the collector does the
 * I/O): the URL of one page, and one page's JSON parsed into plain rows.
 * Wire facts: `input_tokens` INCLUDES `input_cached_tokens` (and `input_cache_write_tokens` where
 * the model bills cache writes), so the uncached part is their difference; group fields are null
 * when not grouped by (or when OpenAI has no value); costs' `amount.value` is a JSON number in
 * the currency named (USD).
 */
import { maxBuckets, nextPage, num, ReportShapeError, strOrNull, withQuery, type Page } from '../usage-report.ts';
export { maxBuckets, ReportShapeError, type Page } from '../usage-report.ts';

export type OpenAIUsageKind = 'completions' | 'embeddings';

export interface OpenAIUsageRow {
  /** Epoch seconds, as the report gives them. */
  start_time: number;
  end_time: number;
  project_id: string | null;
  api_key_id: string | null;
  model: string | null;
  batch: boolean | null;
  requests: number;
  /** Input billed at the plain input rate: input_tokens − cached − cache writes. */
  input_uncached: number;
  input_cached: number;
  input_cache_write: number;
  output: number;
}

export interface OpenAICostLine {
  start_time: number;
  end_time: number;
  project_id: string | null;
  line_item: string | null;
  /** Decimal string, in `currency`. */
  amount: string;
  currency: string;
}


export const USAGE_GROUP_BY = ['project_id', 'api_key_id', 'model', 'batch'] as const;
export const COST_GROUP_BY = ['line_item', 'project_id'] as const;

/** `base` is the API base (…/v1). Times are epoch seconds; end exclusive. */
export function openaiUsageUrl(base: string, kind: OpenAIUsageKind, o: { start: number; end: number; width: '1d' | '1h'; page?: string | null }): string {
  const groups = kind === 'embeddings' ? USAGE_GROUP_BY.filter((g) => g !== 'batch') : USAGE_GROUP_BY;
  return withQuery(base, `/organization/usage/${kind}`, [
    ['start_time', o.start],
    ['end_time', o.end],
    ['bucket_width', o.width],
    ...groups.map((g) => ['group_by[]', g] as [string, string]),
    ['limit', maxBuckets(o.width)],
    ['page', o.page],
  ]);
}

export function openaiCostsUrl(base: string, o: { start: number; end: number; page?: string | null }): string {
  return withQuery(base, '/organization/costs', [
    ['start_time', o.start],
    ['end_time', o.end],
    ['bucket_width', '1d'],
    ...COST_GROUP_BY.map((g) => ['group_by[]', g] as [string, string]),
    ['limit', 31],
    ['page', o.page],
  ]);
}


function buckets(body: unknown): Array<{ start_time: number; end_time: number; results: Array<Record<string, unknown>> }> {
  const b = body as { object?: unknown; data?: unknown };
  if (!b || typeof b !== 'object' || !Array.isArray(b.data)) throw new ReportShapeError('the report has no data array');
  return b.data.map((x: any) => {
    if (typeof x?.start_time !== 'number' || typeof x?.end_time !== 'number' || !Array.isArray(x?.results)) throw new ReportShapeError('a bucket lacks start_time, end_time or results');
    return x;
  });
}


export function parseOpenaiUsagePage(body: unknown): Page<OpenAIUsageRow> {
  const items: OpenAIUsageRow[] = [];
  for (const bucket of buckets(body)) {
    for (const r of bucket.results) {
      const input = num(r.input_tokens, 'input_tokens');
      const cached = num(r.input_cached_tokens, 'input_cached_tokens');
      const write = num(r.input_cache_write_tokens, 'input_cache_write_tokens');
      if (cached + write > input) throw new ReportShapeError(`input_cached_tokens + input_cache_write_tokens (${cached + write}) exceed input_tokens (${input})`);
      items.push({
        start_time: bucket.start_time,
        end_time: bucket.end_time,
        project_id: strOrNull(r.project_id),
        api_key_id: strOrNull(r.api_key_id),
        model: strOrNull(r.model),
        batch: typeof r.batch === 'boolean' ? r.batch : null,
        requests: num(r.num_model_requests, 'num_model_requests'),
        input_uncached: input - cached - write,
        input_cached: cached,
        input_cache_write: write,
        output: num(r.output_tokens, 'output_tokens'),
      });
    }
  }
  return { items, next_page: nextPage(body) };
}

/** A JSON number's decimal text (shortest round trip); a string is taken as written. */
function decimalText(v: unknown, field: string): string {
  if (typeof v === 'string' && /^-?\d+(\.\d+)?([eE][+-]?\d+)?$/.test(v)) return v;
  if (typeof v === 'number' && Number.isFinite(v)) return String(v);
  throw new ReportShapeError(`${field} is not a number: ${JSON.stringify(v)}`);
}

export function parseOpenaiCostsPage(body: unknown): Page<OpenAICostLine> {
  const items: OpenAICostLine[] = [];
  for (const bucket of buckets(body)) {
    for (const r of bucket.results) {
      const amount = (r.amount ?? {}) as { value?: unknown; currency?: unknown };
      items.push({
        start_time: bucket.start_time,
        end_time: bucket.end_time,
        project_id: strOrNull(r.project_id),
        line_item: strOrNull(r.line_item),
        amount: decimalText(amount.value ?? 0, 'amount.value'),
        currency: (strOrNull(amount.currency) ?? 'usd').toLowerCase(),
      });
    }
  }
  return { items, next_page: nextPage(body) };
}

/**
 * A cost line item, "gpt-4o-2024-08-06, input" / "…, cached input" / "…, output" (a batch line
 * says "batch"), split into the model and the token class it bills; null class when unknown.
 */
export function parseLineItem(item: string | null): { model: string | null; cls: 'input' | 'cache_read' | 'cache_write' | 'output' | null; batch: boolean | null } {
  if (!item) return { model: null, cls: null, batch: null };
  const i = item.lastIndexOf(',');
  if (i < 0) return { model: item.trim() || null, cls: null, batch: null };
  const model = item.slice(0, i).trim() || null;
  const what = item.slice(i + 1).trim().toLowerCase();
  const batch = /\bbatch\b/.test(what) ? true : null;
  const cls = /cache(d)? ?(read|input)|^cached\b|\bcached input/.test(what)
    ? 'cache_read'
    : /cache ?write/.test(what)
      ? 'cache_write'
      : /\binput\b/.test(what)
        ? 'input'
        : /\boutput\b/.test(what)
          ? 'output'
          : null;
  return { model, cls, batch };
}
