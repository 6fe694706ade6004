import { createHash } from 'node:crypto';
import type { Clock } from '../shared/clock.ts';
import type { Logger } from '../shared/log.ts';
import type { MeterService } from '../meters/service.ts';
import { Money } from '../shared/money.ts';
import { run, type EngineResult, type GrantInput, type UsagePoint } from './engine.ts';
import { periodStart } from './periods.ts';
import type { Entitlement, Grant, QuotaStore } from './store.ts';
import type { StoredSnapshot, UsageSnapshotStore } from './usage-store.ts';

/**
 * An entitlement's figures as of a moment, computed from its grants and metered usage.
 *
 * A stored snapshot (usage-store.ts) holds the engine's state at an hour boundary S: a cold
 * answer reads it, the usage after S (hourly) and the usage total before S, in parallel, and
 * replays only the hours after S. The total before S is the late-event check (OpenMeter #2406):
 * the state consumed exactly `usage_before`; any other total means usage arrived late for an
 * instant before S, and the state is rebuilt by a replay from the start. S advances to the last
 * hour boundary at least `lag` ago when the snapshot is older than `max_age` or a period closed.
 */

export interface UsageConfig {
  /** Advance the stored snapshot when it is older than this (or a period closed since). */
  usage_snapshot_age_ms: number;
  /** The snapshot instant stays this far behind now (usage of the last minutes often arrives late). */
  usage_snapshot_lag_ms: number;
  /** How long the 7-day average usage per request (estimated_turns) is reused. */
  avg_ttl_ms: number;
}

/** Everything an entitlement's answer needs, as of a moment (usage is metered usage only). */
export interface Snapshot {
  ent: Entitlement;
  result: EngineResult;
  avg: string | null;
  at: number;
}

export type UsageSource = 'stored' | 'rebuilt' | 'replayed';

const HOUR_MS = 3_600_000;
const WEEK_MS = 7 * 86_400_000;

/** The meter filters an entitlement's usage is read with. */
export function usageFilters(e: Pick<Entitlement, 'subject' | 'team' | 'api_key' | 'filter'>): Record<string, string[]> {
  const f: Record<string, string[]> = {};
  if (e.subject) f.subject = [e.subject];
  if (e.team) f.team = [e.team];
  if (e.api_key) f.api_key = [e.api_key];
  for (const [k, v] of Object.entries(e.filter)) if (typeof v === 'string') f[k] = [v];
  return f;
}

/** Where the timeline begins: the entitlement's creation, or an earlier grant's effective date. */
export function startOf(e: Entitlement, grants: GrantInput[]): Date {
  let start = e.created_at;
  for (const g of grants) if (g.effective_at < start) start = g.effective_at;
  return start;
}

/**
 * What a state at S was computed from: the settings that place usage and periods and the grants
 * as they were before S (a grant given or voided at or after S does not change the state at S).
 */
export function grantsKey(e: Entitlement, grants: GrantInput[], at: Date): string {
  const before = grants
    .filter((g) => g.effective_at < at)
    .map((g) => [g.id, new Money(g.amount).toFixed(), g.priority, +g.effective_at, g.expires_at ? +g.expires_at : null, g.recurring, g.voided_at && g.voided_at < at ? +g.voided_at : null, +g.created_at])
    .sort((a, b) => (String(a[0]) < String(b[0]) ? -1 : 1));
  const settings = [e.tz, e.period, e.week_start, +e.created_at, e.meter, usageFilters(e)];
  return createHash('sha256').update(JSON.stringify([settings, before])).digest('base64url');
}

const sum = (ps: UsagePoint[], before?: number) => ps.reduce((a, p) => (before === undefined || p.at.getTime() < before ? a.plus(p.amount) : a), new Money(0));

export function usageReader(d: { meters: Pick<MeterService, 'query'>; store: Pick<QuotaStore, 'grants'>; snapshots: UsageSnapshotStore; clock: Clock; logger: Logger; cfg: UsageConfig; onSource?: (s: UsageSource) => void }) {
  const { meters, clock, cfg } = d;

  async function points(e: Entitlement, from: Date, to: Date): Promise<UsagePoint[]> {
    if (!(from.getTime() < to.getTime())) return [];
    const rows = await meters.query(e.meter, { from, to, window: 'hour', tz: 'UTC', groupBy: [], filters: usageFilters(e) });
    return rows.map((r) => ({ at: new Date(r.window_start), amount: String(r.value) }));
  }

  async function total(e: Entitlement, from: Date, to: Date): Promise<Money> {
    if (!(from.getTime() < to.getTime())) return new Money(0);
    const rows = await meters.query(e.meter, { from, to, window: 'none', tz: 'UTC', groupBy: [], filters: usageFilters(e) });
    return new Money(rows[0]?.value ?? 0);
  }

  /** Average usage per request over the last 7 days (llm_* meters), null without requests. */
  async function avgPerRequest(e: Entitlement, now: Date): Promise<string | null> {
    if (!e.meter.startsWith('llm_')) return null;
    const from = new Date(now.getTime() - WEEK_MS);
    const q = { from, to: now, window: 'none' as const, tz: 'UTC', groupBy: [], filters: usageFilters(e) };
    const [used, reqs] = await Promise.all([meters.query(e.meter, q), meters.query('llm_requests', q)]);
    const n = Number(reqs[0]?.value ?? 0);
    if (!n) return null;
    return new Money(used[0]?.value ?? 0).div(n).toFixed();
  }

  /** The stored snapshot, when it was computed from these grants and settings and lies in [start, now]. */
  function usable(s: StoredSnapshot | null, e: Entitlement, grants: Grant[], start: Date, now: Date): StoredSnapshot | null {
    if (!s || s.at < start || s.at > now) return null;
    return s.grants_key === grantsKey(e, grants, s.at) ? s : null;
  }

  /** The replay after a usable stored snapshot, or null when usage arrived late for an instant before it. */
  async function resume(e: Entitlement, grants: Grant[], s: StoredSnapshot, now: Date, target: Date, windows: Date[] | undefined, avgP: string | null | Promise<string | null>) {
    const [before, after, avg] = await Promise.all([total(e, startOf(e, grants), s.at), points(e, s.at, new Date(now.getTime() + 1)), avgP]);
    if (!before.eq(s.usage_before)) {
      d.logger.info({ entitlement: e.id, stored: s.usage_before, now: before.toFixed() }, 'usage arrived late for an instant before the stored quota snapshot: rebuilding it');
      return null;
    }
    const advance = target > s.at && (now.getTime() - s.at.getTime() >= cfg.usage_snapshot_age_ms || s.at < periodStart(e.tz, e.period, now, e.week_start));
    const result = run({ ...engineInput(e, grants, now, windows, avg), resume: s.state, usage: after, captureAt: advance ? target : undefined });
    const usageBefore = advance ? new Money(s.usage_before).plus(sum(after, target.getTime())).toFixed() : s.usage_before;
    return { result, avg, next: advance ? { at: target, state: result.state!, usage_before: usageBefore } : null };
  }

  const engineInput = (e: Entitlement, grants: Grant[], now: Date, windows: Date[] | undefined, avg: string | null) => ({
    tz: e.tz, period: e.period, weekStart: e.week_start, thresholds: e.thresholds, grants, start: startOf(e, grants), now, windows, avg_per_request: avg, usage: [] as UsagePoint[],
  });

  /**
   * The entitlement's figures now. `full`: replay from the start (history, which needs every
   * phase of the period) — it still stores the state it passes.
   */
  async function compute(e: Entitlement, opts: { windows?: Date[]; full?: boolean } = {}): Promise<Snapshot> {
    const now = clock.now();
    const [grants, stored] = await Promise.all([d.store.grants(e.id), opts.full ? null : d.snapshots.get(e.id)]);
    const start = startOf(e, grants);
    const target = new Date(Math.floor((now.getTime() - cfg.usage_snapshot_lag_ms) / HOUR_MS) * HOUR_MS);
    const avgFresh = stored?.avg_at && stored.avg_at <= now && now.getTime() - stored.avg_at.getTime() < cfg.avg_ttl_ms;
    const avgP = avgFresh ? stored!.avg : avgPerRequest(e, now);
    const s = usable(stored, e, grants, start, now);
    if (s) {
      const r = await resume(e, grants, s, now, target, opts.windows, avgP);
      if (r) {
        const avg = r.avg;
        d.onSource?.('stored');
        if (r.next || !avgFresh) save({ entitlement_id: e.id, ...(r.next ?? { at: s.at, state: s.state, usage_before: s.usage_before }), grants_key: grantsKey(e, grants, r.next?.at ?? s.at), avg, avg_at: avgFresh ? stored!.avg_at : now }, now);
        return { ent: e, result: r.result, avg, at: now.getTime() };
      }
    }
    // Usage up to and including now (the meters' `to` is exclusive).
    const [usage, avg] = await Promise.all([points(e, start, new Date(now.getTime() + 1)), avgP]);
    const capture = target >= start ? target : undefined;
    const result = run({ ...engineInput(e, grants, now, opts.windows, avg), usage, captureAt: capture });
    d.onSource?.(stored ? 'rebuilt' : 'replayed');
    if (capture) save({ entitlement_id: e.id, at: capture, grants_key: grantsKey(e, grants, capture), state: result.state!, usage_before: sum(usage, capture.getTime()).toFixed(), avg, avg_at: now }, now);
    return { ent: e, result, avg, at: now.getTime() };
  }

  /** Not awaited: an answer never waits for the write; a lost write costs a later replay. */
  function save(s: StoredSnapshot, now: Date): void {
    d.snapshots.put(s, now).catch((err) => d.logger.warn({ err, entitlement: s.entitlement_id }, 'could not store a quota usage snapshot'));
  }

  return { compute, points };
}

export type UsageReader = ReturnType<typeof usageReader>;
