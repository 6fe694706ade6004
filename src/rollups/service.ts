import type { Queryable } from '../shared/db/index.ts';
import { ApiError, badRequest } from '../shared/errors.ts';
import { Money } from '../shared/money.ts';
import { MAX_WINDOWS, QUARTER_HOUR, TooManyWindowsError, formatInZone, isUtc, startOf, startOfNext, wallToInstant, windowsOf, type Window, type WindowUnit } from '../shared/time.ts';
import type { StoredEvent, CostChange, StoredChange } from '../events/types.ts';
import type { Db } from '../shared/db/index.ts';
import { COUNT_MEASURES, CUBES, DAY_GRAINS, ZONE_GRAINS, chooseCube, decomposeSigned, queryGrains, type Dim, type SignedPiece } from './cubes.ts';
import { getSetting, putSetting, rollupStore, zoneLiteral, type Measures, type RollupRow, type RollupStore } from './store.ts';

import { scopeRead } from '../auth/binding.ts';
import type { Binding as KeyBinding } from '../auth/keys.ts';

/** What a bound key limits a read to (auth/binding.ts holds the rule). */
export type Binding = Partial<KeyBinding>;

export interface UsageParams {
  from: Date;
  to: Date;
  tz: string;
  window: WindowUnit;
  groupBy: Dim[];
  filters: Partial<Record<Dim, string[]>>;
}

export type { Measures } from './store.ts';

export type UsageRow = { window_start: string; window_end: string } & Partial<Record<Dim, string | null>> & Measures;

export type TopMeasure = 'cost' | 'tokens' | 'requests';

export interface RollupService {
  store: RollupStore;
  usage(p: UsageParams, bind?: Binding): Promise<{ rows: UsageRow[]; totals: Measures }>;
  /** The same rows as usage(), window chunk by window chunk (export streams these). */
  usageChunks(p: UsageParams, bind?: Binding): AsyncGenerator<UsageRow[]>;
  top(p: Omit<UsageParams, 'window' | 'groupBy'> & { by: Dim; measure: TopMeasure; limit: number }, bind?: Binding): Promise<Array<Record<string, unknown> & Measures & { rank: number }>>;
  topSeries(
    p: Omit<UsageParams, 'groupBy'> & { by: Dim; measure: TopMeasure; limit: number },
    bind?: Binding,
  ): Promise<{ windows: Array<{ window_start: string; window_end: string }>; series: Array<Record<string, unknown> & { totals: Measures; points: Array<{ window_start: string; window_end: string } & Measures> }> }>;
  /** Sums of several independent ranges at once (summary cards), optionally grouped; `tz` is the zone they were cut in. */
  ranges(ranges: Window[], groupBy: Dim[], bind?: Binding, tz?: string, filters?: Partial<Record<Dim, string[]>>): Promise<Array<{ w: number; dims: Record<string, string | null> } & Measures>>;
  /**
   * At start: makes the report-zone grains match the configured zone. When the zone changed (or is
   * new), drops the old zone's rows and rebuilds the new zone's from the raw events still stored;
   * days before those are answered from UTC grains. Returns what it did, for the startup log.
   */
  init(): Promise<{ zone: string | null; rebuilt: boolean; since: string | null; refused?: string }>;
  /** Folds every pending ingest batch into the cubes (queries call it first; a timer calls it too). */
  drain(): Promise<number>;
  /**
   * Retention of the rollup tiers: drops sub-day buckets (`hourly` days) and day buckets (`daily`
   * days) older than the horizon. Queries that would need a dropped bucket are refused, never
   * answered short.
   */
  prune(tiers: Record<string, number | null>, now: Date): Promise<{ fine_before: string | null; day_before: string | null }>;
  /** Recomputes the cubes over whole months covering [from, to) from raw events (backfill). */
  rebuild(from: Date, to: Date, opts?: { bulk?: boolean }): Promise<{ from: Date; to: Date }>;
  /**
   * The ingest hook (events' `inTransaction`): queues a batch's llm.usage seqs for the fold, and
   * applies reprice's old→new differences to events already folded, in the caller's transaction.
   */
  inTransaction(tx: Queryable, change: StoredChange): Promise<void>;
}

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

/** Serialises drains, reprice deltas and rebuilds across processes (transaction-scoped). */
const ROLLUP_LOCK = 7_401_003;
/** Pending batches folded per drain transaction. */
const DRAIN_BATCHES = 100;

/**
 * Report-zone buckets are cut by PostgreSQL (its tz database) and read back by windows cut in JS
 * (Intl's). For every local day 2000–2040 the bucket PostgreSQL labels it with must fall inside
 * the day as JS bounds it, and JS's day start must lie on the 15-minute grid. (Where midnight
 * repeats in a fall-back, PostgreSQL labels the day with the later midnight and JS starts it at
 * the earlier one: the label differs, the events in the day do not.) A zone failing this gets no
 * zone grains; its queries read UTC buckets, exactly as before.
 */
/** The years zoneDisagreement checks; report-zone buckets answer only inside them. */
const ZONE_CHECKED: readonly [number, number] = [Date.UTC(2000, 0, 1), Date.UTC(2041, 0, 1)];

export async function zoneDisagreement(q: Queryable, zone: string): Promise<string | null> {
  const r = await q.query<{ d: string; t: Date | string }>(
    `SELECT to_char(d, 'YYYY-MM-DD') AS d, (d::timestamp AT TIME ZONE ${zoneLiteral(zone)}) AS t
     FROM generate_series(timestamp '2000-01-01', timestamp '2041-01-01', interval '1 day') AS d`,
  );
  const jsStart = (d: string) => {
    const [y, m, day] = d.split('-').map(Number) as [number, number, number];
    return wallToInstant(zone, { year: y, month: m, day, hour: 0, minute: 0, second: 0 }).getTime();
  };
  let start = jsStart(r.rows[0]!.d);
  for (let i = 0; i + 1 < r.rows.length; i++) {
    const row = r.rows[i]!;
    const next = jsStart(r.rows[i + 1]!.d);
    const pg = new Date(row.t).getTime();
    if (start % QUARTER_HOUR !== 0) return `${zone}: ${row.d} starts off the 15-minute grid`;
    if (pg < start || pg >= next) return `${zone}: the database puts ${row.d} at ${new Date(pg).toISOString()}, outside the day as Node's time zone data bounds it`;
    start = next;
  }
  return null;
}

export interface RollupOptions {
  /** The deployment's report zone (config `tz`): day and month rollups are also kept in it. */
  zone?: string;
}


export function rollupService(db: Db, opts: RollupOptions = {}): RollupService {
  // The zone whose grains the cubes hold; null until init() has checked it (and for UTC).
  let zone: string | null = null;
  let zoneSince = -Infinity;
  let store = rollupStore(db, null);
  // Every path that writes or reads zone grains waits for init() (which the server also calls at
  // start): folding before the zone is known would leave zone buckets short.
  let ready: ReturnType<RollupService['init']> | null = null;
  const ensureInit = () => svc.init();

  async function claimPending(tx: Queryable, limit: number | null): Promise<string[]> {
    const r = await tx.query<{ seqs: Array<string | number> }>(
      limit === null
        ? 'DELETE FROM rollup_pending RETURNING seqs'
        : 'DELETE FROM rollup_pending WHERE id IN (SELECT id FROM rollup_pending ORDER BY id LIMIT $1) RETURNING seqs',
      limit === null ? [] : [limit],
    );
    return r.rows.flatMap((x) => x.seqs.map(String));
  }

  async function drain(): Promise<number> {
    await ensureInit();
    let folded = 0;
    for (;;) {
      const any = await db.query('SELECT 1 FROM rollup_pending LIMIT 1');
      if (!any.rows.length) return folded;
      folded += await db.transaction(async (tx) => {
        await tx.query('SELECT pg_advisory_xact_lock($1)', [ROLLUP_LOCK]);
        const seqs = await claimPending(tx, DRAIN_BATCHES);
        await store.fold(tx, seqs);
        return seqs.length;
      });
    }
  }

  /** Retention horizons and whether ingest batches wait to be folded, in one round trip. */
  async function state(q: Queryable): Promise<{ fine: number; day: number; pending: boolean }> {
    const r = await q.query<{ pending: boolean; fine: string | null; day: string | null }>(
      `SELECT EXISTS (SELECT 1 FROM rollup_pending) AS pending,
         (SELECT value FROM rollup_settings WHERE key = 'fine_pruned_before') AS fine,
         (SELECT value FROM rollup_settings WHERE key = 'day_pruned_before') AS day`,
    );
    const row = r.rows[0]!;
    const at = (v: string | null) => (v ? new Date(v).getTime() : -Infinity);
    return { fine: at(row.fine), day: at(row.day), pending: row.pending };
  }

  /**
   * A window's buckets: in the report zone, its own day and month buckets from the day they are
   * complete (zoneSince) and within the years zoneDisagreement checked (ZONE_CHECKED), UTC ones
   * (plus 15-minute edges, exact in any zone) outside; in any other zone, UTC ones. Outside the
   * checked years a zone may have off-grid days (Kiritimati was −10:40 until 1979), and walking
   * its days over centuries cost one Intl call per step (a 1970–9999 query took 90 s).
   */
  function piecesOf(cube: (typeof CUBES)[number], tz: string, start: number, end: number): SignedPiece[] {
    const utc = queryGrains(cube, 'UTC', zone);
    if (zone === null || tz !== zone) return decomposeSigned(start, end, utc);
    const clamp = (t: number) => Math.min(Math.max(t, start), end);
    const a = clamp(Math.max(zoneSince, ZONE_CHECKED[0]));
    const b = Math.max(a, clamp(ZONE_CHECKED[1]));
    return [
      ...(a > start ? decomposeSigned(start, a, utc) : []),
      ...(b > a ? decomposeSigned(a, b, queryGrains(cube, tz, zone), zone) : []),
      ...(end > b ? decomposeSigned(b, end, utc) : []),
    ];
  }

  async function run(windows: Window[], groupBy: Dim[], filters: Partial<Record<Dim, string[]>>, tz: string, top?: { measure: TopMeasure; limit: number }) {
    await ensureInit();
    const cube = chooseCube([...groupBy, ...(Object.keys(filters) as Dim[]).filter((d) => filters[d]?.length)]);
    const pieces = windows.flatMap((w, i) => piecesOf(cube, tz, w.start.getTime(), w.end.getTime()).map((p) => ({ ...p, w: i })));
    if (!pieces.length) return [];
    const h = await state(db);
    const lost = pieces.find((p) => (p.grain <= 2 && p.start < h.fine) || (DAY_GRAINS.includes(p.grain) && p.start < h.day));
    if (lost) {
      const before = new Date(lost.grain <= 2 ? h.fine : h.day).toISOString();
      throw new ApiError({ type: 'invalid_request', code: 'ROLLUPS_PRUNED', message: lost.grain <= 2
          ? `this range needs 15-minute or hour rollups before ${before}, which retention dropped together with their raw events (retention.tiers.hourly); ask for that period in whole UTC days (tz=UTC, from/to at UTC midnight, window day or coarser)`
          : `this range needs day rollups before ${before}, which retention dropped together with their raw events (retention.tiers.daily); ask for that period in whole UTC months`, param: 'from' }
      );
    }
    // Everything acknowledged before this query is folded in first: answers equal the raw events.
    if (h.pending) await drain();
    return store.query({ cube, pieces, groupBy, filters, top });
  }

  async function initZone(): Promise<Awaited<ReturnType<RollupService['init']>>> {
    const want = opts.zone && !isUtc(opts.zone) ? opts.zone : null;
    const got = await getSetting(db, 'report_zone');
    if ((got || null) === want) {
      zone = want;
      store = rollupStore(db, zone);
      const since = await getSetting(db, 'zone_since');
      zoneSince = since ? new Date(since).getTime() : -Infinity;
      return { zone, rebuilt: false, since };
    }
    const refused = want ? await zoneDisagreement(db, want) : null;
    const next = refused ? null : want;
    const nextStore = rollupStore(db, next);
    const since = await db.transaction(async (tx) => {
      await tx.query('SELECT pg_advisory_xact_lock($1)', [ROLLUP_LOCK]);
      // Pending batches are folded with the new zone's grains; the old zone's rows go.
      await nextStore.fold(tx, await claimPending(tx, null));
      for (const cube of CUBES) await tx.query(`DELETE FROM ${cube.table} WHERE grain = ANY($1::smallint[])`, [ZONE_GRAINS]);
      let sinceIso: string | null = null;
      if (next) {
        const span = await tx.query<{ lo: Date | string | null; hi: Date | string | null }>("SELECT min(time) AS lo, max(time) AS hi FROM events WHERE type = 'llm.usage'");
        const lo = span.rows[0]!.lo === null ? null : new Date(span.rows[0]!.lo).getTime();
        const hi = span.rows[0]!.hi === null ? null : new Date(span.rows[0]!.hi).getTime();
        // Only the zone grains: the UTC ones may hold events retention has since deleted.
        if (lo !== null && hi !== null) await nextStore.rebuild(tx, new Date(lo), new Date(hi + 1), { only: 'zone' });
        // Rollups older than the oldest raw event mean retention deleted raw events: zone days
        // are complete only from the first one that starts at or after the oldest raw event
        // (or, with no raw events left, after the newest rollup).
        const older = await tx.query<{ b: Date | string | null }>(
          `SELECT max(bucket) AS b FROM ${CUBES[0]!.table} WHERE grain = 1 AND ($1::timestamptz IS NULL OR bucket < $1)`,
          [lo === null ? null : new Date(Math.floor(lo / QUARTER_HOUR) * QUARTER_HOUR).toISOString()],
        );
        const b = older.rows[0]!.b;
        if (b !== null) {
          const from = lo ?? new Date(b).getTime() + QUARTER_HOUR;
          const since = startOf(next, 'day', from).getTime() === from ? from : startOfNext(next, 'day', from).getTime();
          sinceIso = new Date(since).toISOString();
        }
      }
      await putSetting(tx, 'report_zone', next ?? '');
      await putSetting(tx, 'zone_since', sinceIso ?? '');
      return sinceIso;
    });
    zone = next;
    store = nextStore;
    zoneSince = since ? new Date(since).getTime() : -Infinity;
    return { zone, rebuilt: true, since, ...(refused ? { refused } : {}) };
  }

  /** Reprice: events already in the cubes take the difference; pending ones are folded with their new cost. */
  async function applyCostChanges(tx: Queryable, changes: CostChange[]): Promise<void> {
    // Not ensureInit(): it opens a transaction of its own, and this runs inside one.
    if (!ready) throw new Error('rollups: init() must run before repricing');
    await ready;
    // Under the lock no drain runs: an event still pending will be folded with its new cost
    // later, so only events already in the cubes take the difference now.
    await tx.query('SELECT pg_advisory_xact_lock($1)', [ROLLUP_LOCK]);
    const seqs = changes.map((c) => c.after.seq);
    const stillPending = new Set(
      (await tx.query<{ s: string }>('SELECT s::text AS s FROM rollup_pending, unnest(seqs) AS s WHERE s = ANY($1::bigint[])', [seqs])).rows.map((r) => r.s),
    );
    const deltas: Array<{ facts: StoredEvent; sign: 1 | -1 }> = [];
    for (const c of changes) {
      if (stillPending.has(String(c.after.seq))) continue;
      if (c.before.type === 'llm.usage') deltas.push({ facts: c.before, sign: -1 });
      if (c.after.type === 'llm.usage') deltas.push({ facts: c.after, sign: 1 });
    }
    if (deltas.length) await store.apply(tx, deltas);
  }

  function toRow(labels: Array<[string, string]>, r: RollupRow, groupBy: Dim[]): UsageRow {
    const [ws, we] = labels[r.w]!;
    const row: Record<string, unknown> = { window_start: ws, window_end: we };
    for (const d of groupBy) row[d] = r.dims[d] ?? null;
    return Object.assign(row, measuresOf(r)) as unknown as UsageRow;
  }

  const svc: RollupService = {
    get store() {
      return store;
    },
    async usage(p, bind) {
      const rows: UsageRow[] = [];
      const totals = zeroMeasures();
      let cost = new Money(0);
      for await (const chunk of svc.usageChunks(p, bind)) {
        for (const r of chunk) {
          rows.push(r);
          for (const m of COUNT_MEASURES) totals[m] += r[m];
          cost = cost.plus(r.cost);
        }
      }
      totals.cost = cost.toFixed();
      return { rows, totals };
    },

    async *usageChunks(p, bind) {
      checkRange(p.from, p.to);
      const filters = scopeRead(bind, p.filters);
      const windows = reportWindows(p.tz, p.window, p.from, p.to);
      const CHUNK = p.groupBy.length ? 96 : 2000;
      for (let i = 0; i < windows.length; i += CHUNK) {
        const part = windows.slice(i, i + CHUNK);
        const rows = await run(part, p.groupBy, filters, p.tz);
        // Format each window's bounds once (Intl is slow), not once per row.
        const labels = part.map((w): [string, string] => [formatInZone(p.tz, w.start), formatInZone(p.tz, w.end)]);
        yield rows.map((r) => toRow(labels, r, p.groupBy)).filter((r) => !isEmpty(r));
      }
    },

    async top(p, bind) {
      checkRange(p.from, p.to);
      const filters = scopeRead(bind, p.filters);
      const rows = await run([{ start: p.from, end: p.to }], [p.by], filters, p.tz, { measure: p.measure, limit: p.limit });
      return rows.map((r, i) => ({ rank: i + 1, [p.by]: r.dims[p.by] ?? null, ...measuresOf(r) }));
    },

    async topSeries(p, bind) {
      checkRange(p.from, p.to);
      const filters = scopeRead(bind, p.filters);
      const windows = reportWindows(p.tz, p.window, p.from, p.to);
      const top = await run([{ start: p.from, end: p.to }], [p.by], filters, p.tz, { measure: p.measure, limit: p.limit });
      const wins = windows.map((w) => ({ window_start: formatInZone(p.tz, w.start), window_end: formatInZone(p.tz, w.end) }));
      if (!top.length) return { windows: wins, series: [] };
      // Series for exactly the top values (NULL is a value too: events without that dimension).
      const values = top.map((t) => t.dims[p.by] ?? null);
      const nonNull = values.filter((v): v is string => v !== null);
      const rows = await run(windows, [p.by], nonNull.length === values.length ? { ...filters, [p.by]: nonNull } : filters, p.tz);
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
          return {
            rank: rank + 1,
            [p.by]: v,
            totals: measuresOf(t),
            points: wins.map((w, i) => ({ ...w, ...(pts.get(i) ?? zeroMeasures()) })),
          };
        }),
      };
    },

    async ranges(ranges, groupBy, bind, tz = 'UTC', asked = {}) {
      const filters = scopeRead(bind, asked);
      const rows = await run(ranges, groupBy, filters, tz);
      return rows.map((r) => ({ w: r.w, dims: r.dims, ...measuresOf(r) }));
    },

    drain,

    async prune(tiers, now) {
      await drain();
      const DAY_MS = 86_400_000;
      const horizon = (days: number | null | undefined) =>
        days === null || days === undefined ? null : new Date(Math.floor((now.getTime() - days * DAY_MS) / DAY_MS) * DAY_MS);
      const fine = horizon(tiers.hourly);
      const day = horizon(tiers.daily);
      return db.transaction(async (tx) => {
        await tx.query('SELECT pg_advisory_xact_lock($1)', [ROLLUP_LOCK]);
        // Buckets of events whose raw rows are still stored are kept, whatever the tier says (a
        // late event, e.g. the README's example on a fresh store, stays answerable by hour and in
        // any zone until retention deletes its raw row). Raw retention runs before this hook.
        const oldest = (await tx.query<{ t: Date | string | null }>(`SELECT min(time) AS t FROM events WHERE type = 'llm.usage'`)).rows[0]!.t;
        const rawFrom = oldest === null ? Infinity : new Date(oldest).getTime();
        const HOUR_MS = 3_600_000;
        const tierCuts = [
          // The hour (and its 15-minute buckets) holding the oldest raw event is kept.
          [[1, 2], fine, Math.floor(rawFrom / HOUR_MS) * HOUR_MS, 'fine_pruned_before'],
          // A report-zone day may start up to 14 h before the UTC day: keep one more day.
          [DAY_GRAINS, day, Math.floor(rawFrom / DAY_MS) * DAY_MS - DAY_MS, 'day_pruned_before'],
        ] as const;
        for (const [grains, tierBefore, rawCut, key] of tierCuts) {
          if (!tierBefore) continue;
          const before = new Date(Math.min(tierBefore.getTime(), rawCut));
          // The horizon recorded is where dropped buckets end, not the cut: a query is refused only
          // where something was really dropped, and the message can say so.
          let droppedTo: number | null = null;
          for (const cube of CUBES) {
            const r = await tx.query<{ e: Date | string | null }>(
              `WITH d AS (DELETE FROM ${cube.table} WHERE grain = ANY($1::smallint[]) AND bucket < $2 RETURNING grain, bucket)
               SELECT max(bucket + CASE grain WHEN 1 THEN interval '15 minutes' WHEN 2 THEN interval '1 hour' WHEN 3 THEN interval '1 day' ELSE interval '25 hours' END) AS e FROM d`,
              [grains, before.toISOString()],
            );
            const e = r.rows[0]?.e;
            if (e !== null && e !== undefined) droppedTo = Math.max(droppedTo ?? -Infinity, new Date(e).getTime());
          }
          if (droppedTo === null) continue;
          await tx.query(
            `INSERT INTO rollup_settings (key, value) VALUES ($1, $2)
             ON CONFLICT (key) DO UPDATE SET value = GREATEST(rollup_settings.value::timestamptz, EXCLUDED.value::timestamptz)::text`,
            [key, new Date(droppedTo).toISOString()],
          );
        }
        const h = await state(tx);
        const iso = (t: number) => (Number.isFinite(t) ? new Date(t).toISOString() : null);
        return { fine_before: iso(h.fine), day_before: iso(h.day) };
      });
    },

    async rebuild(from, to, opts) {
      await ensureInit();
      return db.transaction(async (tx) => {
        await tx.query('SELECT pg_advisory_xact_lock($1)', [ROLLUP_LOCK]);
        // Fold everything pending first: the rebuild then recomputes its months from the raw
        // events (pending ones included) and the folded events outside them stay counted once.
        await store.fold(tx, await claimPending(tx, null));
        return store.rebuild(tx, from, to, opts);
      });
    },

    init() {
      if (!ready) {
        ready = initZone();
        // A failure (the database down) is retried by the next caller, not remembered forever.
        ready.catch(() => {
          ready = null;
        });
      }
      return ready;
    },

    async inTransaction(tx, change) {
      if (change.kind === 'inserted') {
        const seqs = change.rows.filter((r) => r.type === 'llm.usage').map((r) => r.seq);
        if (seqs.length) await tx.query('INSERT INTO rollup_pending (seqs) VALUES ($1::bigint[])', [seqs], { prepare: 'rollup_pending_insert' });
        return;
      }
      await applyCostChanges(tx, change.changes);
    },
  };
  return svc;
}


/** The usage dimensions (re-exported for other domains, e.g. meters' group_by validation). */
export { DIMS } from './cubes.ts';
