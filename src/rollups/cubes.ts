import { Money, money, type Money as MoneyT } from '../shared/money.ts';
import { DAY, HOUR, QUARTER_HOUR } from '../shared/time.ts';

/** The DESIGN.md usage dimensions. */
export const DIMS = ['subject', 'team', 'project', 'api_key', 'provider', 'model', 'region', 'feature'] as const;
export type Dim = (typeof DIMS)[number];

export const MEASURES = ['requests', 'unpriced_requests', 'input_tokens', 'output_tokens', 'cache_read_tokens', 'cache_write_tokens', 'reasoning_tokens', 'cost'] as const;
export type Measure = (typeof MEASURES)[number];
export const COUNT_MEASURES = MEASURES.filter((m) => m !== 'cost') as Exclude<Measure, 'cost'>[];

/** UTC bucket grains: 1 = 15 min, 2 = hour, 3 = day, 4 = month. */
export type Grain = 1 | 2 | 3 | 4;
export const GRAIN_NAMES: Record<Grain, string> = { 1: '15m', 2: 'hour', 3: 'day', 4: 'month' };

export interface Cube {
  name: string;
  table: string;
  dims: readonly Dim[];
  /** Finest first; always includes 1 (15 minutes). */
  grains: readonly Grain[];
}

/**
 * Cubes, smallest first: a query reads the first cube whose dimensions cover its group_by and
 * filters (and the caller's key binding). The full cube keeps only 15-minute and day grains to
 * bound ingest write amplification; it answers the rare queries that need every dimension.
 */
export const CUBES: readonly Cube[] = [
  { name: 'model', table: 'rollup_llm_model', dims: ['provider', 'model', 'region'], grains: [1, 2, 3, 4] },
  { name: 'subject', table: 'rollup_llm_subject', dims: ['subject', 'team', 'project'], grains: [1, 2, 3, 4] },
  { name: 'org', table: 'rollup_llm_org', dims: ['team', 'project', 'api_key', 'provider', 'model', 'region', 'feature'], grains: [1, 2, 3, 4] },
  { name: 'all', table: 'rollup_llm_all', dims: DIMS, grains: [1, 3] },
];

export function chooseCube(needed: Iterable<Dim>): Cube {
  const need = [...new Set(needed)];
  return CUBES.find((c) => need.every((d) => c.dims.includes(d)))!;
}

// --- UTC grain alignment -------------------------------------------------------------------

export function floorGrain(t: number, g: Grain): number {
  if (g === 1) return Math.floor(t / QUARTER_HOUR) * QUARTER_HOUR;
  if (g === 2) return Math.floor(t / HOUR) * HOUR;
  if (g === 3) return Math.floor(t / DAY) * DAY;
  const d = new Date(t);
  return Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), 1);
}

export function nextGrain(t: number, g: Grain): number {
  if (g === 1) return t + QUARTER_HOUR;
  if (g === 2) return t + HOUR;
  if (g === 3) return t + DAY;
  const d = new Date(t);
  return Date.UTC(d.getUTCFullYear(), d.getUTCMonth() + 1, 1);
}

export interface Piece {
  grain: Grain;
  start: number;
  end: number;
}

/**
 * Splits [start, end) (both on the 15-minute grid) into the fewest aligned buckets the cube has,
 * coarsest first where they fit, merging neighbours of one grain into a single range.
 */
export function decompose(start: number, end: number, grains: readonly Grain[]): Piece[] {
  if (start % QUARTER_HOUR !== 0 || end % QUARTER_HOUR !== 0) throw new Error('range is not on the 15-minute grid');
  const coarsestFirst = [...grains].sort((a, b) => b - a);
  const out: Piece[] = [];
  let cur = start;
  while (cur < end) {
    let taken = false;
    for (const g of coarsestFirst) {
      if (floorGrain(cur, g) !== cur) continue;
      const nx = nextGrain(cur, g);
      if (nx > end) continue;
      const last = out[out.length - 1];
      if (last && last.grain === g && last.end === cur) last.end = nx;
      else out.push({ grain: g, start: cur, end: nx });
      cur = nx;
      taken = true;
      break;
    }
    if (!taken) throw new Error('cube lacks the 15-minute grain');
  }
  return out;
}

// --- Aggregating a batch of events into rollup deltas ---------------------------------------

/** The columns of an event that rollups read. */
export interface UsageFacts {
  time: Date | string | number;
  subject: string | null;
  team: string | null;
  project: string | null;
  api_key: string | null;
  provider: string | null;
  model: string | null;
  region: string | null;
  feature: string | null;
  input_tokens: number | string | null;
  output_tokens: number | string | null;
  cache_read_tokens: number | string | null;
  cache_write_tokens: number | string | null;
  reasoning_tokens: number | string | null;
  cost: string | number | null;
  unpriced: boolean;
}

export interface Delta {
  grain: Grain;
  bucket: number;
  dims: Array<string | null>;
  counts: Record<Exclude<Measure, 'cost'>, number>;
  cost: MoneyT;
}

const num = (v: unknown) => (v === null || v === undefined ? 0 : Number(v));

/**
 * Sums events (sign +1 to add, −1 to remove) into per-(grain, bucket, dims) deltas for one cube,
 * sorted by key so concurrent batches lock rollup rows in the same order (no deadlocks).
 */
export function aggregate(cube: Cube, events: Array<{ facts: UsageFacts; sign: 1 | -1 }>): Delta[] {
  const map = new Map<string, Delta>();
  for (const { facts: e, sign } of events) {
    const t = new Date(e.time).getTime();
    const dims = cube.dims.map((d) => e[d] ?? null);
    const dimKey = dims.map((v) => (v === null ? '\u0000' : '\u0002' + v)).join('\u0001');
    for (const g of cube.grains) {
      const bucket = floorGrain(t, g);
      const key = `${g}|${String(bucket).padStart(16, '0')}|${dimKey}`;
      let d = map.get(key);
      if (!d) {
        d = {
          grain: g,
          bucket,
          dims,
          counts: { requests: 0, unpriced_requests: 0, input_tokens: 0, output_tokens: 0, cache_read_tokens: 0, cache_write_tokens: 0, reasoning_tokens: 0 },
          cost: new Money(0),
        };
        map.set(key, d);
      }
      d.counts.requests += sign;
      if (e.unpriced) d.counts.unpriced_requests += sign;
      d.counts.input_tokens += sign * num(e.input_tokens);
      d.counts.output_tokens += sign * num(e.output_tokens);
      d.counts.cache_read_tokens += sign * num(e.cache_read_tokens);
      d.counts.cache_write_tokens += sign * num(e.cache_write_tokens);
      d.counts.reasoning_tokens += sign * num(e.reasoning_tokens);
      if (e.cost !== null && e.cost !== undefined) d.cost = sign > 0 ? d.cost.plus(money(e.cost)) : d.cost.minus(money(e.cost));
    }
  }
  return [...map.entries()]
    .sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0))
    .map(([, d]) => d)
    .filter((d) => !d.cost.isZero() || COUNT_MEASURES.some((m) => d.counts[m] !== 0));
}
