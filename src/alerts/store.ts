import type { Queryable } from '../shared/db/index.ts';
import type { Channel, Firing, Rule, RuleFilter, RuleType } from './types.ts';

/** SQL of the alerts domain (migrations/0015_alerts.sql). */

interface RuleRow {
  id: string;
  name: string;
  on: RuleType;
  filter: RuleFilter;
  condition: Record<string, unknown>;
  channels: Channel[];
  dedup_window_s: number | null;
  throttle_s: number | null;
  enabled: boolean;
  created_at: Date | string;
  updated_at: Date | string;
}

const iso = (v: Date | string | null): string | null => (v === null ? null : new Date(v).toISOString());

function ruleOf(r: RuleRow): Rule {
  return {
    id: r.id,
    name: r.name,
    on: r.on,
    filter: r.filter ?? {},
    condition: r.condition ?? {},
    channels: r.channels,
    dedup_window_s: r.dedup_window_s === null ? null : Number(r.dedup_window_s),
    throttle_s: r.throttle_s === null ? null : Number(r.throttle_s),
    enabled: r.enabled,
    created_at: iso(r.created_at)!,
    updated_at: iso(r.updated_at)!,
  };
}

const RULE_COLS = `id, name, "on", filter, condition, channels, dedup_window_s, throttle_s, enabled, created_at, updated_at`;

export async function insertRule(q: Queryable, r: Rule): Promise<void> {
  await q.query(`INSERT INTO alert_rules (${RULE_COLS}) VALUES ($1, $2, $3, $4::jsonb, $5::jsonb, $6::jsonb, $7, $8, $9, $10, $11)`, [
    r.id,
    r.name,
    r.on,
    JSON.stringify(r.filter),
    JSON.stringify(r.condition),
    JSON.stringify(r.channels),
    r.dedup_window_s,
    r.throttle_s,
    r.enabled,
    r.created_at,
    r.updated_at,
  ]);
}

export async function updateRule(q: Queryable, r: Rule): Promise<void> {
  await q.query(
    `UPDATE alert_rules SET name = $2, "on" = $3, filter = $4::jsonb, condition = $5::jsonb, channels = $6::jsonb, dedup_window_s = $7, throttle_s = $8, enabled = $9, updated_at = $10 WHERE id = $1`,
    [r.id, r.name, r.on, JSON.stringify(r.filter), JSON.stringify(r.condition), JSON.stringify(r.channels), r.dedup_window_s, r.throttle_s, r.enabled, r.updated_at],
  );
}

export async function deleteRule(q: Queryable, id: string): Promise<boolean> {
  return (await q.query(`DELETE FROM alert_rules WHERE id = $1`, [id])).rowCount > 0;
}

export async function listRules(q: Queryable): Promise<Rule[]> {
  return (await q.query<RuleRow>(`SELECT ${RULE_COLS} FROM alert_rules ORDER BY created_at, id`)).rows.map(ruleOf);
}

export async function getRule(q: Queryable, id: string): Promise<Rule | null> {
  const r = (await q.query<RuleRow>(`SELECT ${RULE_COLS} FROM alert_rules WHERE id = $1`, [id])).rows[0];
  return r ? ruleOf(r) : null;
}

/**
 * Throttle: one conditional UPDATE of the rule's last firing time. Row locks make concurrent
 * deciders (any process) queue on it, and the loser re-reads the winner's time and is refused.
 */
export async function passThrottle(tx: Queryable, ruleId: string, throttleS: number, now: Date): Promise<boolean> {
  const r = await tx.query(`UPDATE alert_rules SET last_fired_at = $2 WHERE id = $1 AND (last_fired_at IS NULL OR last_fired_at <= $3)`, [
    ruleId,
    now.toISOString(),
    new Date(now.getTime() - throttleS * 1000).toISOString(),
  ]);
  return r.rowCount > 0;
}

export async function touchLastFired(tx: Queryable, ruleId: string, now: Date): Promise<void> {
  await tx.query(`UPDATE alert_rules SET last_fired_at = $2 WHERE id = $1`, [ruleId, now.toISOString()]);
}

/**
 * Dedup: claims (rule, key) unless it was claimed within the window. ON CONFLICT DO UPDATE … WHERE
 * is atomic under concurrency: a second claimer waits for the first's row and sees its time.
 */
export async function claimDedup(tx: Queryable, ruleId: string, key: string, firingId: string, now: Date, windowS: number): Promise<boolean> {
  const r = await tx.query(
    `INSERT INTO alert_dedup (rule_id, key, fired_at, firing_id) VALUES ($1, $2, $3, $4)
     ON CONFLICT (rule_id, key) DO UPDATE SET fired_at = excluded.fired_at, firing_id = excluded.firing_id
       WHERE alert_dedup.fired_at <= $5
     RETURNING firing_id`,
    [ruleId, key, now.toISOString(), firingId, new Date(now.getTime() - windowS * 1000).toISOString()],
  );
  return r.rows.length > 0;
}

export async function insertFiring(tx: Queryable, f: Firing): Promise<void> {
  await tx.query(
    `INSERT INTO alert_firings (id, rule_id, rule_name, type, subject, team, level, period, value, threshold, payload, test, occurred_at, created_at)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11::jsonb, $12, $13, $14)`,
    [f.id, f.rule_id, f.rule_name, f.type, f.subject, f.team, f.level, f.period, f.value, f.threshold, JSON.stringify({ title: f.title, details: f.details }), f.test, f.occurred_at, f.created_at],
  );
}

export const channelTarget = (c: Channel): string | null => (c.type === 'email' ? c.to.join(', ') : c.type === 'webhook' ? c.url : null);

/** The outbox rows of a firing: pending for e-mail and webhooks; in-app is written here, so it is sent. */
export async function insertDeliveries(tx: Queryable, firingId: string, channels: Channel[], now: Date): Promise<void> {
  for (let i = 0; i < channels.length; i++) {
    const c = channels[i]!;
    const local = c.type === 'in_app';
    const r = await tx.query<{ id: string }>(
      `INSERT INTO alert_deliveries (firing_id, channel, channel_type, target, status, attempts, next_attempt_at, sent_at)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING id`,
      [firingId, i, c.type, channelTarget(c), local ? 'sent' : 'pending', local ? 1 : 0, now.toISOString(), local ? now.toISOString() : null],
    );
    if (local) await tx.query(`INSERT INTO alert_delivery_attempts (delivery_id, attempt, at, ok, duration_ms) VALUES ($1, 1, $2, true, 0)`, [r.rows[0]!.id, now.toISOString()]);
  }
}

export async function insertNotification(
  tx: Queryable,
  n: { id: string; firing: Firing; body: string; data: Record<string, unknown> },
): Promise<void> {
  const f = n.firing;
  await tx.query(
    `INSERT INTO notifications (id, firing_id, rule_id, subject, team, type, level, title, body, data, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10::jsonb, $11)`,
    [n.id, f.id, f.rule_id, f.subject, f.team, f.type, f.level, f.title, n.body, JSON.stringify(n.data), f.created_at],
  );
}

/** A row of alert_firings: the firing's columns, its title and details in `payload`. */
type FiringRow = Omit<Firing, 'occurred_at' | 'created_at' | 'title' | 'details'> & {
  payload: { title: string; details: Record<string, unknown> };
  occurred_at: Date | string;
  created_at: Date | string;
};

export function firingOf(r: FiringRow): Firing {
  return {
    id: r.id,
    rule_id: r.rule_id,
    rule_name: r.rule_name,
    type: r.type,
    subject: r.subject,
    team: r.team,
    level: r.level,
    period: r.period,
    value: r.value,
    threshold: r.threshold,
    occurred_at: iso(r.occurred_at)!,
    created_at: iso(r.created_at)!,
    test: r.test,
    title: r.payload.title,
    details: r.payload.details ?? {},
  };
}

export interface ClaimedDelivery {
  id: string;
  channel: number;
  channel_type: 'email' | 'webhook';
  attempts: number;
  firing: Firing;
  /** The rule's channel as it is now (secret included); null when the rule is gone. */
  spec: Channel | null;
}

/**
 * Claims due outbox rows for this process: a lease (claimed_until) instead of a held transaction,
 * so sending happens outside any transaction and a process that dies mid-send is taken over once
 * the lease lapses. SKIP LOCKED keeps two claimers off the same rows.
 */
export async function claimDue(q: Queryable, now: Date, leaseS: number, limit: number, firingId?: string): Promise<ClaimedDelivery[]> {
  const rows = await q.query<FiringRow & { d_id: string; channel: number; channel_type: 'email' | 'webhook'; attempts: number; channels: Channel[] | null }>(
    `WITH due AS (
       SELECT id FROM alert_deliveries
        WHERE status = 'pending' AND next_attempt_at <= $1 AND (claimed_until IS NULL OR claimed_until <= $1)
          ${firingId ? 'AND firing_id = $4' : ''}
        ORDER BY next_attempt_at, id LIMIT $3
        FOR UPDATE SKIP LOCKED
     ), claimed AS (
       UPDATE alert_deliveries d SET claimed_until = $2 FROM due WHERE d.id = due.id
       RETURNING d.id, d.firing_id, d.channel, d.channel_type, d.attempts
     )
     SELECT c.id AS d_id, c.channel, c.channel_type, c.attempts, f.*, r.channels
       FROM claimed c JOIN alert_firings f ON f.id = c.firing_id LEFT JOIN alert_rules r ON r.id = f.rule_id
      ORDER BY c.id`,
    [now.toISOString(), new Date(now.getTime() + leaseS * 1000).toISOString(), limit, ...(firingId ? [firingId] : [])],
  );
  return rows.rows.map((r) => ({
    id: String(r.d_id),
    channel: Number(r.channel),
    channel_type: r.channel_type,
    attempts: Number(r.attempts),
    firing: firingOf(r),
    spec: r.channels?.[Number(r.channel)] ?? null,
  }));
}

/** Logs one attempt and counts it on the delivery, in one statement; returns its number. */
export async function logAttempt(q: Queryable, deliveryId: string, a: { at: Date; ok: boolean; status_code?: number | null; error?: string | null; duration_ms: number }): Promise<number> {
  const r = await q.query<{ attempt: number }>(
    `WITH u AS (UPDATE alert_deliveries SET attempts = attempts + 1, last_error = $5 WHERE id = $1 RETURNING attempts)
     INSERT INTO alert_delivery_attempts (delivery_id, attempt, at, ok, status_code, error, duration_ms)
     SELECT $1, u.attempts, $2, $3, $4, $5, $6 FROM u RETURNING attempt`,
    [deliveryId, a.at.toISOString(), a.ok, a.status_code ?? null, a.error ?? null, Math.round(a.duration_ms)],
  );
  return Number(r.rows[0]?.attempt ?? 0);
}

export async function markSent(q: Queryable, deliveryId: string, now: Date): Promise<void> {
  await q.query(`UPDATE alert_deliveries SET status = 'sent', sent_at = $2, claimed_until = NULL, last_error = NULL WHERE id = $1`, [deliveryId, now.toISOString()]);
}

export async function markRetry(q: Queryable, deliveryId: string, next: Date, failed: boolean): Promise<void> {
  await q.query(`UPDATE alert_deliveries SET status = $3, next_attempt_at = $2, claimed_until = NULL WHERE id = $1`, [deliveryId, next.toISOString(), failed ? 'failed' : 'pending']);
}

export interface HistoryDelivery {
  channel: number;
  type: string;
  target: string | null;
  status: string;
  attempts: number;
  last_error: string | null;
  sent_at: string | null;
  attempt_log: Array<{ attempt: number; at: string; ok: boolean; status_code: number | null; error: string | null; duration_ms: number }>;
}

export async function history(q: Queryable, p: { rule_id?: string; from?: Date; to?: Date; limit: number; test?: boolean; ids?: string[] }): Promise<Array<Firing & { deliveries: HistoryDelivery[] }>> {
  const where: string[] = [];
  const params: unknown[] = [];
  if (p.rule_id) where.push(`rule_id = $${params.push(p.rule_id)}`);
  if (p.from) where.push(`created_at >= $${params.push(p.from.toISOString())}`);
  if (p.to) where.push(`created_at < $${params.push(p.to.toISOString())}`);
  if (p.test === false) where.push(`NOT test`);
  if (p.ids) where.push(`id = ANY($${params.push(p.ids)}::text[])`);
  const firings = (await q.query<FiringRow>(`SELECT * FROM alert_firings ${where.length ? 'WHERE ' + where.join(' AND ') : ''} ORDER BY created_at DESC, id DESC LIMIT $${params.push(p.limit)}`, params)).rows;
  if (!firings.length) return [];
  const ds = (
    await q.query<{ id: string; firing_id: string; channel: number; channel_type: string; target: string | null; status: string; attempts: number; last_error: string | null; sent_at: Date | null }>(
      `SELECT id, firing_id, channel, channel_type, target, status, attempts, last_error, sent_at FROM alert_deliveries WHERE firing_id = ANY($1::text[]) ORDER BY firing_id, channel`,
      [firings.map((f) => f.id)],
    )
  ).rows;
  const atts = ds.length
    ? (
        await q.query<{ delivery_id: string; attempt: number; at: Date; ok: boolean; status_code: number | null; error: string | null; duration_ms: number }>(
          `SELECT delivery_id, attempt, at, ok, status_code, error, duration_ms FROM alert_delivery_attempts WHERE delivery_id = ANY($1::bigint[]) ORDER BY delivery_id, attempt`,
          [ds.map((d) => d.id)],
        )
      ).rows
    : [];
  const byDelivery = new Map<string, HistoryDelivery['attempt_log']>();
  for (const a of atts) {
    const k = String(a.delivery_id);
    if (!byDelivery.has(k)) byDelivery.set(k, []);
    byDelivery.get(k)!.push({ attempt: Number(a.attempt), at: iso(a.at)!, ok: a.ok, status_code: a.status_code === null ? null : Number(a.status_code), error: a.error, duration_ms: Number(a.duration_ms) });
  }
  const byFiring = new Map<string, HistoryDelivery[]>();
  for (const d of ds) {
    if (!byFiring.has(d.firing_id)) byFiring.set(d.firing_id, []);
    byFiring.get(d.firing_id)!.push({
      channel: Number(d.channel),
      type: d.channel_type,
      target: d.target,
      status: d.status,
      attempts: Number(d.attempts),
      last_error: d.last_error,
      sent_at: iso(d.sent_at),
      attempt_log: byDelivery.get(String(d.id)) ?? [],
    });
  }
  return firings.map((f) => ({ ...firingOf(f), deliveries: byFiring.get(f.id) ?? [] }));
}

export interface NotificationRow {
  id: string;
  firing_id: string;
  rule_id: string;
  subject: string | null;
  team: string | null;
  type: string;
  level: string | null;
  title: string;
  body: string;
  data: Record<string, unknown>;
  created_at: string;
  read_at: string | null;
}

export async function listNotifications(q: Queryable, p: { subject?: string; team?: string; unread?: boolean; limit: number; before?: Date }): Promise<NotificationRow[]> {
  const where: string[] = [];
  const params: unknown[] = [];
  if (p.subject !== undefined) where.push(`subject = $${params.push(p.subject)}`);
  if (p.team !== undefined) where.push(`team = $${params.push(p.team)}`);
  if (p.unread) where.push(`read_at IS NULL`);
  if (p.before) where.push(`created_at < $${params.push(p.before.toISOString())}`);
  const rows = await q.query<NotificationRow & { created_at: Date; read_at: Date | null }>(
    `SELECT id, firing_id, rule_id, subject, team, type, level, title, body, data, created_at, read_at FROM notifications ${where.length ? 'WHERE ' + where.join(' AND ') : ''}
      ORDER BY created_at DESC, id DESC LIMIT $${params.push(p.limit)}`,
    params,
  );
  return rows.rows.map((r) => ({ ...r, created_at: iso(r.created_at)!, read_at: iso(r.read_at) }));
}

export async function getNotification(q: Queryable, id: string): Promise<NotificationRow | null> {
  const r = (await q.query<NotificationRow & { created_at: Date; read_at: Date | null }>(`SELECT * FROM notifications WHERE id = $1`, [id])).rows[0];
  return r ? { ...r, created_at: iso(r.created_at)!, read_at: iso(r.read_at) } : null;
}

export async function markRead(q: Queryable, id: string, now: Date): Promise<void> {
  await q.query(`UPDATE notifications SET read_at = COALESCE(read_at, $2) WHERE id = $1`, [id, now.toISOString()]);
}
