import type { Clock } from '../shared/clock.ts';
import type { Logger } from '../shared/log.ts';
import { Money } from '../shared/money.ts';
import { levelOf, type Level } from './engine.ts';
import { checkOut, worse, type CheckOut } from './answers.ts';
import { newId } from './admin.ts';
import type { Entitlement, QuotaStore } from './store.ts';
import type { Snapshot } from './usage.ts';
import type { QuotaMetrics } from './metrics.ts';
import type { Target } from './service.ts';

/** Per-call reservations (the /v1/reservations API, and the gateway with slices off): reserve, settle, release, sweep. */
export function reservationService(d: {
  store: QuotaStore;
  clock: Clock;
  logger: Logger;
  cfg: { reservation_ttl_s: number; settle_hold_ms: number };
  snapshot: (e: Entitlement) => Snapshot | Promise<Snapshot>;
  noteLevel: (e: Entitlement, s: Snapshot, level: Level, reserved: string) => Promise<void>;
  matching: (t: Target, meter: string) => Promise<Entitlement[]>;
  metrics?: QuotaMetrics;
}) {
  const { store, clock, logger, cfg, snapshot, noteLevel, matching } = d;
  const deps = d;
  /**
   * Reserves `amount(e)` in every entitlement the target falls under, or in none: each take is
   * one locked statement; a refusal gives back the ones already taken.
   */
  async function reserveIn(ents: Entitlement[], amountOf: (e: Entitlement) => string, ttlS: number, id = newId('res')): Promise<{ id: string; out: CheckOut; taken: Entitlement[] }> {
    const now = clock.now();
    const expires = new Date(now.getTime() + ttlS * 1000);
    const taken: Entitlement[] = [];
    let worst: CheckOut | null = null;
    for (const e of ents) {
      const s0 = snapshot(e);
      const s = s0 instanceof Promise ? await s0 : s0;
      const amount = new Money(amountOf(e));
      const room = s.result.available.times(e.thresholds.block).minus(s.result.usage);
      const r = await store.reserve({ id, entitlement_id: e.id, amount: amount.toFixed(), room: room.toFixed(), now, expires_at: expires });
      const before = r.ok ? new Money(r.reserved).minus(amount).toFixed() : r.reserved;
      const { admission, ...c } = checkOut(e, s, before, amount);
      const out = { ...c, allowed: r.ok, level: r.ok ? (admission.level === 'blocked' ? 'critical' : admission.level) : ('blocked' as Level) };
      deps.metrics?.check(out.level);
      void noteLevel(e, s, r.ok ? levelOf(s.result.usage.plus(r.reserved), s.result.available, e.thresholds) : 'blocked', r.reserved).catch((err) => logger.warn({ err }, 'could not record an entitlement level'));
      worst = worse(worst, out);
      if (!r.ok) {
        if (taken.length) await store.release(id, now);
        return { id, out, taken: [] };
      }
      taken.push(e);
      deps.metrics?.opened();
    }
    return { id, out: worst!, taken };
  }

  return {
    reserveIn,
    async reserve(t: Target, meter: string, amount: string, ttlS?: number) {
      const ents = await matching(t, meter);
      return reserveIn(ents, () => amount, ttlS ?? cfg.reservation_ttl_s);
    },
    async settle(id: string, actual: string | ((entitlementId: string) => string)): Promise<number> {
      const now = clock.now();
      const n = await store.settle(id, typeof actual === 'string' ? () => actual : actual, now, new Date(now.getTime() + cfg.settle_hold_ms));
      if (n) deps.metrics?.settled(n);
      return n;
    },
    async release(id: string): Promise<number> {
      const n = await store.release(id, clock.now());
      if (n) deps.metrics?.released(n);
      return n;
    },
    async sweep() {
      const now = clock.now();
      const r = await store.sweep(now, new Date(now.getTime() - 86_400_000));
      if (r.expired) deps.metrics?.expired(r.expired);
      return r;
    },
  };
}
