import { ApiError, badRequest } from '../shared/errors.ts';
import { Money } from '../shared/money.ts';
import { MAX_WINDOWS, QUARTER_HOUR, TooManyWindowsError, formatInZone, windowsOf, type Window, type WindowUnit } from '../shared/time.ts';
import { scopeRead } from '../auth/binding.ts';
import { COUNT_MEASURES, DAY_GRAINS, chooseCube, type Dim } from './cubes.ts';
import type { Measures, RollupRow } from './store.ts';
import { queryState } from './maintenance-store.ts';
import { drain } from './maintenance.ts';
import { init, piecesOf, type RollupState } from './zone.ts';
import type { Binding, RollupService, TopMeasure, UsageRow } from './service.ts';

/** The usage queries: windows in the asked zone → cube pieces → one SQL query per chunk, shaped. */

export function zeroMeasures(): Measures {
  return { requests: 0, unpriced_requests: 0, input_tokens: 0, output_tokens: 0, cache_read_tokens: 0, cache_write_tokens: 0, reasoning_tokens: 0, cost: '0' };
}

export function addMeasures(a: Measures, b: Measures): Measures {
  const out = { ...a };
  for (const m of COUNT_MEASURES) out[m] += b[m];
  out.cost = new Money(a.cost).plus(b.cost).toFixed();
  return out;
}

function measuresOf(r: RollupRow): Measures {
  return {
    requests: r.requests,
    unpriced_requests: r.unpriced_requests,
    input_tokens: r.input_tokens,
    output_tokens: r.output_tokens,
    cache_read_tokens: r.cache_read_tokens,
    cache_write_tokens: r.cache_write_tokens,
    reasoning_tokens: r.reasoning_tokens,
    cost: new Money(r.cost).toFixed(),
  };
}

const isEmpty = (m: Measures) => COUNT_MEASURES.every((k) => m[k] === 0) && new Money(m.cost).isZero();

export function checkRange(from: Date, to: Date): void {
  if (from.getTime() % QUARTER_HOUR !== 0) throw badRequest('INVALID_FIELD', 'from must fall on a 15-minute boundary (the rollups\' base grain), e.g. 2026-03-02T00:00:00+05:30', 'from');
  if (to.getTime() % QUARTER_HOUR !== 0) throw badRequest('INVALID_FIELD', 'to must fall on a 15-minute boundary (the rollups\' base grain)', 'to');
  if (!(from.getTime() < to.getTime())) throw badRequest('INVALID_FIELD', 'from must be before to', 'from');
}

export function reportWindows(tz: string, unit: WindowUnit, from: Date, to: Date): Window[] {
  let ws: Window[];
  try {
    ws = windowsOf(tz, unit, from, to, MAX_WINDOWS);
  } catch (e) {
    if (e instanceof TooManyWindowsError) throw badRequest('TOO_MANY_WINDOWS', `${e.message}; narrow from/to or use a coarser window`, 'window');
    throw e;
  }
  for (const w of ws) {
    if (w.start.getTime() % QUARTER_HOUR !== 0) {
      throw badRequest('INVALID_FIELD', `zone ${tz} has a window boundary off the 15-minute grid at ${w.start.toISOString()} (a historical local-mean-time offset); use a later range`, 'tz');
    }
  }
  return ws;
}

type Filters = Partial<Record<Dim, string[]>>;

/** Sums over these windows from the smallest cube that serves the query; drains first, refuses pruned ranges. */
async function run(st: RollupState, windows: Window[], groupBy: Dim[], filters: Filters, tz: string, top?: { measure: TopMeasure; limit: number }): Promise<RollupRow[]> {
  await init(st);
  const cube = chooseCube([...groupBy, ...(Object.keys(filters) as Dim[]).filter((d) => filters[d]?.length)]);
  const pieces = windows.flatMap((w, i) => piecesOf(st, cube, tz, w.start.getTime(), w.end.getTime()).map((p) => ({ ...p, w: i })));
  if (!pieces.length) return [];
  const h = await queryState(st.db);
  const lost = pieces.find((p) => (p.grain <= 2 && p.start < h.fine) || (DAY_GRAINS.includes(p.grain) && p.start < h.day));
  if (lost) {
    const before = new Date(lost.grain <= 2 ? h.fine : h.day).toISOString();
    throw new ApiError({ type: 'invalid_request', code: 'ROLLUPS_PRUNED', param: 'from', message: lost.grain <= 2
        ? `this range needs 15-minute or hour rollups before ${before}, which retention dropped together with their raw events (retention.tiers.hourly); ask for that period in whole UTC days (tz=UTC, from/to at UTC midnight, window day or coarser)`
        : `this range needs day rollups before ${before}, which retention dropped together with their raw events (retention.tiers.daily); ask for that period in whole UTC months` });
  }
  // Everything acknowledged before this query is folded in first: answers equal the raw events.
  if (h.pending) await drain(st);
  return st.store.query({ cube, pieces, groupBy, filters, top });
}

function toRow(labels: Array<[string, string]>, r: RollupRow, groupBy: Dim[]): UsageRow {
  const [ws, we] = labels[r.w]!;
  const row: Record<string, unknown> = { window_start: ws, window_end: we };
  for (const d of groupBy) row[d] = r.dims[d] ?? null;
  return Object.assign(row, measuresOf(r)) as unknown as UsageRow;
}

type Queries = Pick<RollupService, 'usage' | 'usageChunks' | 'top' | 'topSeries' | 'ranges'>;

export function rollupQueries(st: RollupState): Queries {
  const q: Queries = {
    async usage(p, bind) {
      const rows: UsageRow[] = [];
      const totals = zeroMeasures();
      let cost = new Money(0);
      for await (const chunk of q.usageChunks(p, bind)) {
        for (const r of chunk) {
          rows.push(r);
          for (const m of COUNT_MEASURES) totals[m] += r[m];
          cost = cost.plus(r.cost);
        }
      }
      totals.cost = cost.toFixed();
      return { rows, totals };
    },
    usageChunks: (p, bind) => usageChunks(st, p, bind),
    async top(p, bind) {
      checkRange(p.from, p.to);
      const filters = scopeRead(bind, p.filters);
      const rows = await run(st, [{ start: p.from, end: p.to }], [p.by], filters, p.tz, { measure: p.measure, limit: p.limit });
      return rows.map((r, i) => ({ rank: i + 1, [p.by]: r.dims[p.by] ?? null, ...measuresOf(r) }));
    },
    topSeries: (p, bind) => topSeries(st, p, bind),
    async ranges(ranges, groupBy, bind, tz = 'UTC', asked = {}) {
      const rows = await run(st, ranges, groupBy, scopeRead(bind, asked), tz);
      return rows.map((r) => ({ w: r.w, dims: r.dims, ...measuresOf(r) }));
    },
  };
  return q;
}

async function* usageChunks(st: RollupState, p: Parameters<RollupService['usageChunks']>[0], bind?: Binding): AsyncGenerator<UsageRow[]> {
  checkRange(p.from, p.to);
  const filters = scopeRead(bind, p.filters);
  const windows = reportWindows(p.tz, p.window, p.from, p.to);
  const CHUNK = p.groupBy.length ? 96 : 2000;
  for (let i = 0; i < windows.length; i += CHUNK) {
    const part = windows.slice(i, i + CHUNK);
    const rows = await run(st, part, p.groupBy, filters, p.tz);
    // Format each window's bounds once (Intl is slow), not once per row.
    const labels = part.map((w): [string, string] => [formatInZone(p.tz, w.start), formatInZone(p.tz, w.end)]);
    yield rows.map((r) => toRow(labels, r, p.groupBy)).filter((r) => !isEmpty(r));
  }
}

async function topSeries(st: RollupState, p: Parameters<RollupService['topSeries']>[0], bind?: Binding): ReturnType<RollupService['topSeries']> {
  checkRange(p.from, p.to);
  const filters = scopeRead(bind, p.filters);
  const windows = reportWindows(p.tz, p.window, p.from, p.to);
  const top = await run(st, [{ start: p.from, end: p.to }], [p.by], filters, p.tz, { measure: p.measure, limit: p.limit });
  const wins = windows.map((w) => ({ window_start: formatInZone(p.tz, w.start), window_end: formatInZone(p.tz, w.end) }));
  if (!top.length) return { windows: wins, series: [] };
  // Series for exactly the top values (NULL is a value too: events without that dimension).
  const values = top.map((t) => t.dims[p.by] ?? null);
  const nonNull = values.filter((v): v is string => v !== null);
  const rows = await run(st, windows, [p.by], nonNull.length === values.length ? { ...filters, [p.by]: nonNull } : filters, p.tz);
  const byValue = new Map<string | null, Map<number, Measures>>();
  for (const r of rows) {
    const v = r.dims[p.by] ?? null;
    if (!values.includes(v)) continue;
    let m = byValue.get(v);
    if (!m) byValue.set(v, (m = new Map()));
    m.set(r.w, measuresOf(r));
  }
  return {
    windows: wins,
    series: top.map((t, rank) => {
      const v = t.dims[p.by] ?? null;
      const pts = byValue.get(v) ?? new Map();
      return { rank: rank + 1, [p.by]: v, totals: measuresOf(t), points: wins.map((w, i) => ({ ...w, ...(pts.get(i) ?? zeroMeasures()) })) };
    }),
  };
}
