import type { Db } from '../shared/db/index.ts';
import type { Clock } from '../shared/clock.ts';
import type { Logger } from '../shared/log.ts';
import type { Signals } from '../shared/signals.ts';
import type { MeterService } from '../meters/service.ts';
import { Money } from '../shared/money.ts';
import { levelOf, percentString, type Level } from './engine.ts';
import { checkOut, valueOf, worse, NO_ENTITLEMENT, type CheckOut, type ValueOut } from './answers.ts';
import { usageReader, type Snapshot, type UsageConfig, type UsageReader } from './usage.ts';
import { usageSnapshotStore } from './usage-store.ts';
import { entitlementAdmin } from './admin.ts';
import { historyOf } from './history.ts';
import { reservationService } from './reservations.ts';
import { sliceBook, type SliceConfig } from './slices.ts';
import { quotaStore, type Entitlement, type QuotaStore } from './store.ts';
import type { QuotaMetrics } from './metrics.ts';

export interface QuotasConfig {
  /** How long a process answers an entitlement's metered usage from its cache. */
  snapshot_ttl_ms: number;
  /** How long a settled actual keeps counting (until its usage is surely in the meter). */
  settle_hold_ms: number;
  /** Default reservation ttl. */
  reservation_ttl_s: number;
  /** Store unreachable: refuse (false, default) or allow calls. */
  fail_open: boolean;
  sweep_interval_ms: number;
  /** How long /v1/entitlements/stats answers from this process's cache (0: never cached). */
  stats_cache_ms: number;
  /** Reservation statements commit without waiting for the WAL flush (docs/quotas.md). */
  async_commit: boolean;
}

export const DEFAULT_QUOTAS_CONFIG: QuotasConfig & UsageConfig & SliceConfig = {
  snapshot_ttl_ms: 500, settle_hold_ms: 3000, reservation_ttl_s: 600, fail_open: false, sweep_interval_ms: 1000, stats_cache_ms: 10_000, async_commit: true,
  usage_snapshot_age_ms: 3_600_000, usage_snapshot_lag_ms: 600_000, avg_ttl_ms: 600_000,
  slice_fraction: 0.1, slice_max_calls: 32, slice_idle_ms: 200, slice_max_age_ms: 1000,
};

export interface Target {
  subject?: string | null;
  team?: string | null;
  api_key?: string | null;
}

export type { Snapshot } from './usage.ts';
export type { CheckOut, ValueOut } from './answers.ts';
export { usageFilters } from './usage.ts';

const LLM_DIMS = new Set(['subject', 'team', 'project', 'api_key', 'provider', 'model', 'region', 'feature']);

export function quotaService(db: Db, clock: Clock, logger: Logger, deps: { meters: Pick<MeterService, 'query'>; signals: Signals; metrics?: QuotaMetrics; config?: Partial<QuotasConfig & UsageConfig & SliceConfig> }) {
  const cfg = { ...DEFAULT_QUOTAS_CONFIG, ...deps.config };
  const store: QuotaStore = quotaStore(db, { asyncCommit: cfg.async_commit });
  const usage: UsageReader = usageReader({ meters: deps.meters, store, snapshots: usageSnapshotStore(db, { asyncCommit: cfg.async_commit }), clock, logger, cfg, onSource: deps.metrics?.usageSource });
  const compute = usage.compute;

  const { snapshot, writeFigures, forget } = snapshotCache({ store, clock, logger, ttlMs: cfg.snapshot_ttl_ms, compute });
  const slices = sliceBook({ store, clock, logger, cfg, snapshot, metrics: deps.metrics });

  const noteLevel = (e: Entitlement, s: Snapshot, level: Level, reserved: string) => publishLevel({ store, clock, signals: deps.signals }, e, s, level, reserved);

  const changes = changeListeners(logger);
  const admin = entitlementAdmin({ store, clock, forget, changed: changes.fire });
  const matching = async (t: Target, meter: string) =>
    (await store.entitlementsFor({ subject: t.subject ?? null, team: t.team ?? null, api_key: t.api_key ?? null })).filter((e) => e.meter === meter);
  const reservations = reservationService({ store, clock, logger, cfg, snapshot, noteLevel, matching, metrics: deps.metrics });

  return {
    store,
    config: cfg,
    snapshot,
    forget,
    noteLevel,
    /** This process's slices of room (the gateway's admissions). */
    slices,
    /** /value: always computed fresh (it is the reference answer), and refreshes the cache. */
    async value(id: string): Promise<ValueOut> {
      const e = await admin.getEntitlement(id);
      forget(id);
      const [s, reserved] = await Promise.all([snapshot(e), store.reserved(id)]);
      // The reference answer also leaves the stats figures written when it returns.
      await writeFigures(e, s);
      await noteLevel(e, s, levelOf(s.result.usage.plus(reserved), s.result.available, e.thresholds), reserved);
      return valueOf(s, reserved);
    },
    ...admin,
    /**
     * Calls `listener` after each entitlement created, updated or deleted through this service
     * (before that call returns); other processes' changes are not seen. Returns the unsubscribe.
     */
    onEntitlementsChanged: changes.add,
    /** Whether any entitlement is enabled at all (one lookup in migration 0019's partial index). */
    anyEnabledEntitlement: () => store.anyEnabledEntitlement(),
    async history(id: string, window: 'hour' | 'day' | 'week' | 'month') {
      return historyOf(await admin.getEntitlement(id), window, clock.now(), compute);
    },
    /** /v1/check: advisory, from the snapshot (≤ snapshot_ttl_ms old) and the current reserved room. */
    async check(t: Target, meter: string, amount: string | undefined): Promise<CheckOut> {
      const ents = await matching(t, meter);
      if (!ents.length) return NO_ENTITLEMENT;
      let worst: CheckOut | null = null;
      for (const e of ents) {
        const [s, reserved] = await Promise.all([snapshot(e), store.reserved(e.id)]);
        const { admission: _a, ...c } = checkOut(e, s, reserved, new Money(amount ?? 0));
        worst = worse(worst, c);
      }
      return worst!;
    },
    ...reservations,
    matching,
    entitlementsFor: (t: { subject: string | null; team: string | null; api_key: string | null }) => store.entitlementsFor(t),
    list: (q: Parameters<QuotaStore['listEntitlements']>[0]) => store.listEntitlements(q),
    grants: (id: string) => store.grants(id),
    /** Seed 003's admin stats, cached per process for stats_cache_ms (one computation at a time per meter). */
    stats: cachedStats(store, clock, cfg.stats_cache_ms),
    isLlmDim: (d: string) => LLM_DIMS.has(d),
  };
}

export type QuotaService = ReturnType<typeof quotaService>;

/**
 * Entitlement answers cached per process for `ttlMs` (one computation at a time per entitlement),
 * and the stats figures each answer leaves written. Not shared/ttlCache: an answer's age counts
 * from the instant it describes (`Snapshot.at`), not from when it was stored — the hold argument in
 * docs/quotas.md needs "no snapshot in use is older than snapshot_ttl_ms" — and an entitlement
 * changed since (its `updated_at`) is computed again.
 */
function snapshotCache(d: { store: QuotaStore; clock: Clock; logger: Logger; ttlMs: number; compute: (e: Entitlement) => Promise<Snapshot> }) {
  const { store, clock, logger, ttlMs, compute } = d;
  const snaps = new Map<string, Snapshot>();
  const loading = new Map<string, Promise<Snapshot>>();

  /** The entitlement's snapshot, from this process's cache while it is fresh (snapshot_ttl_ms). */
  function snapshot(e: Entitlement): Snapshot | Promise<Snapshot> {
    const hit = snaps.get(e.id);
    if (hit && clock.now().getTime() - hit.at < ttlMs && hit.ent.updated_at.getTime() === e.updated_at.getTime()) return hit;
    let p = loading.get(e.id);
    if (!p) {
      p = compute(e).then(
        (s) => {
          snaps.set(e.id, s);
          loading.delete(e.id);
          // Not awaited: the figures are for stats only, and the answer must not wait for a write.
          void writeFigures(e, s);
          return s;
        },
        (err) => {
          loading.delete(e.id);
          throw err;
        },
      );
      loading.set(e.id, p);
    }
    return p;
  }
  /** The figures /v1/entitlements/stats aggregates (one SQL aggregate, no engine run per subject); written only when they changed. */
  async function writeFigures(e: Entitlement, s: Snapshot): Promise<void> {
    const purchased = s.result.grants.filter((g) => g.kind === 'purchased' && g.active).reduce((a, g) => a.plus(g.balance), new Money(0));
    const f = { usage: s.result.usage.toFixed(), available: s.result.available.toFixed(), purchased: purchased.toFixed() };
    const was = e.figures;
    if (was && new Money(was.usage).eq(f.usage) && new Money(was.available).eq(f.available) && new Money(was.purchased).eq(f.purchased)) return;
    await store.snapshot(e.id, { ...f, at: new Date(s.at) }).then(
      () => void (e.figures = f),
      (err) => logger.warn({ err }, 'could not store an entitlement snapshot'),
    );
  }
  const forget = (id: string) => snaps.delete(id);
  return { snapshot, writeFigures, forget };
}

/** Publishes entitlement.level when the level changed (once across processes: the row decides). */
async function publishLevel(d: { store: QuotaStore; clock: Clock; signals: Signals }, e: Entitlement, s: Snapshot, level: Level, reserved: string): Promise<void> {
  if (level === e.level) return;
  const changed = await d.store.setLevel(e.id, e.level, level);
  const previous = e.level;
  e.level = level;
  if (!changed) return;
  const r = s.result;
  const usage = r.usage.plus(reserved);
  d.signals.publish({
    type: 'entitlement.level',
    entitlement_id: e.id,
    meter: e.meter,
    subject: e.subject,
    team: e.team,
    api_key: e.api_key,
    level,
    previous_level: previous,
    usage: usage.toFixed(),
    available: r.available.toFixed(),
    balance: Money.max(0, r.available.minus(usage)).toFixed(),
    percent: percentString(r.available.gt(0) ? usage.div(r.available) : null) ?? '0',
    period_start: r.period_start.toISOString(),
    resets_at: r.resets_at.toISOString(),
    purchase_url: e.purchase_url,
    occurred_at: d.clock.now().toISOString(),
  });
}

/** The entitlement change listeners: one that throws is logged and does not fail the change or the others. */
function changeListeners(logger: Logger) {
  const listeners = new Set<() => void>();
  return {
    add(listener: () => void): () => void {
      // Its own entry: one listener subscribed twice is called twice and unsubscribed once each.
      const own = () => listener();
      listeners.add(own);
      return () => void listeners.delete(own);
    },
    fire(): void {
      for (const l of listeners) {
        try {
          l();
        } catch (err) {
          logger.warn({ err }, 'an entitlement change listener failed');
        }
      }
    },
  };
}

/** Seed 003's admin stats, cached per process for `ms` (one computation at a time per meter). */
function cachedStats(store: QuotaStore, clock: Clock, ms: number) {
  const cache = new Map<string, { at: number; value: ReturnType<QuotaStore['stats']> }>();
  return (meter: string): ReturnType<QuotaStore['stats']> => {
    const now = clock.now().getTime();
    const hit = cache.get(meter);
    if (hit && now - hit.at < ms) return hit.value;
    const value = store.stats(meter);
    cache.set(meter, { at: now, value });
    value.catch(() => cache.delete(meter));
    return value;
  };
}
