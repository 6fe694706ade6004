import { randomBytes } from 'node:crypto';
import type { Clock } from '../shared/clock.ts';
import { ApiError, notFound } from '../shared/errors.ts';
import { Money } from '../shared/money.ts';
import type { BudgetFilter, Entitlement, Grant, QuotaStore } from './store.ts';
import type { PeriodUnit, Weekday } from './periods.ts';

/**
 * Entitlements and grants: create, change, delete, void (each forgets the process's cached answer).
 * An entitlement's create, update or delete calls `changed` once its statement has ended — also
 * when it failed, since an error (a dropped connection) can come after the commit: a listener may
 * hear of a change that did not happen, never miss one that did.
 */

export const newId = (p: string) => `${p}_${randomBytes(12).toString('base64url')}`;

export function entitlementAdmin(d: { store: QuotaStore; clock: Clock; forget: (id: string) => void; changed: () => void }) {
  const { store, clock, forget, changed } = d;
  const changing = <T>(statement: Promise<T>): Promise<T> => statement.finally(changed);
  async function getEnt(id: string): Promise<Entitlement> {
    const e = await store.getEntitlement(id);
    if (!e) throw notFound(`entitlement ${id}`);
    return e;
  }
  return {
    getEntitlement: getEnt,
    async createEntitlement(b: { subject?: string | null; team?: string | null; api_key?: string | null; meter: string; filter?: BudgetFilter; period: PeriodUnit; tz: string; week_start?: Weekday; thresholds: { warning: string; critical: string; block: string }; purchase_url?: string | null; enabled?: boolean }) {
      if (b.filter && Object.keys(b.filter).length && !b.meter.startsWith('llm_')) throw new ApiError({ type: 'invalid_request', code: 'INVALID_FIELD', message: 'filter applies to the llm_* meters (budgets)', param: 'filter' });
      const now = clock.now();
      const e: Entitlement = {
        id: newId('ent'), subject: b.subject ?? null, team: b.team ?? null, api_key: b.api_key ?? null, meter: b.meter, filter: b.filter ?? {}, period: b.period, tz: b.tz,
        week_start: b.week_start ?? 1, thresholds: b.thresholds, purchase_url: b.purchase_url ?? null, enabled: b.enabled ?? true, level: 'ok', created_at: now, updated_at: now,
      };
      await changing(store.insertEntitlement(e));
      return e;
    },
    async updateEntitlement(id: string, patch: Parameters<QuotaStore['updateEntitlement']>[1]) {
      const e = await changing(store.updateEntitlement(id, patch, clock.now()));
      if (!e) throw notFound(`entitlement ${id}`);
      forget(id);
      return e;
    },
    async deleteEntitlement(id: string) {
      if (!(await changing(store.deleteEntitlement(id, clock.now())))) throw notFound(`entitlement ${id}`);
      forget(id);
    },
    async createGrant(entId: string, b: { amount: string; kind: Grant['kind']; priority: number; effective_at?: Date; expires_at?: Date | null; recurring?: PeriodUnit | null }) {
      await getEnt(entId);
      const now = clock.now();
      const g: Grant = { id: newId('grt'), entitlement_id: entId, kind: b.kind, amount: new Money(b.amount).toFixed(), priority: b.priority, effective_at: b.effective_at ?? now, expires_at: b.expires_at ?? null, recurring: b.recurring ?? null, voided_at: null, created_at: now };
      if (g.expires_at && g.expires_at <= g.effective_at) throw new ApiError({ type: 'invalid_request', code: 'INVALID_FIELD', message: 'expires_at must be after effective_at', param: 'expires_at' });
      await store.insertGrant(g);
      forget(entId);
      return g;
    },
    async voidGrant(entId: string, gid: string) {
      const g = await store.voidGrant(entId, gid, clock.now());
      if (!g) throw notFound(`grant ${gid}`);
      forget(entId);
      return g;
    },
  };
}
