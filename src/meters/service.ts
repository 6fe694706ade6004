import type { Db, Queryable } from '../shared/db/index.ts';
import type { Clock } from '../shared/clock.ts';
import type { Logger } from '../shared/log.ts';
import type { EventRow, StoredChange } from '../events/types.ts';
import type { Binding, RollupService } from '../rollups/service.ts';
import { scopeRead } from '../auth/binding.ts';
import { ApiError, badRequest, notFound } from '../shared/errors.ts';
import { Money } from '../shared/money.ts';
import { MAX_WINDOWS, QUARTER_HOUR, formatInZone, windowsOf, TooManyWindowsError, type Window, type WindowUnit } from '../shared/time.ts';
import { BUILTIN_METERS, BUILTIN_SLUGS, LLM_ROLLUP_DIMS, LLM_ROLLUP_METERS, isRollupMeter, meterDefSchema, type Meter, type MeterDef } from './definitions.ts';
import { accumulate, deleteMeter, dropBuckets, eventMetersFor, getMeter, insertMeter, listMeters, METER_DEF_LOCK, queryGeneric, queryLlmRaw, refreshBuiltin } from './store.ts';
import { ingestMedia, sessionsFor, MEDIA_STARTED, MEDIA_ENDED, ROOM_FINISHED } from './media-store.ts';
import { mediaValues, type MediaMeter } from './media.ts';
import { queryResource, seal } from './resource-store.ts';

export interface MetersConfig {
  /** Meters defined in the config file (origin "config"). */
  definitions: unknown[];
  /** Open media sessions are closed this long after they started (runaway sessions). */
  max_session_hours: number;
}

export interface MeterQuery {
  from: Date;
  to: Date;
  window: WindowUnit;
  tz: string;
  groupBy: string[];
  filters: Record<string, string[]>;
  /** For avg meters: avg (default), min or max. */
  stat?: 'avg' | 'min' | 'max';
  /** The reading key's team/project/subject binding (the llm_* meters pass it on to the rollups). */
  bind?: Binding;
}

export interface MeterRow {
  window_start: string;
  window_end: string;
  /** Integer for count / unique_count / concurrent_participants, decimal string otherwise. */
  value: string;
  [group: string]: string | number | null;
}

export interface MeterService {
  /** Creates the built-in and config meters that are missing (backfilling each). */
  init(configMeters: unknown[]): Promise<void>;
  list(): Promise<Meter[]>;
  get(slug: string): Promise<Meter>;
  create(def: unknown, origin?: 'api' | 'config'): Promise<Meter>;
  remove(slug: string): Promise<void>;
  query(slug: string, q: MeterQuery): Promise<MeterRow[]>;
  /** Groups a query may use for a meter. */
  groupsOf(m: Meter): string[];
  /**
   * Bucket maintenance of user-defined/config event meters and media marks (not the llm_*
   * built-ins) at ingest: events' `inTransaction` hook, in the ingest transaction.
   */
  ingest: { inTransaction(tx: Queryable, change: StoredChange): Promise<void> };
  /** Retention calls this before deleting raw resource.snapshot events older than `before`. */
  sealResources(before: Date): Promise<void>;
}

const MEDIA_TYPES = new Set([MEDIA_STARTED, MEDIA_ENDED, ROOM_FINISHED]);
const typesOf = (rows: EventRow[]) => [...new Set(rows.map((r) => r.type))];
const GB = new Money('1e9');
const MINUTE_MS = new Money(60_000);

export interface MeterDeps {
  /** Answers the built-in llm_* meters (exact llm.usage aggregates in any zone and window). */
  rollups: Pick<RollupService, 'usage'>;
}

interface LlmSums {
  requests: Money;
  priced: Money;
  input_tokens: Money;
  output_tokens: Money;
  cache_read_tokens: Money;
  cache_write_tokens: Money;
  cost: Money;
}
const SUM_KEYS = ['requests', 'priced', 'input_tokens', 'output_tokens', 'cache_read_tokens', 'cache_write_tokens', 'cost'] as const;

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


export function meterService(db: Db, clock: Clock, logger: Logger, cfg: MetersConfig, deps: MeterDeps): MeterService {
  const maxMs = cfg.max_session_hours * 3_600_000;

  async function createIn(m: Meter): Promise<boolean> {
    return db.transaction(async (tx) => {
      // Exclusive against ingest's shared hold: no batch commits between backfill and definition.
      await tx.query('SELECT pg_advisory_xact_lock($1)', [METER_DEF_LOCK]);
      if (!(await insertMeter(tx, m, clock.now()))) return false;
      if (m.kind === 'events' && !isRollupMeter(m)) await accumulate(tx, m, 'true', []);
      return true;
    });
  }

  function parseDef(def: unknown): MeterDef {
    const r = meterDefSchema.safeParse(def);
    if (!r.success) {
      const i = r.error.issues[0]!;
      const field = i.path.join('.');
      throw badRequest('INVALID_FIELD', `${field ? `"${field}" ` : ''}${i.message}`, field || 'body');
    }
    return r.data;
  }

  function groupsOf(m: Meter): string[] {
    return isRollupMeter(m) ? [...LLM_ROLLUP_DIMS] : Object.keys(m.group_by);
  }

  /**
   * A built-in llm_* meter: the 15-minute-aligned middle of [from, to) from rollups.usage() (same
   * zone and window unit, so its windows are the query's windows clipped to the middle), the
   * unaligned edges from raw events. Values and row presence are those of the former bucket meters:
   * a row per window and group with at least one event (llm_cost: at least one priced event).
   */
  async function queryRollupMeter(m: Meter, q: MeterQuery, windows: Window[], row: (w: number, groups: Record<string, string | null>, value: string) => MeterRow): Promise<MeterRow[]> {
    const measure = LLM_ROLLUP_METERS[m.slug]!;
    const from = q.from.getTime();
    const to = q.to.getTime();
    const af = Math.ceil(from / QUARTER_HOUR) * QUARTER_HOUR;
    const at = Math.floor(to / QUARTER_HOUR) * QUARTER_HOUR;
    // Zones with a historical off-grid offset put a window boundary inside a rollup bucket: raw only.
    const offGrid = windows.slice(1).some((w) => w.start.getTime() % QUARTER_HOUR !== 0);
    const middle = af < at && !offGrid;
    const filters = scopeRead(q.bind, q.filters);
    const acc = new Map<string, { w: number; groups: Record<string, string | null>; s: LlmSums }>();
    const add = (w: number, groups: Record<string, string | null>, v: Record<(typeof SUM_KEYS)[number], string | number>) => {
      const key = `${w}\u0000${JSON.stringify(q.groupBy.map((g) => groups[g] ?? null))}`;
      let a = acc.get(key);
      if (!a) {
        a = { w, groups, s: Object.fromEntries(SUM_KEYS.map((k) => [k, new Money(0)])) as unknown as LlmSums };
        acc.set(key, a);
      }
      for (const k of SUM_KEYS) a.s[k] = a.s[k].plus(v[k]);
    };
    if (middle) {
      const sub = windowsOf(q.tz, q.window, new Date(af), new Date(at), MAX_WINDOWS);
      const at15 = new Map(sub.map((w) => [formatInZone(q.tz, w.start), windowIndex(windows, w.start.getTime())]));
      const { rows } = await deps.rollups.usage({ from: new Date(af), to: new Date(at), tz: q.tz, window: q.window, groupBy: q.groupBy as (typeof LLM_ROLLUP_DIMS)[number][], filters }, q.bind);
      for (const r of rows) {
        const w = at15.get(r.window_start);
        if (w === undefined) throw new Error(`rollups returned an unknown window ${r.window_start}`);
        const groups = Object.fromEntries(q.groupBy.map((g) => [g, ((r as unknown as Record<string, string | null | undefined>)[g] ?? null)]));
        add(w, groups, { ...r, priced: r.requests - r.unpriced_requests });
      }
    }
    const ranges: Array<[Date, Date]> = middle ? [[q.from, new Date(af)], [new Date(at), q.to]] : [[q.from, q.to]];
    for (const p of await queryLlmRaw(db, { ranges, bounds: [...windows.map((w) => w.start), q.to], groupBy: q.groupBy, filters })) {
      if (p.w < 1 || p.w > windows.length) continue;
      add(p.w, p.groups, p);
    }
    const parts = [...acc.values()].sort((a, b) => a.w - b.w || compareGroups(q.groupBy, a.groups, b.groups));
    const out: MeterRow[] = [];
    for (const { w, groups, s } of parts) {
      if (s.requests.isZero()) continue;
      if (measure === 'requests') out.push(row(w, groups, s.requests.toFixed()));
      else if (measure === 'cost') {
        if (!s.priced.isZero()) out.push(row(w, groups, s.cost.toFixed()));
      } else if (measure === 'tokens') out.push(row(w, groups, s.input_tokens.plus(s.cache_read_tokens).plus(s.cache_write_tokens).plus(s.output_tokens).toFixed()));
      else out.push(row(w, groups, s[measure].toFixed()));
    }
    return out;
  }

  const svc: MeterService = {
    groupsOf,
    async init(configMeters) {
      for (const m of BUILTIN_METERS) {
        if (await createIn(m)) logger.debug({ meter: m.slug }, 'built-in meter created');
        else if (isRollupMeter(m)) await refreshBuiltin(db, m);
      }
      // The llm_* built-ins used to keep buckets; the rollups serve them now.
      await dropBuckets(db, Object.keys(LLM_ROLLUP_METERS));
      for (const raw of configMeters) {
        const def = parseDef(raw);
        if (BUILTIN_SLUGS.has(def.slug)) throw new Error(`meters: "${def.slug}" is a built-in meter; choose another slug`);
        const existing = await getMeter(db, def.slug);
        const wanted: Meter = { ...def, origin: 'config', kind: 'events' };
        if (existing && sameDef(existing, wanted)) continue;
        if (existing) {
          logger.info({ meter: def.slug }, 'meter definition changed in config: rebuilding it from stored events');
          await deleteMeter(db, def.slug);
        }
        await createIn(wanted);
      }
    },
    list: () => listMeters(db),
    async get(slug) {
      const m = await getMeter(db, slug);
      if (!m) throw notFound(`meter "${slug}"`);
      return m;
    },
    async create(raw, origin = 'api') {
      const def = parseDef(raw);
      const m: Meter = { ...def, origin, kind: 'events' };
      if (!(await createIn(m))) throw new ApiError({ type: 'conflict', code: 'METER_EXISTS', message: `a meter with slug "${def.slug}" already exists`, param: 'slug' });
      return (await getMeter(db, m.slug))!;
    },
    async remove(slug) {
      const m = await svc.get(slug);
      if (m.origin === 'builtin') throw new ApiError({ type: 'conflict', code: 'BUILTIN_METER', message: `"${slug}" is a built-in meter and cannot be deleted`, param: 'slug' });
      if (m.origin === 'config') throw new ApiError({ type: 'conflict', code: 'CONFIG_METER', message: `"${slug}" is defined in the config file; remove it there`, param: 'slug' });
      await deleteMeter(db, slug);
    },
    async query(slug, q) {
      const m = await svc.get(slug);
      const allowed = groupsOf(m);
      for (const g of q.groupBy) if (!allowed.includes(g)) throw badRequest('INVALID_FIELD', `meter "${slug}" has no group "${g}"; groups: ${allowed.join(', ') || '(none)'}`, 'group_by');
      for (const f of Object.keys(q.filters)) if (!allowed.includes(f)) throw badRequest('INVALID_FIELD', `meter "${slug}" has no group "${f}" to filter on; groups: ${allowed.join(', ') || '(none)'}`, `filter[${f}]`);
      if (!(q.from.getTime() < q.to.getTime())) throw badRequest('INVALID_FIELD', 'from must be before to', 'from');
      let windows;
      try {
        windows = windowsOf(q.tz, q.window, q.from, q.to, MAX_WINDOWS);
      } catch (e) {
        if (e instanceof TooManyWindowsError) throw badRequest('TOO_MANY_WINDOWS', `${e.message}; narrow from/to or use a coarser window`, 'window');
        throw e;
      }
      const bounds = [...windows.map((w) => w.start), q.to];
      const out: MeterRow[] = [];
      const row = (w: number, groups: Record<string, string | null>, value: string): MeterRow => ({
        window_start: formatInZone(q.tz, windows[w - 1]!.start),
        window_end: formatInZone(q.tz, windows[w - 1]!.end),
        ...groups,
        value,
      });
      if (isRollupMeter(m)) return queryRollupMeter(m, q, windows, row);
      if (m.kind === 'media') {
        const sessions = await sessionsFor(db, q.from, q.to, maxMs, q.filters);
        const vals = mediaValues(m.slug as MediaMeter, sessions, windows.map((w) => [w.start.getTime(), w.end.getTime()]), q.groupBy, { now: clock.now().getTime(), maxMs });
        vals.sort((a, b) => a.w - b.w || JSON.stringify(q.groupBy.map((g) => a.groups[g])).localeCompare(JSON.stringify(q.groupBy.map((g) => b.groups[g]))));
        for (const v of vals) {
          out.push(row(v.w, v.groups, m.slug === 'concurrent_participants' ? String(v.value) : new Money(v.value).div(MINUTE_MS).toDecimalPlaces(6).toFixed()));
        }
        return out;
      }
      if (m.kind === 'resource') {
        const parts = await queryResource(db, q.from, q.to, bounds, q.groupBy.includes('host'), q.filters.host);
        for (const p of parts) {
          if (p.w < 1 || p.w > windows.length) continue;
          const groups: Record<string, string | null> = q.groupBy.includes('host') ? { host: p.host } : {};
          if (m.slug === 'traffic_gb') {
            if (p.traffic === null) continue;
            out.push(row(p.w, groups, new Money(p.traffic).div(GB).toFixed()));
          } else {
            const [sum, n, min, max] = m.slug === 'cpu_percent' ? [p.cpu_sum, p.cpu_n, p.cpu_min, p.cpu_max] : [p.mem_sum, p.mem_n, p.mem_min, p.mem_max];
            if (!n) continue;
            const stat = q.stat ?? 'avg';
            const v = stat === 'avg' ? new Money(sum!).div(n).toDecimalPlaces(6) : new Money(stat === 'min' ? min! : max!);
            out.push(row(p.w, groups, v.toFixed()));
          }
        }
        return out;
      }
      const parts = await queryGeneric(db, { meter: m, from: q.from, to: q.to, bounds, groupBy: q.groupBy, filters: q.filters });
      for (const p of parts) {
        if (p.w < 1 || p.w > windows.length) continue;
        let value: string | null;
        switch (m.aggregation) {
          case 'count':
            value = String(p.count);
            break;
          case 'unique_count':
            value = String(p.distinct ?? 0);
            break;
          case 'sum':
            value = p.sum === null ? null : new Money(p.sum).toFixed();
            break;
          case 'min':
            value = p.min === null ? null : new Money(p.min).toFixed();
            break;
          case 'max':
            value = p.max === null ? null : new Money(p.max).toFixed();
            break;
          case 'latest':
            value = p.latest === null ? null : new Money(p.latest).toFixed();
            break;
          case 'avg': {
            const stat = q.stat ?? 'avg';
            if (stat === 'min') value = p.min === null ? null : new Money(p.min).toFixed();
            else if (stat === 'max') value = p.max === null ? null : new Money(p.max).toFixed();
            else value = p.sum === null || Number(p.count) === 0 ? null : new Money(p.sum).div(p.count).toDecimalPlaces(6).toFixed();
            break;
          }
        }
        if (value === null) continue;
        out.push(row(p.w, p.groups, value));
      }
      return out;
    },
    ingest: {
      async inTransaction(tx, change) {
        if (change.kind !== 'inserted') return; // meters count events, not their cost columns
        const rows = change.rows;
        const types = typesOf(rows);
        if (types.some((t) => MEDIA_TYPES.has(t))) await ingestMedia(tx, rows);
        // Shared against a meter's creation (exclusive): no batch commits between its backfill and its definition.
        await tx.query('SELECT pg_advisory_xact_lock_shared($1)', [METER_DEF_LOCK], { prepare: 'meters_def_lock_shared' });
        const meters = (await eventMetersFor(tx, types)).filter((m) => !isRollupMeter(m));
        for (const m of meters) {
          const seqs = rows.filter((r) => r.type === m.event_type).map((r) => r.seq);
          await accumulate(tx, m, 'e.seq = ANY($3::bigint[])', [seqs]);
        }
      },
    },
    async sealResources(before) {
      await db.transaction((tx) => seal(tx, before));
    },
  };
  return svc;
}

/** Group values in query order; NULL after every value (as ORDER BY … ASC does). */
function compareGroups(names: string[], a: Record<string, string | null>, b: Record<string, string | null>): number {
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

function sameDef(a: MeterDef, b: MeterDef): boolean {
  const canon = (m: MeterDef) =>
    JSON.stringify([m.event_type, m.aggregation, m.value_property ?? null, Object.entries(m.group_by).sort(([x], [y]) => x.localeCompare(y)), m.description ?? null]);
  return canon(a) === canon(b);
}
