import { fetchJson, type FetchOptions } from './http.ts';
import type { AllocLine, TokenClass } from './allocate.ts';
import {
  openaiCostsUrl,
  openaiUsageUrl,
  parseLineItem,
  parseOpenaiCostsPage,
  parseOpenaiUsagePage,
  type OpenAIUsageKind,
} from '../gateway/providers/openai/usage-report.ts';
import { anthropicCostUrl, anthropicHeaders, anthropicUsageUrl, parseAnthropicCostPage, parseAnthropicUsagePage } from '../gateway/providers/anthropic/usage-report.ts';

/**
 * The two provider collectors' I/O: every page of the usage and cost reports for a range of UTC
 * days, turned into one shape (a usage bucket row with tokens by class, a cost line) that the
 * collector service records. The readers (URLs, page parsing) are the gateway's provider folders'.
 */

export type CollectorName = 'openai' | 'anthropic';

export interface UsageBucket {
  /** Stable identity of the bucket: kind, width, start, scope, key, model, variant. */
  key: string;
  start: Date;
  end: Date;
  kind: string;
  model: string | null;
  /** OpenAI project id / Anthropic workspace id (null: none / default workspace). */
  scope: string | null;
  api_key_id: string | null;
  requests: number | null;
  tokens: Record<TokenClass, number>;
  /** Provider-specific fields carried into the event's data (batch, service_tier, …). */
  extra: Record<string, unknown>;
  /** Dimensions cost lines match on. */
  dims: Record<string, string | null>;
}

export interface Pulled {
  buckets: UsageBucket[];
  lines: AllocLine[];
  /** Report pages read (progress, bench). */
  pages: number;
}

export interface PullOptions extends Omit<FetchOptions, 'headers'> {
  baseUrl: string;
  adminKey: string;
  width: '1d' | '1h';
}

const day = (d: Date) => d.toISOString().slice(0, 10);
const zero = (): Record<TokenClass, number> => ({ input: 0, cache_read: 0, cache_write: 0, cache_write_5m: 0, cache_write_1h: 0, output: 0 });

async function allPages<T>(url: (page: string | null) => string, parse: (b: unknown) => { items: T[]; next_page: string | null }, o: FetchOptions, count: { pages: number }): Promise<T[]> {
  const out: T[] = [];
  let page: string | null = null;
  const seen = new Set<string>();
  for (;;) {
    const p = parse(await fetchJson(url(page), o));
    count.pages++;
    for (const x of p.items) out.push(x);
    if (!p.next_page) return out;
    if (seen.has(p.next_page)) throw new Error(`the report repeated page cursor ${p.next_page}`);
    seen.add(p.next_page);
    page = p.next_page;
  }
}

/** Splits [from, to) into chunks of at most `days` days (the page limits of the report). */
function chunks(from: Date, to: Date, days: number): Array<[Date, Date]> {
  const out: Array<[Date, Date]> = [];
  for (let t = from.getTime(); t < to.getTime(); t += days * 86_400_000) out.push([new Date(t), new Date(Math.min(to.getTime(), t + days * 86_400_000))]);
  return out;
}

export async function pullOpenai(from: Date, to: Date, o: PullOptions): Promise<Pulled> {
  const fo: FetchOptions = { ...o, headers: { authorization: `Bearer ${o.adminKey}` } };
  const count = { pages: 0 };
  const buckets: UsageBucket[] = [];
  const span = o.width === '1d' ? 31 : 7;
  for (const [a, b] of chunks(from, to, span)) {
    const start = Math.floor(a.getTime() / 1000);
    const end = Math.floor(b.getTime() / 1000);
    for (const kind of ['completions', 'embeddings'] as OpenAIUsageKind[]) {
      const rows = await allPages((page) => openaiUsageUrl(o.baseUrl, kind, { start, end, width: o.width, page }), parseOpenaiUsagePage, fo, count);
      for (const r of rows) {
        const s = new Date(r.start_time * 1000);
        const batch = r.batch === null ? null : String(r.batch);
        buckets.push({
          key: [kind, o.width, s.toISOString(), r.project_id ?? '-', r.api_key_id ?? '-', r.model ?? '-', batch ?? '-'].join('|'),
          start: s,
          end: new Date(r.end_time * 1000),
          kind,
          model: r.model,
          scope: r.project_id,
          api_key_id: r.api_key_id,
          requests: r.requests,
          tokens: { ...zero(), input: r.input_uncached, cache_read: r.input_cached, cache_write: r.input_cache_write, output: r.output },
          extra: { project_id: r.project_id, api_key_id: r.api_key_id, batch: r.batch },
          dims: { model: r.model, scope: r.project_id, batch: batch === 'true' ? 'true' : 'false' },
        });
      }
    }
  }
  const lines: AllocLine[] = [];
  for (const [a, b] of chunks(from, to, 31)) {
    const costs = await allPages((page) => openaiCostsUrl(o.baseUrl, { start: Math.floor(a.getTime() / 1000), end: Math.floor(b.getTime() / 1000), page }), parseOpenaiCostsPage, fo, count);
    for (const c of costs) {
      if (c.currency !== 'usd') throw new Error(`the costs report is in ${c.currency}; only usd is supported`);
      const li = parseLineItem(c.line_item);
      const dims: Record<string, string | null> = { scope: c.project_id };
      if (li.model) dims.model = li.model;
      if (li.model) dims.batch = li.batch ? 'true' : 'false';
      lines.push({ day: day(new Date(c.start_time * 1000)), dims, cls: li.cls, amount: c.amount, label: c.line_item ?? 'unattributed' });
    }
  }
  return { buckets, lines, pages: count.pages };
}

export async function pullAnthropic(from: Date, to: Date, o: PullOptions): Promise<Pulled> {
  const fo: FetchOptions = { ...o, headers: anthropicHeaders(o.adminKey) };
  const count = { pages: 0 };
  const buckets: UsageBucket[] = [];
  const span = o.width === '1d' ? 31 : 7;
  for (const [a, b] of chunks(from, to, span)) {
    const rows = await allPages((page) => anthropicUsageUrl(o.baseUrl, { start: a.toISOString(), end: b.toISOString(), width: o.width, page }), parseAnthropicUsagePage, fo, count);
    for (const r of rows) {
      const s = new Date(r.starting_at);
      const variant = `${r.service_tier ?? '-'}/${r.context_window ?? '-'}`;
      buckets.push({
        key: ['messages', o.width, s.toISOString(), r.workspace_id ?? '-', r.api_key_id ?? '-', r.model ?? '-', variant].join('|'),
        start: s,
        end: new Date(r.ending_at),
        kind: 'messages',
        model: r.model,
        scope: r.workspace_id,
        api_key_id: r.api_key_id,
        requests: null,
        tokens: { ...zero(), input: r.uncached_input, cache_read: r.cache_read, cache_write_5m: r.cache_write_5m, cache_write_1h: r.cache_write_1h, output: r.output },
        extra: {
          workspace_id: r.workspace_id,
          api_key_id: r.api_key_id,
          service_tier: r.service_tier,
          context_window: r.context_window,
          ...(Object.keys(r.server_tool_use).length ? { server_tool_use: r.server_tool_use } : {}),
          ...(r.service_tier === 'batch' ? { batch: true } : {}),
        },
        dims: { model: r.model, scope: r.workspace_id, service_tier: r.service_tier, context_window: r.context_window },
      });
    }
  }
  const lines: AllocLine[] = [];
  for (const [a, b] of chunks(from, to, 31)) {
    const costs = await allPages((page) => anthropicCostUrl(o.baseUrl, { start: a.toISOString(), end: b.toISOString(), page }), parseAnthropicCostPage, fo, count);
    for (const c of costs) {
      if (c.currency !== 'USD') throw new Error(`the cost report is in ${c.currency}; only USD is supported`);
      const dims: Record<string, string | null> = { scope: c.workspace_id };
      if (c.model) dims.model = c.model;
      if (c.model && c.service_tier) dims.service_tier = c.service_tier;
      if (c.model && c.context_window) dims.context_window = c.context_window;
      lines.push({ day: day(new Date(c.starting_at)), dims, cls: c.token_class, amount: c.amount_usd, label: c.description ?? c.cost_type ?? 'unattributed' });
    }
  }
  return { buckets, lines, pages: count.pages };
}
