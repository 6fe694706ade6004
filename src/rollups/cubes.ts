import { Money, money, type Money as MoneyT } from '../shared/money.ts';
import { DAY, HOUR, QUARTER_HOUR, startOf, startOfNext } from '../shared/time.ts';

/** The DESIGN.md usage dimensions. */
export const DIMS = ['subject', 'team', 'project', 'api_key', 'provider', 'model', 'region', 'feature'] as const;
export type Dim = (typeof DIMS)[number];

export const MEASURES = ['requests', 'unpriced_requests', 'input_tokens', 'output_tokens', 'cache_read_tokens', 'cache_write_tokens', 'reasoning_tokens', 'cost'] as const;
export type Measure = (typeof MEASURES)[number];
export const COUNT_MEASURES = MEASURES.filter((m) => m !== 'cost') as Exclude<Measure, 'cost'>[];

/**
 * Bucket grains: 1 = 15 min, 2 = hour, 3 = day, 4 = month (UTC); 5 = day and 6 = month in the
 * deployment's report zone (config `tz`), kept only when that zone is not UTC.
 */
export type Grain = 1 | 2 | 3 | 4 | 5 | 6;
/** The report-zone grains. */
export const ZONE_GRAINS: readonly Grain[] = [5, 6];
/** Day-level grains: retention's daily tier applies to them. */
export const DAY_GRAINS: readonly Grain[] = [3, 5];

export interface Cube {
  name: string;
  table: string;
  dims: readonly Dim[];
  /** Finest first; always includes 1 (15 minutes). Grains 5 and 6 exist only with a report zone. */
  grains: readonly Grain[];
}

/**
 * Cubes, smallest first: a query reads the first cube whose dimensions cover its group_by and
 * filters (and the caller's key binding). The full cube keeps only 15-minute and day grains to
 * bound ingest write amplification; it answers the rare queries that need every dimension.
 */
export const CUBES: readonly Cube[] = [
  { name: 'model', table: 'rollup_llm_model', dims: ['provider', 'model', 'region'], grains: [1, 2, 3, 4, 5, 6] },
  { name: 'subject', table: 'rollup_llm_subject', dims: ['subject', 'team', 'project'], grains: [1, 2, 3, 4, 5, 6] },
  { name: 'org', table: 'rollup_llm_org', dims: ['team', 'project', 'api_key', 'provider', 'model', 'region', 'feature'], grains: [1, 2, 3, 4, 5, 6] },
  { name: 'all', table: 'rollup_llm_all', dims: DIMS, grains: [1, 3, 5] },
];

/** The grains a cube keeps in a deployment: without a report zone, no zone grains. */
export function grainsOf(cube: Cube, zone: string | null): Grain[] {
  return cube.grains.filter((g) => zone !== null || !ZONE_GRAINS.includes(g));
}

/**
 * The grains a query in `tz` is decomposed into: the report zone's own day and month when the
 * query is in that zone, else the UTC ones; 15-minute and hour buckets serve both at the edges.
 */
export function queryGrains(cube: Cube, tz: string, zone: string | null): Grain[] {
  const zoneFamily = zone !== null && tz === zone;
  return cube.grains.filter((g) => g <= 2 || (zoneFamily ? ZONE_GRAINS.includes(g) : !ZONE_GRAINS.includes(g)));
}

export function chooseCube(needed: Iterable<Dim>): Cube {
  const need = [...new Set(needed)];
  return CUBES.find((c) => need.every((d) => c.dims.includes(d)))!;
}

// --- Grain alignment ---------------------------------------------------------------------------

function needZone(zone: string | null | undefined, g: Grain): string {
  if (!zone) throw new Error(`grain ${g} needs the report zone`);
  return zone;
}

export function floorGrain(t: number, g: Grain, zone?: string | null): number {
  if (g === 1) return Math.floor(t / QUARTER_HOUR) * QUARTER_HOUR;
  if (g === 2) return Math.floor(t / HOUR) * HOUR;
  if (g === 3) return Math.floor(t / DAY) * DAY;
  if (g === 5) return startOf(needZone(zone, g), 'day', t).getTime();
  if (g === 6) return startOf(needZone(zone, g), 'month', t).getTime();
  const d = new Date(t);
  return Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), 1);
}

export function nextGrain(t: number, g: Grain, zone?: string | null): number {
  if (g === 1) return t + QUARTER_HOUR;
  if (g === 2) return t + HOUR;
  if (g === 3) return t + DAY;
  if (g === 5) return startOfNext(needZone(zone, g), 'day', t).getTime();
  if (g === 6) return startOfNext(needZone(zone, g), 'month', t).getTime();
  const d = new Date(t);
  return Date.UTC(d.getUTCFullYear(), d.getUTCMonth() + 1, 1);
}

export interface Piece {
  grain: Grain;
  start: number;
  end: number;
}

/** Coarsest first: a month before a day before an hour. */
const COARSENESS: Record<Grain, number> = { 1: 1, 2: 2, 3: 3, 5: 3, 4: 4, 6: 4 };

/**
 * Splits [start, end) (both on the 15-minute grid) into the fewest aligned buckets of the given
 * grains, coarsest first where they fit, merging neighbours of one grain into a single range.
 */
export function decompose(start: number, end: number, grains: readonly Grain[], zone?: string | null): Piece[] {
  if (start % QUARTER_HOUR !== 0 || end % QUARTER_HOUR !== 0) throw new Error('range is not on the 15-minute grid');
  const coarsestFirst = [...grains].sort((a, b) => COARSENESS[b] - COARSENESS[a]);
  const out: Piece[] = [];
  let cur = start;
  while (cur < end) {
    let taken = false;
    for (const g of coarsestFirst) {
      if (floorGrain(cur, g, zone) !== cur) continue;
      const nx = nextGrain(cur, g, zone);
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

/** A piece added (+1) or subtracted (−1). */
export interface SignedPiece extends Piece {
  sign: 1 | -1;
}

function bucketCount(ps: readonly Piece[], zone: string | null | undefined): number {
  let n = 0;
  for (const p of ps) {
    if (p.grain === 1) n += (p.end - p.start) / QUARTER_HOUR;
    else if (p.grain === 2) n += (p.end - p.start) / HOUR;
    else for (let t = p.start; t < p.end; t = nextGrain(t, p.grain, zone)) n++;
  }
  return n;
}

/**
 * Like decompose, but an edge of the range that is most of a day may be read as the whole day
 * bucket minus the rest of that day, when that reads fewer buckets: a Kolkata day
 * (18:30Z–18:30Z) is 7 buckets + a UTC day − 7 buckets = 15 rows per group instead of 27. Sums
 * stay exact (integers and decimals); a group whose events all cancel has 0 requests and is
 * dropped by the query.
 */
export function decomposeSigned(start: number, end: number, grains: readonly Grain[], zone?: string | null): SignedPiece[] {
  const plus = (ps: Piece[]): SignedPiece[] => ps.map((p) => ({ ...p, sign: 1 }));
  const day = grains.includes(5) ? 5 : grains.includes(3) ? 3 : null;
  const fine = grains.filter((g) => g <= 2);
  if (day === null) return plus(decompose(start, end, grains, zone));
  const ds = floorGrain(start, day, zone);
  const eFloor = floorGrain(end, day, zone);
  const de = eFloor === end ? end : nextGrain(eFloor, day, zone);
  let best: SignedPiece[] | null = null;
  let bestCount = Infinity;
  // A day that starts off the 15-minute grid (a historical local-mean-time offset, e.g.
  // Kiritimati's −10:40 before 1979) has no day bucket to subtract from: read that edge plainly.
  const onGrid = (t: number) => t % QUARTER_HOUR === 0;
  for (const left of ds < start && onGrid(ds) ? [false, true] : [false]) {
    for (const right of de > end && onGrid(de) ? [false, true] : [false]) {
      const s = left ? ds : start;
      const e = right ? de : end;
      const pieces: SignedPiece[] = plus(decompose(s, e, grains, zone));
      if (left) for (const p of decompose(ds, start, fine, zone)) pieces.push({ ...p, sign: -1 });
      if (right) for (const p of decompose(end, de, fine, zone)) pieces.push({ ...p, sign: -1 });
      const n = bucketCount(pieces, zone);
      if (n < bestCount) {
        best = pieces;
        bestCount = n;
      }
    }
  }
  return best!;
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
  /** The event's data: `data.requests` (a collector's bucket) is how many requests it stands for. */
  data?: Record<string, unknown> | null;
}

/**
 * How many requests an event counts for: `data.requests` when it is a non-negative integer of at
 * most 13 digits (collector events carry the provider's count per bucket, events/validate.ts
 * checks it), else 1. REQUESTS_SQL is the same rule over an events row, for the fold and rebuild.
 */
export function requestsOf(e: UsageFacts): number {
  const r = e.data?.requests;
  return typeof r === 'number' && Number.isInteger(r) && r >= 0 && r < 1e13 ? r : 1;
}
export const REQUESTS_SQL = `CASE WHEN jsonb_typeof(data->'requests') = 'number' AND data->>'requests' ~ '^[0-9]{1,13}$' THEN (data->>'requests')::bigint ELSE 1 END`;

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
export function aggregate(cube: Cube, events: Array<{ facts: UsageFacts; sign: 1 | -1 }>, zone: string | null = null): Delta[] {
  const map = new Map<string, Delta>();
  const grains = grainsOf(cube, zone);
  for (const { facts: e, sign } of events) {
    const t = new Date(e.time).getTime();
    const requests = requestsOf(e);
    const dims = cube.dims.map((d) => e[d] ?? null);
    const dimKey = dims.map((v) => (v === null ? '\u0000' : '\u0002' + v)).join('\u0001');
    for (const g of grains) {
      const bucket = floorGrain(t, g, zone);
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
      d.counts.requests += sign * requests;
      if (e.unpriced) d.counts.unpriced_requests += sign * requests;
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
