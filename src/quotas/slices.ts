import { randomBytes } from 'node:crypto';
import type { Clock } from '../shared/clock.ts';
import type { Logger } from '../shared/log.ts';
import { Money } from '../shared/money.ts';
import { checkOut, type CheckOut } from './answers.ts';
import type { Entitlement, QuotaStore } from './store.ts';
import type { Snapshot } from './usage.ts';
import type { QuotaMetrics } from './metrics.ts';

/**
 * Per-process slices of room, so an entitled gateway call is admitted without a database round
 * trip. A process takes a slice of an entitlement's room with one conditional UPDATE (the same
 * statement shape as a reservation: `quota_entitlements.reserved` grows by the slice's size only
 * while it stays within the room), then admits calls locally while their estimates fit in it.
 *
 * Why it stays exact across processes: the row's `reserved` holds the sum of every open slice
 * (and of every per-call reservation); a process admits a call only while its slice's `used`
 * (open estimates + settled actuals) plus the call's estimate is within the slice's size, so
 * the calls a slice admits are covered by room no other process can take. Capacity freed inside a
 * slice (a release, an actual below its estimate) is reused only within that slice; an actual
 * settled in a slice is never freed in it (its usage is being metered: freeing it would count it
 * zero times until the next slice is sized from fresh usage). When a slice is given back (idle,
 * too old, full, or the process closes) one statement swaps its size for the actuals it settled,
 * held like a settled reservation's actual for `settle_hold_ms` after its last settle — the
 * exactness argument of per-call reservations (docs/quotas.md) then applies unchanged. A call
 * whose actual passes its estimate ends its slice at once (no further call is admitted against
 * it), so overspend stays within one request's own overrun.
 */

export interface SliceConfig {
  /** Share of the room left that a slice takes (0: no slices, one reservation per call). */
  slice_fraction: number;
  /** A slice holds at most this many of the asking call's estimates. */
  slice_max_calls: number;
  /** A slice nobody used for this long is given back. */
  slice_idle_ms: number;
  /** A slice admits no call after this age (it is given back when its calls end). */
  slice_max_age_ms: number;
  settle_hold_ms: number;
  reservation_ttl_s: number;
}

interface Slice {
  id: string;
  ent: Entitlement;
  snap: Snapshot;
  size: Money;
  /** `reserved` of the row without this slice, when it was taken. */
  others: Money;
  /** Open estimates + settled actuals admitted in this slice. */
  used: Money;
  settled: Money;
  open: number;
  takenAt: number;
  lastUse: number;
  lastSettle: number;
  retired: boolean;
  returned: boolean;
}

/** One call's share of a slice. */
export interface Hold {
  slice: Slice;
  amount: Money;
  out: CheckOut;
  /** What counts against the balance besides metered usage, this call included (for level signals). */
  reserved: string;
  done: boolean;
}

export type Taken = { ok: true; hold: Hold } | { ok: false; out: CheckOut; snap: Snapshot; reserved: string };

const newId = () => `slc_${randomBytes(12).toString('base64url')}`;

/** Counts `amount` in the slice: the call's hold and its answer (from the slice's snapshot and the room held before it). */
function holdIn(s: Slice, amount: Money, at: number, metrics?: QuotaMetrics): Hold {
  const before = s.others.plus(s.used);
  s.used = s.used.plus(amount);
  s.open++;
  s.lastUse = at;
  const { admission: _a, ...c } = checkOut(s.ent, s.snap, before.toFixed(), amount);
  // Allowed by the slice: at most critical (the block threshold is where the room ends).
  const out: CheckOut = { ...c, allowed: true, level: c.level === 'blocked' ? 'critical' : c.level };
  metrics?.check(out.level);
  return { slice: s, amount, out, reserved: before.plus(amount).toFixed(), done: false };
}


function refusal(e: Entitlement, snap: Snapshot, reserved: string, amount: Money, metrics?: QuotaMetrics): Taken {
  const { admission: _a, ...c } = checkOut(e, snap, reserved, amount);
  metrics?.check('blocked');
  return { ok: false, out: { ...c, allowed: false, level: 'blocked' }, snap, reserved };
}


/** A call ended: its estimate leaves the slice, its actual (if any) stays; true when the slice must stop admitting. */
function endIn(h: Hold, actual: Money | null, at: number): boolean {
  if (h.done) return false;
  h.done = true;
  const s = h.slice;
  s.open--;
  if (actual === null) s.used = s.used.minus(h.amount);
  else {
    s.used = s.used.minus(h.amount).plus(actual);
    s.settled = s.settled.plus(actual);
    s.lastSettle = at;
    // An actual past its estimate: this slice admits nothing more (overspend ≤ this call's overrun).
    if (actual.gt(h.amount)) s.retired = true;
  }
  return s.retired;
}


/** A slice just taken (`r`: its size and the row's reserved after it). */
function sliceOf(id: string, ent: Entitlement, snap: Snapshot, r: { size: string; reserved: string }, at: number): Slice {
  const size = new Money(r.size);
  return { id, ent, snap, size, others: new Money(r.reserved).minus(size), used: new Money(0), settled: new Money(0), open: 0, takenAt: at, lastUse: at, lastSettle: 0, retired: false, returned: false };
}

/** The statement that gives a slice back: its size leaves `reserved`, its settled actuals are held until `settle_hold_ms` after its last settle. */
function returnSql(d: { store: QuotaStore; cfg: SliceConfig; metrics?: QuotaMetrics }, s: Slice, at: Date): Promise<unknown> {
  if (!s.settled.gt(0)) return d.store.release(s.id, at).then((n) => n && d.metrics?.released(n));
  const holdUntil = new Date(Math.max(s.lastSettle, at.getTime() - d.cfg.settle_hold_ms) + d.cfg.settle_hold_ms);
  return d.store.settle(s.id, () => s.settled.toFixed(), at, holdUntil).then((n) => n && d.metrics?.settled(n));
}

/** Runs `start` for a key only when no run is in flight; callers first try `now` and wait for a running one. */
async function oneAtATime<T>(running: Map<string, Promise<unknown>>, key: string, now: () => T | null, start: () => Promise<T>): Promise<T> {
  for (;;) {
    const v = now();
    if (v) return v;
    const busy = running.get(key);
    if (!busy) break;
    await busy.catch(() => undefined);
  }
  const p = start();
  const mark = p.finally(() => running.get(key) === mark && running.delete(key));
  running.set(key, mark);
  return p;
}

/** A slice that must stop admitting: retired, its entitlement's settings changed, or too old. */
const stale = (s: Slice, e: Entitlement, t: number, cfg: SliceConfig) => s.retired || s.ent.updated_at.getTime() !== e.updated_at.getTime() || t - s.takenAt >= cfg.slice_max_age_ms;

/** Grows the open slice for `amount`: the hold, a refusal, or null when the slice is gone (take a new one). */
async function growIn(d: { store: QuotaStore; clock: Clock; metrics?: QuotaMetrics }, open: Slice, ask: { entitlement_id: string; min: string; fraction: string; max: string; room: string }, snap: Snapshot, amount: Money): Promise<Taken | null> {
  const g = await d.store.growSlice({ id: open.id, ...ask });
  if (g.ok && !open.retired) {
    open.size = open.size.plus(g.size);
    open.others = new Money(g.reserved).minus(open.size);
    open.snap = snap;
    return { ok: true, hold: holdIn(open, amount, d.clock.now().getTime(), d.metrics) };
  }
  return !g.gone && !g.ok ? refusal(open.ent, snap, g.reserved, amount, d.metrics) : null;
}

export function sliceBook(d: { store: QuotaStore; clock: Clock; logger: Logger; cfg: SliceConfig; snapshot: (e: Entitlement) => Snapshot | Promise<Snapshot>; metrics?: QuotaMetrics }) {
  const { cfg, store } = d;
  const active = new Map<string, Slice>();
  const live = new Set<Slice>();
  const taking = new Map<string, Promise<unknown>>();
  let timer: NodeJS.Timeout | undefined;
  const now = () => d.clock.now().getTime();

  /** This process's open slice of the entitlement, retiring one that is too old or of changed settings. */
  function current(e: Entitlement): Slice | null {
    const s = active.get(e.id);
    if (!s) return null;
    if (stale(s, e, now(), cfg)) {
      retire(s);
      return null;
    }
    return s;
  }

  /** Admits `amount` against this process's slice of the entitlement, or null when it does not fit. */
  function local(e: Entitlement, amount: Money): Hold | null {
    const s = current(e);
    return s && s.used.plus(amount).lte(s.size) ? holdIn(s, amount, now(), d.metrics) : null;
  }

  async function takeNew(e: Entitlement, amount: Money): Promise<Taken> {
    const snap = await d.snapshot(e);
    const room = snap.result.available.times(e.thresholds.block).minus(snap.result.usage);
    const ask = { entitlement_id: e.id, min: amount.toFixed(), fraction: String(cfg.slice_fraction), max: amount.times(cfg.slice_max_calls).toFixed(), room: room.toFixed() };
    // The open slice is grown rather than replaced, so its unused part is never stranded in this process.
    const open = current(e);
    if (open) {
      const g = await growIn(d, open, ask, snap, amount);
      if (g) return g;
      retire(open);
    }
    const at = d.clock.now();
    const id = newId();
    const r = await store.takeSlice({ id, ...ask, now: at, expires_at: new Date(at.getTime() + cfg.reservation_ttl_s * 1000) });
    if (!r.ok) return refusal(e, snap, r.reserved, amount, d.metrics);
    d.metrics?.opened();
    const s = sliceOf(id, e, snap, r, at.getTime());
    const old = active.get(e.id);
    if (old) retire(old);
    active.set(e.id, s);
    live.add(s);
    timer ??= setInterval(tick, Math.max(10, Math.floor(cfg.slice_idle_ms / 2))).unref();
    return { ok: true, hold: holdIn(s, amount, now(), d.metrics) };
  }

  /** One slice taken at a time per entitlement in this process: concurrent callers wait for it, then try it. */
  const take = (e: Entitlement, amount: Money): Promise<Taken> =>
    oneAtATime(taking, e.id, () => {
      const h = local(e, amount);
      return h ? { ok: true as const, hold: h } : null;
    }, () => takeNew(e, amount));

  /** Stops a slice admitting calls; it is given back once its open calls end. */
  function retire(s: Slice): void {
    const first = !s.retired;
    s.retired = true;
    if (active.get(s.ent.id) === s) active.delete(s.ent.id);
    if (s.open === 0) giveBack(s);
    else if (first && s.size.gt(s.used)) shrink(s);
  }

  /** A retired slice with calls still open gives its unused part back at once (no room stranded while they run). */
  function shrink(s: Slice): void {
    const unused = s.size.minus(s.used);
    s.size = s.used;
    const done = store.shrinkSlice(s.id, unused.toFixed()).catch((err) => d.logger.warn({ err, slice: s.id }, 'could not shrink a quota slice (it is given back whole later)'));
    pending.add(done);
    void done.finally(() => pending.delete(done));
  }

  /** One statement: the slice's size leaves `reserved`, its settled actuals stay held until metered. */
  function giveBack(s: Slice): void {
    if (s.returned) return;
    s.returned = true;
    live.delete(s);
    const done = returnSql(d, s, d.clock.now());
    done.catch((err) => d.logger.warn({ err, slice: s.id }, 'could not give a quota slice back (it expires by its ttl)'));
    pending.add(done);
    void done.finally(() => pending.delete(done));
  }
  const pending = new Set<Promise<unknown>>();

  function end(h: Hold, actual: Money | null): void {
    if (endIn(h, actual, now())) retire(h.slice);
  }

  function tick(): void {
    const t = now();
    for (const s of live) if (!s.retired && ((s.open === 0 && t - s.lastUse >= cfg.slice_idle_ms) || stale(s, s.ent, t, cfg))) retire(s);
    if (!live.size && timer) {
      clearInterval(timer);
      timer = undefined;
    }
  }

  return {
    enabled: cfg.slice_fraction > 0,
    /** Synchronous when the process's slice has room (no database round trip). */
    admit: (e: Entitlement, amount: Money): Taken | Promise<Taken> => {
      const h = local(e, amount);
      return h ? { ok: true, hold: h } : take(e, amount);
    },
    settle: (h: Hold, actual: Money) => end(h, actual),
    release: (h: Hold) => end(h, null),
    /** Gives every slice back, counting open calls at their estimates (held like actuals). */
    async close(): Promise<void> {
      if (timer) clearInterval(timer);
      timer = undefined;
      for (const s of [...live]) {
        s.settled = s.used;
        s.lastSettle = now();
        s.open = 0;
        retire(s);
      }
      await Promise.allSettled([...pending]);
    },
  };
}

export type SliceBook = ReturnType<typeof sliceBook>;
