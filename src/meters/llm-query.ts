import type { Queryable } from '../shared/db/index.ts';
import type { RollupService } from '../rollups/service.ts';
import { scopeRead } from '../auth/binding.ts';
import { Money } from '../shared/money.ts';
import { QUARTER_HOUR, formatInZone, windowsOf, type Window } from '../shared/time.ts';
import { LLM_ROLLUP_DIMS, LLM_ROLLUP_METERS, type Meter } from './definitions.ts';
import { queryLlmRaw } from './store.ts';
import type { MeterQuery, MeterRow, RowOf } from './query.ts';

/**
 * The built-in llm_* meters: the 15-minute-aligned middle of [from, to) from rollups.usage() (same
 * zone and window unit, so its windows are the query's windows clipped to the middle), the
 * unaligned edges from raw events. Values and row presence are those of the former bucket meters:
 * a row per window and group with at least one event (llm_cost: at least one priced event).
 */

const SUM_KEYS = ['requests', 'priced', 'input_tokens', 'output_tokens', 'cache_read_tokens', 'cache_write_tokens', 'cost'] as const;
type SumKey = (typeof SUM_KEYS)[number];
type LlmSums = Record<SumKey, Money>;
type Groups = Record<string, string | null>;

/** Sums per (window, group) as the middle and the edges add to them. */
class Accumulator {
  readonly parts = new Map<string, { w: number; groups: Groups; s: LlmSums }>();
  constructor(private readonly groupBy: string[]) {}
  add(w: number, groups: Groups, v: Record<SumKey, string | number>): void {
    const key = `${w}\u0000${JSON.stringify(this.groupBy.map((g) => groups[g] ?? null))}`;
    let a = this.parts.get(key);
    if (!a) {
      a = { w, groups, s: Object.fromEntries(SUM_KEYS.map((k) => [k, new Money(0)])) as LlmSums };
      this.parts.set(key, a);
    }
    for (const k of SUM_KEYS) a.s[k] = a.s[k].plus(v[k]);
  }
}

/** Index (1-based) of the window holding t; windows are contiguous and sorted. */
function windowIndex(windows: Window[], t: number): number {
  let lo = 0;
  let hi = windows.length - 1;
  while (lo < hi) {
    const mid = (lo + hi + 1) >> 1;
    if (windows[mid]!.start.getTime() <= t) lo = mid;
    else hi = mid - 1;
  }
  return lo + 1;
}

/** Group values in query order; NULL after every value (as ORDER BY … ASC does). */
function compareGroups(names: string[], a: Groups, b: Groups): number {
  for (const n of names) {
    const x = a[n] ?? null;
    const y = b[n] ?? null;
    if (x === y) continue;
    if (x === null) return 1;
    if (y === null) return -1;
    return x < y ? -1 : 1;
  }
  return 0;
}

/** The rollups' answer for the aligned middle [af, at), added per query window. */
async function addMiddle(rollups: Pick<RollupService, 'usage'>, q: MeterQuery, windows: Window[], af: number, at: number, filters: Record<string, string[]>, acc: Accumulator): Promise<void> {
  const sub = windowsOf(q.tz, q.window, new Date(af), new Date(at));
  const at15 = new Map(sub.map((w) => [formatInZone(q.tz, w.start), windowIndex(windows, w.start.getTime())]));
  const { rows } = await rollups.usage({ from: new Date(af), to: new Date(at), tz: q.tz, window: q.window, groupBy: q.groupBy as (typeof LLM_ROLLUP_DIMS)[number][], filters }, q.bind);
  for (const r of rows) {
    const w = at15.get(r.window_start);
    if (w === undefined) throw new Error(`rollups returned an unknown window ${r.window_start}`);
    const groups = Object.fromEntries(q.groupBy.map((g) => [g, (r as unknown as Record<string, string | null | undefined>)[g] ?? null]));
    acc.add(w, groups, { ...r, priced: r.requests - r.unpriced_requests });
  }
}

/** The meter's value of one (window, group)'s sums, or null when it has no row there. */
function valueOf(m: Meter, s: LlmSums): string | null {
  const measure = LLM_ROLLUP_METERS[m.slug]!;
  if (s.requests.isZero()) return null;
  if (measure === 'requests') return s.requests.toFixed();
  if (measure === 'cost') return s.priced.isZero() ? null : s.cost.toFixed();
  if (measure === 'tokens') return s.input_tokens.plus(s.cache_read_tokens).plus(s.cache_write_tokens).plus(s.output_tokens).toFixed();
  return s[measure].toFixed();
}

export async function queryRollupMeter(db: Queryable, rollups: Pick<RollupService, 'usage'>, m: Meter, q: MeterQuery, windows: Window[], row: RowOf): Promise<MeterRow[]> {
  const from = q.from.getTime();
  const to = q.to.getTime();
  const af = Math.ceil(from / QUARTER_HOUR) * QUARTER_HOUR;
  const at = Math.floor(to / QUARTER_HOUR) * QUARTER_HOUR;
  // Zones with a historical off-grid offset put a window boundary inside a rollup bucket: raw only.
  const offGrid = windows.slice(1).some((w) => w.start.getTime() % QUARTER_HOUR !== 0);
  const middle = af < at && !offGrid;
  const filters = scopeRead(q.bind, q.filters);
  const acc = new Accumulator(q.groupBy);
  if (middle) await addMiddle(rollups, q, windows, af, at, filters, acc);
  const ranges: Array<[Date, Date]> = middle ? [[q.from, new Date(af)], [new Date(at), q.to]] : [[q.from, q.to]];
  for (const p of await queryLlmRaw(db, { ranges, bounds: [...windows.map((w) => w.start), q.to], groupBy: q.groupBy, filters })) {
    if (p.w < 1 || p.w > windows.length) continue;
    acc.add(p.w, p.groups, p);
  }
  const parts = [...acc.parts.values()].sort((a, b) => a.w - b.w || compareGroups(q.groupBy, a.groups, b.groups));
  const out: MeterRow[] = [];
  for (const { w, groups, s } of parts) {
    const v = valueOf(m, s);
    if (v !== null) out.push(row(w, groups, v));
  }
  return out;
}
