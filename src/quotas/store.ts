import type { Queryable } from '../shared/db/index.ts';
import { Money } from '../shared/money.ts';
import type { GrantInput, GrantKind, Level } from './engine.ts';
import type { PeriodUnit, Weekday } from './periods.ts';
import { reservationStore } from './reservations-store.ts';

/** SQL of the quotas domain (migrations/0012_quotas.sql). Every multi-row change is one statement. */

export interface BudgetFilter {
  provider?: string;
  model?: string;
  project?: string;
  feature?: string;
}

export interface Entitlement {
  id: string;
  subject: string | null;
  team: string | null;
  api_key: string | null;
  meter: string;
  filter: BudgetFilter;
  period: PeriodUnit;
  tz: string;
  week_start: Weekday;
  thresholds: { warning: string; critical: string; block: string };
  purchase_url: string | null;
  enabled: boolean;
  level: Level;
  created_at: Date;
  updated_at: Date;
  /** The stats figures last written (`snap_*`), so an unchanged answer does not write them again. */
  figures?: { usage: string; available: string; purchased: string };
}

export interface Grant extends GrantInput {
  entitlement_id: string;
}

const iso = (v: unknown) => (v === null || v === undefined ? null : v instanceof Date ? v : new Date(v as string));
const num = (v: unknown) => String(v);

function entRow(r: any): Entitlement {
  return {
    id: r.id,
    subject: r.subject,
    team: r.team,
    api_key: r.api_key,
    meter: r.meter,
    filter: typeof r.filter === 'string' ? JSON.parse(r.filter) : (r.filter ?? {}),
    period: r.period,
    tz: r.tz,
    week_start: Number(r.week_start) as Weekday,
    thresholds: { warning: num(r.warning), critical: num(r.critical), block: num(r.block) },
    purchase_url: r.purchase_url,
    enabled: r.enabled,
    level: r.level,
    created_at: iso(r.created_at)!,
    updated_at: iso(r.updated_at)!,
    ...(r.snap_at ? { figures: { usage: num(r.snap_usage), available: num(r.snap_available), purchased: num(r.snap_purchased) } } : {}),
  };
}

function grantRow(r: any): Grant {
  return {
    id: r.id,
    entitlement_id: r.entitlement_id,
    kind: r.kind as GrantKind,
    amount: num(r.amount),
    priority: Number(r.priority),
    effective_at: iso(r.effective_at)!,
    expires_at: iso(r.expires_at),
    recurring: r.recurring,
    voided_at: iso(r.voided_at),
    created_at: iso(r.created_at)!,
  };
}

const ENT_COLS = 'id, subject, team, api_key, meter, filter, period, tz, week_start, warning, critical, block, purchase_url, enabled, level, created_at, updated_at, snap_usage, snap_available, snap_purchased, snap_at';

/** Entitlements, grants, levels and stats figures; the reservation statements come from reservations-store.ts. */
export function quotaStore(db: Queryable, opts: { asyncCommit?: boolean } = {}) {
  const commit = opts.asyncCommit ? 'off' : 'on';
  return { ...reservationStore(db, opts), ...entitlementSql(db), ...grantSql(db, commit) };
}

/** Entitlements: insert, get, list, the ones a caller falls under, update, delete, whether any is enabled. */
function entitlementSql(db: Queryable) {
  return {
    async insertEntitlement(e: Entitlement): Promise<void> {
      await db.query(
        `INSERT INTO quota_entitlements (id, subject, team, api_key, meter, filter, period, tz, week_start, warning, critical, block, purchase_url, enabled, created_at, updated_at)
         VALUES ($1,$2,$3,$4,$5,$6::jsonb,$7,$8,$9,$10,$11,$12,$13,$14,$15,$15)`,
        [e.id, e.subject, e.team, e.api_key, e.meter, JSON.stringify(e.filter), e.period, e.tz, e.week_start, e.thresholds.warning, e.thresholds.critical, e.thresholds.block, e.purchase_url, e.enabled, e.created_at],
      );
    },
    async getEntitlement(id: string): Promise<Entitlement | null> {
      const r = await db.query(`SELECT ${ENT_COLS} FROM quota_entitlements WHERE id = $1 AND deleted_at IS NULL`, [id]);
      return r.rows[0] ? entRow(r.rows[0]) : null;
    },
    async listEntitlements(q: { subject?: string | null; team?: string | null; api_key?: string | null; meter?: string; limit: number }): Promise<Entitlement[]> {
      const where = ['deleted_at IS NULL'];
      const params: unknown[] = [];
      for (const f of ['subject', 'team', 'api_key', 'meter'] as const) {
        const v = q[f];
        if (v) {
          params.push(v);
          where.push(`${f} = $${params.length}`);
        }
      }
      params.push(q.limit);
      const r = await db.query(`SELECT ${ENT_COLS} FROM quota_entitlements WHERE ${where.join(' AND ')} ORDER BY created_at, id LIMIT $${params.length}`, params);
      return r.rows.map(entRow);
    },
    /** Every enabled entitlement that a call by this subject, team or key falls under. */
    async entitlementsFor(who: { subject: string | null; team: string | null; api_key: string | null }): Promise<Entitlement[]> {
      const r = await db.query(
        `SELECT ${ENT_COLS} FROM quota_entitlements
          WHERE deleted_at IS NULL AND enabled AND (subject = $1 OR team = $2 OR api_key = $3)`,
        [who.subject, who.team, who.api_key],
        { prepare: 'quota_entitlements_for' },
      );
      return r.rows.map(entRow);
    },
    async updateEntitlement(id: string, patch: Partial<Pick<Entitlement, 'thresholds' | 'purchase_url' | 'enabled' | 'tz' | 'period' | 'week_start' | 'filter'>>, now: Date): Promise<Entitlement | null> {
      const sets: string[] = [];
      const params: unknown[] = [id];
      const set = (col: string, v: unknown, cast = '') => {
        params.push(v);
        sets.push(`${col} = $${params.length}${cast}`);
      };
      if (patch.thresholds) {
        set('warning', patch.thresholds.warning);
        set('critical', patch.thresholds.critical);
        set('block', patch.thresholds.block);
      }
      if (patch.purchase_url !== undefined) set('purchase_url', patch.purchase_url);
      if (patch.enabled !== undefined) set('enabled', patch.enabled);
      if (patch.tz !== undefined) set('tz', patch.tz);
      if (patch.period !== undefined) set('period', patch.period);
      if (patch.week_start !== undefined) set('week_start', patch.week_start);
      if (patch.filter !== undefined) set('filter', JSON.stringify(patch.filter), '::jsonb');
      set('updated_at', now);
      const r = await db.query(`UPDATE quota_entitlements SET ${sets.join(', ')} WHERE id = $1 AND deleted_at IS NULL RETURNING ${ENT_COLS}`, params);
      return r.rows[0] ? entRow(r.rows[0]) : null;
    },
    async deleteEntitlement(id: string, now: Date): Promise<boolean> {
      const r = await db.query(`UPDATE quota_entitlements SET deleted_at = $2, updated_at = $2 WHERE id = $1 AND deleted_at IS NULL`, [id, now]);
      return r.rowCount > 0;
    },
    /** Whether any entitlement is enabled at all (the gate's "none" answer): stops at the first such row. */
    async anyEnabledEntitlement(): Promise<boolean> {
      // ORDER BY id LIMIT 1, not EXISTS: the planner then reads migration 0019's partial index
      // (one page, empty exactly when the answer is no) instead of scanning every entitlement.
      const r = await db.query<{ id: string }>(`SELECT id FROM quota_entitlements WHERE enabled AND deleted_at IS NULL ORDER BY id LIMIT 1`, [], { prepare: 'quota_any_enabled' });
      return r.rows.length > 0;
    },
  };
}

/** Grants, the published level, the stats figures and the stats aggregate. */
function grantSql(db: Queryable, commit: string) {
  return {
    async insertGrant(g: Grant): Promise<void> {
      await db.query(
        `INSERT INTO quota_grants (id, entitlement_id, kind, amount, priority, effective_at, expires_at, recurring, created_at) VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9)`,
        [g.id, g.entitlement_id, g.kind, g.amount, g.priority, g.effective_at, g.expires_at, g.recurring, g.created_at],
      );
    },
    async grants(entitlementId: string): Promise<Grant[]> {
      const r = await db.query(`SELECT * FROM quota_grants WHERE entitlement_id = $1 ORDER BY created_at, id`, [entitlementId], { prepare: 'quota_grants_of' });
      return r.rows.map(grantRow);
    },
    async voidGrant(entitlementId: string, id: string, now: Date): Promise<Grant | null> {
      const r = await db.query(`UPDATE quota_grants SET voided_at = COALESCE(voided_at, $3) WHERE id = $1 AND entitlement_id = $2 RETURNING *`, [id, entitlementId, now]);
      return r.rows[0] ? grantRow(r.rows[0]) : null;
    },

    /** Records the level last published; true only for the one caller that changed it. */
    async setLevel(id: string, from: Level, to: Level): Promise<boolean> {
      const r = await db.query(`UPDATE quota_entitlements SET level = $3 WHERE id = $1 AND level = $2`, [id, from, to]);
      return r.rowCount > 0;
    },
    async snapshot(id: string, s: { usage: string; available: string; purchased: string; at: Date }): Promise<void> {
      await db.query(`UPDATE quota_entitlements SET snap_usage = $2, snap_available = $3, snap_purchased = $4, snap_at = $5 WHERE id = $1 AND set_config('synchronous_commit', $6, true) IS NOT NULL`, [id, s.usage, s.available, s.purchased, s.at, commit], { prepare: 'quota_snapshot' });
    },
    /** Seed 003's admin stats from the stored figures: one aggregate over the entitlements of a meter. */
    async stats(meter: string): Promise<{ overview: any; distribution: Array<{ bucket: string; subjects: number }>; top: any[] }> {
      const base = `FROM quota_entitlements WHERE deleted_at IS NULL AND meter = $1 AND subject IS NOT NULL`;
      const pct = `CASE WHEN snap_available > 0 THEN snap_usage / snap_available ELSE NULL END`;
      const [ov, dist, top] = await Promise.all([
        db.query<any>(
          `SELECT count(DISTINCT subject)::int AS subjects, count(DISTINCT subject) FILTER (WHERE snap_usage > 0)::int AS active_subjects,
                  COALESCE(sum(snap_usage), 0)::text AS used, COALESCE(sum(snap_purchased), 0)::text AS purchased,
                  COALESCE(round(avg(snap_usage), 6), 0)::text AS average_used ${base}`,
          [meter],
        ),
        db.query<any>(
          `SELECT b AS bucket, count(*)::int AS subjects FROM (
             SELECT CASE WHEN p IS NULL OR p < 0.5 THEN '<50%' WHEN p < 0.8 THEN '50-80%' WHEN p < 0.9 THEN '80-90%' WHEN p < 0.95 THEN '90-95%' ELSE '>=95%' END AS b
               FROM (SELECT ${pct} AS p ${base}) q) s GROUP BY b`,
          [meter],
        ),
        db.query<any>(
          `SELECT subject, snap_usage::text AS used, snap_available::text AS available, round(${pct}, 6)::text AS percent ${base}
            ORDER BY snap_usage DESC, subject LIMIT 100`,
          [meter],
        ),
      ]);
      const counts = new Map(dist.rows.map((r) => [r.bucket, r.subjects]));
      return {
        overview: ov.rows[0],
        distribution: ['<50%', '50-80%', '80-90%', '90-95%', '>=95%'].map((b) => ({ bucket: b, subjects: counts.get(b) ?? 0 })),
        top: top.rows.map((r) => ({ ...r, percent: r.percent === null ? null : String(Number(r.percent)) === r.percent ? r.percent : new Money(r.percent).toFixed() })),
      };
    },
  };
}


export type QuotaStore = ReturnType<typeof quotaStore>;
