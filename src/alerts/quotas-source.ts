import type { Clock } from '../shared/clock.ts';
import type { EntitlementSnapshot, EntitlementSource } from './types.ts';

/**
 * Adapts the quotas service to alerts' EntitlementSource port. Typed structurally (only what is
 * read), so alerts does not import the quotas domain; the composition root passes the service.
 */
export interface QuotasReader {
  store: {
    listEntitlements(q: { limit: number }): Promise<
      Array<{ id: string; meter: string; subject: string | null; team: string | null; api_key: string | null; enabled: boolean; thresholds: { block: string } }>
    >;
  };
  value(id: string): Promise<{
    usage: string;
    available: string;
    balance: string;
    percent: string | null;
    level: 'ok' | 'warning' | 'critical' | 'blocked';
    period_start: string;
    resets_at: string;
    purchase_url: string | null;
  }>;
  history(id: string, window: 'day'): Promise<{ rows: Array<{ window_start: string; window_end: string; usage: string }> }>;
}

/** The most entitlements one sweep reads. */
const SWEEP_LIMIT = 100_000;
const HALF_DAY_MS = 14 * 3_600_000;

export function quotasEntitlementSource(q: QuotasReader, clock: Clock): EntitlementSource {
  async function snap(e: Awaited<ReturnType<QuotasReader['store']['listEntitlements']>>[number]): Promise<EntitlementSnapshot> {
    const v = await q.value(e.id);
    return {
      id: e.id,
      meter: e.meter,
      subject: e.subject,
      team: e.team,
      api_key: e.api_key,
      usage: v.usage,
      available: v.available,
      balance: v.balance,
      percent: v.percent ?? '0',
      level: v.level,
      block_threshold: e.thresholds.block,
      period_start: v.period_start,
      resets_at: v.resets_at,
      purchase_url: v.purchase_url,
    };
  }
  return {
    async list() {
      const out: EntitlementSnapshot[] = [];
      for (const e of await q.store.listEntitlements({ limit: SWEEP_LIMIT })) if (e.enabled) out.push(await snap(e));
      return out;
    },
    async value(id) {
      const e = (await q.store.listEntitlements({ limit: SWEEP_LIMIT })).find((x) => x.id === id);
      return e ? snap(e) : null;
    },
    async dailyUsage(id, from, to) {
      // Days are the entitlement's own (its zone); complete ones only, near [from, to).
      const now = clock.now().getTime();
      const { rows } = await q.history(id, 'day');
      return rows
        .filter((r) => Date.parse(r.window_end) <= now && Date.parse(r.window_start) >= from.getTime() - HALF_DAY_MS && Date.parse(r.window_end) <= to.getTime() + HALF_DAY_MS)
        .map((r) => ({ day: r.window_start.slice(0, 10), usage: r.usage }));
    },
  };
}
