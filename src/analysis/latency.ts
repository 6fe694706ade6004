import type { EventStore } from '../events/store.ts';
import type { Binding } from '../rollups/service.ts';

/**
 * Tokens per second for the efficiency view. The rollups keep no latency, so this is a bounded
 * read of the raw `llm.usage` events through the events store's `list` (newest first, keyset
 * pages): at most `LATENCY_SAMPLE` events of the range, so a large range answers from its most
 * recent events and says so (`complete: false`). Raw events past retention are gone: the answer
 * covers what is still stored. Tokens per second = Σ output tokens ÷ Σ latency seconds over the
 * events that carry `latency_ms` > 0 (a throughput, not the mean of per-call rates, so a few
 * millisecond-long calls do not dominate).
 */

export type EventLister = Pick<EventStore, 'list'>;

export const LATENCY_SAMPLE = 20_000;
const PAGE = 5_000;

export interface Throughput {
  /** Events with a latency that were counted. */
  events: number;
  output_tokens: number;
  latency_s: number;
  tokens_per_second: number | null;
}

export interface LatencyAnswer {
  overall: Throughput;
  byGroup: Map<string, Throughput>;
  /** Events read (with or without latency); `complete` false when the sample cap cut the range. */
  read: number;
  complete: boolean;
}

const empty = (): Throughput => ({ events: 0, output_tokens: 0, latency_s: 0, tokens_per_second: null });
const finish = (t: Throughput) => ({ ...t, latency_s: Math.round(t.latency_s * 1000) / 1000, tokens_per_second: t.latency_s > 0 ? Math.round((t.output_tokens / t.latency_s) * 100) / 100 : null });

/** The key `groupKey` gives a group's values, in `groupBy` order (the same as a rollup row's). */
export const latencyKey = (values: Array<string | null | undefined>) => JSON.stringify(values.map((v) => v ?? null));

/** Pure: adds one event's data to the sums. */
export function addThroughput(t: Throughput, data: Record<string, unknown>): boolean {
  const ms = Number(data.latency_ms);
  const out = Number(data.output_tokens ?? 0);
  if (!(ms > 0) || !Number.isFinite(out)) return false;
  t.events += 1;
  t.output_tokens += out;
  t.latency_s += ms / 1000;
  return true;
}

export async function throughputOf(
  events: EventLister,
  q: { from: Date; to: Date; groupBy: string[]; bind?: Binding; cap?: number },
): Promise<LatencyAnswer> {
  const cap = q.cap ?? LATENCY_SAMPLE;
  const overall = empty();
  const byGroup = new Map<string, Throughput>();
  let read = 0;
  let after: { time: Date; seq: string } | undefined;
  let complete = true;
  for (;;) {
    const limit = Math.min(PAGE, cap - read);
    if (limit <= 0) {
      complete = false;
      break;
    }
    const rows = await events.list({ type: 'llm.usage', from: q.from, to: q.to, subject: q.bind?.subject ?? undefined, team: q.bind?.team ?? undefined, limit, after });
    for (const r of rows) {
      const data = (r.data ?? {}) as Record<string, unknown>;
      if (q.bind?.project && data.project !== q.bind.project) continue;
      const dims = q.groupBy.map((d) => (d === 'subject' ? r.subject : (data[d] as string | null | undefined)));
      const key = latencyKey(dims);
      let g = byGroup.get(key);
      if (!g) byGroup.set(key, (g = empty()));
      if (addThroughput(g, data)) addThroughput(overall, data);
    }
    read += rows.length;
    if (rows.length < limit) break;
    const last = rows[rows.length - 1]!;
    after = { time: last.time, seq: last.seq };
  }
  return { overall: finish(overall), byGroup: new Map([...byGroup].map(([k, v]) => [k, finish(v)])), read, complete };
}
