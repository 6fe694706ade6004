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

type BookDeps = { store: QuotaStore; clock: Clock; logger: Logger; cfg: SliceConfig; snapshot: (e: Entitlement) => Snapshot | Promise<Snapshot>; metrics?: QuotaMetrics };

/** One process's slices: the state `sliceBook` keeps, passed to the functions below. */
interface Book {
  d: BookDeps;
  /** The open slice per entitlement id (the one admitting calls). */
  active: Map<string, Slice>;
  /** Every slice not given back yet (open or retired with calls still running). */
  live: Set<Slice>;
  /** The slice being taken per entitlement id. */
  taking: Map<string, Promise<unknown>>;
  /** Statements giving slices back (or shrinking them) still in flight; close() waits for them. */
  pending: Set<Promise<unknown>>;
  timer: NodeJS.Timeout | undefined;
}

const nowOf = (b: Book) => b.d.clock.now().getTime();

/** This process's open slice of the entitlement, retiring one that is too old or of changed settings. */
function current(b: Book, e: Entitlement): Slice | null {
  const s = b.active.get(e.id);
  if (!s) return null;
  if (stale(s, e, nowOf(b), b.d.cfg)) {
    retire(b, s);
    return null;
  }
  return s;
}

/** Admits `amount` against this process's slice of the entitlement, or null when it does not fit. */
function local(b: Book, e: Entitlement, amount: Money): Hold | null {
  const s = current(b, e);
  return s && s.used.plus(amount).lte(s.size) ? holdIn(s, amount, nowOf(b), b.d.metrics) : null;
}

async function takeNew(b: Book, e: Entitlement, amount: Money): Promise<Taken> {
  const { d } = b;
  const { cfg } = d;
  const snap = await d.snapshot(e);
  const room = snap.result.available.times(e.thresholds.block).minus(snap.result.usage);
  const ask = { entitlement_id: e.id, min: amount.toFixed(), fraction: String(cfg.slice_fraction), max: amount.times(cfg.slice_max_calls).toFixed(), room: room.toFixed() };
  // The open slice is grown rather than replaced, so its unused part is never stranded in this process.
  const open = current(b, e);
  if (open) {
    const g = await growIn(d, open, ask, snap, amount);
    if (g) return g;
    retire(b, open);
  }
  const at = d.clock.now();
  const id = newId();
  const r = await d.store.takeSlice({ id, ...ask, now: at, expires_at: new Date(at.getTime() + cfg.reservation_ttl_s * 1000) });
  if (!r.ok) return refusal(e, snap, r.reserved, amount, d.metrics);
  d.metrics?.opened();
  const s = sliceOf(id, e, snap, r, at.getTime());
  const old = b.active.get(e.id);
  if (old) retire(b, old);
  b.active.set(e.id, s);
  b.live.add(s);
  b.timer ??= setInterval(() => tick(b), Math.max(10, Math.floor(cfg.slice_idle_ms / 2))).unref();
  return { ok: true, hold: holdIn(s, amount, nowOf(b), d.metrics) };
}

/** One slice taken at a time per entitlement in this process: concurrent callers wait for it, then try it. */
const take = (b: Book, e: Entitlement, amount: Money): Promise<Taken> =>
  oneAtATime(b.taking, e.id, () => {
    const h = local(b, e, amount);
    return h ? { ok: true as const, hold: h } : null;
  }, () => takeNew(b, e, amount));

/** Stops a slice admitting calls; it is given back once its open calls end. */
function retire(b: Book, s: Slice): void {
  const first = !s.retired;
  s.retired = true;
  if (b.active.get(s.ent.id) === s) b.active.delete(s.ent.id);
  if (s.open === 0) giveBack(b, s);
  else if (first && s.size.gt(s.used)) shrink(b, s);
}

/** A statement the book's close() must wait for. */
function track(b: Book, done: Promise<unknown>): void {
  b.pending.add(done);
  void done.finally(() => b.pending.delete(done));
}

/** A retired slice with calls still open gives its unused part back at once (no room stranded while they run). */
function shrink(b: Book, s: Slice): void {
  const unused = s.size.minus(s.used);
  s.size = s.used;
  track(b, b.d.store.shrinkSlice(s.id, unused.toFixed()).catch((err) => b.d.logger.warn({ err, slice: s.id }, 'could not shrink a quota slice (it is given back whole later)')));
}

/** One statement: the slice's size leaves `reserved`, its settled actuals stay held until metered. */
function giveBack(b: Book, s: Slice): void {
  if (s.returned) return;
  s.returned = true;
  b.live.delete(s);
  // The caught promise is the one tracked: a derived promise of the failing one would reject
  // unhandled, and an unhandled rejection ends the process.
  track(b, returnSql(b.d, s, b.d.clock.now()).catch((err) => b.d.logger.warn({ err, slice: s.id }, 'could not give a quota slice back (it expires by its ttl)')));
}

function end(b: Book, h: Hold, actual: Money | null): void {
  if (endIn(h, actual, nowOf(b))) retire(b, h.slice);
}

/** Gives back the slices idle or stale by now; the timer stops once none is left. */
function tick(b: Book): void {
  const t = nowOf(b);
  for (const s of b.live) if (!s.retired && ((s.open === 0 && t - s.lastUse >= b.d.cfg.slice_idle_ms) || stale(s, s.ent, t, b.d.cfg))) retire(b, s);
  if (!b.live.size && b.timer) {
    clearInterval(b.timer);
    b.timer = undefined;
  }
}

/** Gives every slice back, counting open calls at their estimates (held like actuals). */
async function closeBook(b: Book): Promise<void> {
  if (b.timer) clearInterval(b.timer);
  b.timer = undefined;
  for (const s of [...b.live]) {
    s.settled = s.used;
    s.lastSettle = nowOf(b);
    s.open = 0;
    retire(b, s);
  }
  await Promise.allSettled([...b.pending]);
}

export function sliceBook(d: BookDeps) {
  const b: Book = { d, active: new Map(), live: new Set(), taking: new Map(), pending: new Set(), timer: undefined };
  return {
    enabled: d.cfg.slice_fraction > 0,
    /** Synchronous when the process's slice has room (no database round trip). */
    admit: (e: Entitlement, amount: Money): Taken | Promise<Taken> => {
      const h = local(b, e, amount);
      return h ? { ok: true, hold: h } : take(b, e, amount);
    },
    settle: (h: Hold, actual: Money) => end(b, h, actual),
    release: (h: Hold) => end(b, h, null),
    /** Gives every slice back, counting open calls at their estimates (held like actuals). */
    close: (): Promise<void> => closeBook(b),
  };
}

export type SliceBook = ReturnType<typeof sliceBook>;
