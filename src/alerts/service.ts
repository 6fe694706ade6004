import { randomBytes } from 'node:crypto';
import pRetry from 'p-retry';
import { Decimal } from 'decimal.js';
import { z } from 'zod';
import type { Db, Queryable } from '../shared/db/index.ts';
import type { Clock } from '../shared/clock.ts';
import type { Logger } from '../shared/log.ts';
import type { Signal } from '../shared/signals.ts';
import type { StoredEvent } from '../events/types.ts';
import { ApiError, badRequest, notFound } from '../shared/errors.ts';
import { startOf, startOfNext } from '../shared/time.ts';
import { canReadRow, scopeReadOne } from '../auth/binding.ts';
import type { Binding } from '../rollups/service.ts';
import type { AlertsConfig } from './config.ts';
import { parseAllowList, checkTarget, type AllowList } from './netguard.ts';
import { postWebhook, SendError, smtpMailer, type Mailer } from './channels.ts';
import { renderEmail, signatureHeader, webhookBody } from './message.ts';
import { projectCrossing, type Projection, type UsageForecaster } from './forecast.ts';
import {
  anomalyCandidate,
  budgetCandidates,
  budgetFilters,
  collectorCandidate,
  dedupKey,
  effectiveDedupWindow,
  entitlementMatches,
  forecastBudgetCandidate,
  forecastEntitlementCandidate,
  levelCandidate,
  parseCondition,
  reconciliationCandidate,
} from './evaluate.ts';
import * as store from './store.ts';
import {
  ruleInput,
  rulePatch,
  type BudgetCondition,
  type Candidate,
  type Channel,
  type EntitlementSource,
  type Firing,
  type ForecastCondition,
  type Rule,
  type RuleInput,
} from './types.ts';

const DAY_MS = 86_400_000;

/** The alerts domain's read-only port onto meters (adapted from the MeterService in index.ts). */
export interface MeterReader {
  /** Event types whose arrival can change the meter (null: unknown meter). */
  eventTypes(slug: string): Promise<string[] | null>;
  /** The meter's total over [from, to). Decimal string. */
  total(slug: string, from: Date, to: Date, tz: string, filters: Record<string, string[]>): Promise<string>;
  /** The meter's total over [from, to) per value of one group (rules that differ only in it share a query). */
  totalsBy(slug: string, from: Date, to: Date, tz: string, filters: Record<string, string[]>, group: string): Promise<Map<string, string>>;
  /** The meter per local day over [from, to), oldest first. */
  daily(slug: string, from: Date, to: Date, tz: string, filters: Record<string, string[]>): Promise<string[]>;
  /** The same, dated (local day), for a wired forecaster. */
  dailyByDay?(slug: string, from: Date, to: Date, tz: string, filters: Record<string, string[]>): Promise<Array<{ day: string; usage: string }>>;
}

export interface AlertDeps {
  db: Db;
  clock: Clock;
  logger: Logger;
  config: AlertsConfig;
  /** Report zone: budgets' periods when the rule names none. */
  tz: string;
  dashboardUrl: string;
  meters?: MeterReader;
  entitlements?: EntitlementSource;
  mailer?: Mailer;
  /** forecast.exceeds: a model given at wiring time (analysis's forecast); the linear projection when absent or when it declines. */
  forecaster?: UsageForecaster;
}

export interface DeliveryReport {
  sent: number;
  retrying: number;
  failed: number;
}

export type RuleOut = Omit<Rule, 'channels'> & { channels: Array<Record<string, unknown>>; effective_dedup_window_s: number };

export interface AlertService {
  createRule(body: unknown): Promise<{ rule: RuleOut; secrets: Record<number, string> }>;
  listRules(): Promise<RuleOut[]>;
  getRule(id: string): Promise<RuleOut>;
  updateRule(id: string, body: unknown): Promise<{ rule: RuleOut; secrets: Record<number, string> }>;
  deleteRule(id: string): Promise<void>;
  /** Arrival-time evaluation of a domain signal; resolves with what fired. */
  onSignal(s: Signal): Promise<Firing[]>;
  /** After an ingest commit: marks budget rules whose meters the rows touch (evaluated after a short delay). */
  onIngest(rows: StoredEvent[]): void;
  /** Evaluates the marked budget rules now. */
  flush(): Promise<Firing[]>;
  /** Re-reads durable state (entitlements, meter totals) and fires what is due; then sends. */
  sweep(now?: Date): Promise<{ fired: number; delivered: DeliveryReport }>;
  /** Sends every due outbox row this process can claim. */
  deliverDue(now?: Date): Promise<DeliveryReport>;
  test(ruleId: string): Promise<{ firing_id: string; deliveries: store.HistoryDelivery[] }>;
  history(q: { rule_id?: string; from?: Date; to?: Date; limit: number; include_tests?: boolean }): Promise<Array<Firing & { deliveries: store.HistoryDelivery[] }>>;
  listNotifications(q: { subject?: string; unread?: boolean; limit: number; before?: Date }, bind: Binding): Promise<store.NotificationRow[]>;
  readNotification(id: string, bind: Binding): Promise<store.NotificationRow>;
  setEntitlementSource(src: EntitlementSource | undefined): void;
  /** Test seams: run after a decision commits and before anything is sent. */
  hooks: { afterDecide: Array<(fired: Firing[]) => void | Promise<void>> };
  start(): void;
  close(): Promise<void>;
}

/** Event types, where "media.track.*" stands for every type under media.track. */
function typeMatcher(patterns: string[]): (t: string) => boolean {
  const exact = new Set(patterns.filter((p) => !p.endsWith('*')));
  const prefixes = patterns.filter((p) => p.endsWith('*')).map((p) => p.slice(0, -1));
  return (t) => exact.has(t) || prefixes.some((p) => t.startsWith(p));
}

const newId = (prefix: string) => prefix + randomBytes(12).toString('base64url');

class Skip extends Error {}

function ruleOut(r: Rule): RuleOut {
  return {
    ...r,
    effective_dedup_window_s: effectiveDedupWindow(r),
    channels: r.channels.map((c) => (c.type === 'webhook' ? { type: 'webhook', url: c.url, secret: `${c.secret.slice(0, 6)}…` } : { ...c })),
  };
}

function zodMessage(e: z.ZodError, prefix: string): ApiError {
  const i = e.issues[0]!;
  const path = [prefix, ...i.path.map(String)].filter(Boolean).join('.');
  return badRequest('INVALID_FIELD', `${path ? `"${path}" ` : ''}${i.message}`, path || undefined);
}

/** A sample of what the rule would send, for POST /v1/alerts/rules/:id/test. */
/** The firing a candidate becomes (`test`: a sample from POST /rules/:id/test, never deduplicated). */
function firingOf(c: Candidate, now: Date, test: boolean): Firing {
  return {
    id: newId('fir_'),
    rule_id: c.rule.id,
    rule_name: c.rule.name,
    type: c.rule.on,
    subject: c.subject,
    team: c.team,
    level: c.level,
    period: c.period,
    value: c.value,
    threshold: c.threshold,
    occurred_at: c.occurred_at,
    created_at: now.toISOString(),
    test,
    title: c.title,
    details: c.details,
  };
}

function sampleCandidate(rule: Rule, now: Date): Candidate {
  const at = now.toISOString();
  const subject = rule.filter.subject ?? 'sample-user';
  const base = { rule, subject, team: rule.filter.team ?? null, occurred_at: at, period: 'test', level: null as string | null };
  const meter = (rule.condition.meter as string | undefined) ?? rule.filter.meter ?? 'llm_tokens';
  switch (rule.on) {
    case 'budget.amount': {
      const amount = String(rule.condition.amount ?? '100');
      return { ...base, value: amount, threshold: amount, title: `Test: budget "${rule.name}" reached ${amount} ${meter}`, details: { meter, amount, percent: '1' } };
    }
    case 'forecast.exceeds':
      return {
        ...base,
        value: '70000',
        threshold: '105000',
        title: `Test: ${subject} is projected to reach the ${meter} limit on ${new Date(now.getTime() + 7 * DAY_MS).toISOString().slice(0, 10)}`,
        details: { meter, projected_at: new Date(now.getTime() + 7 * DAY_MS).toISOString(), projected_total: '150000' },
      };
    case 'collector.failure':
      return { ...base, subject: null, value: null, threshold: null, title: 'Test: collector sample failed', details: { collector: rule.filter.collector ?? 'openai', error: 'sample error' } };
    case 'reconciliation.mismatch':
      return { ...base, subject: null, value: '10.00', threshold: '12.00', title: 'Test: reconciliation mismatch', details: { provider: rule.filter.provider ?? 'openai' } };
    case 'anomaly':
      return { ...base, value: '120', threshold: '40', title: 'Test: anomaly', details: { measure: rule.filter.measure ?? 'cost', score: 5 } };
    default:
      return {
        ...base,
        level: 'warning',
        value: '90000',
        threshold: '100000',
        title: `Test: ${subject} reached warning: 90 % of ${meter} used (90,000 of 100,000)`,
        details: { meter, percent: '0.9', available: '100000', resets_at: startOfNext('UTC', 'month', now).toISOString() },
      };
  }
}

export function alertService(d: AlertDeps): AlertService {
  const { db, clock, logger, config } = d;
  const allow: AllowList = parseAllowList(config.webhook_allowed_hosts);
  const mailer: Mailer | undefined = d.mailer ?? (config.smtp_url ? smtpMailer(config.smtp_url, config.smtp_from) : undefined);
  let entitlements = d.entitlements;
  const hooks: AlertService['hooks'] = { afterDecide: [] };

  // --- rules cache (this process's changes invalidate it; others' show within CACHE_MS) ---
  const CACHE_MS = config.rules_cache_ms;
  let cache: { at: number; rules: Rule[]; budgets: Array<{ rule: Rule; types: (t: string) => boolean }> } | undefined;
  let loading: Promise<Rule[]> | undefined;
  const invalidate = () => {
    cache = undefined;
  };
  async function rules(): Promise<Rule[]> {
    if (cache && performance.now() - cache.at < CACHE_MS) return cache.rules;
    loading ??= (async () => {
      try {
        const all = (await store.listRules(db)).filter((r) => r.enabled);
        const budgets: Array<{ rule: Rule; types: (t: string) => boolean }> = [];
        for (const r of all) {
          if (r.on !== 'budget.amount' || !d.meters) continue;
          const types = await d.meters.eventTypes(String(r.condition.meter)).catch(() => null);
          if (types) budgets.push({ rule: r, types: typeMatcher(types) });
        }
        cache = { at: performance.now(), rules: all, budgets };
        return all;
      } finally {
        loading = undefined;
      }
    })();
    return loading;
  }

  async function validateRule(input: RuleInput, existing?: Rule): Promise<{ rule: Rule; secrets: Record<number, string> }> {
    let condition: Record<string, unknown>;
    try {
      condition = parseCondition(input.on, input.condition);
    } catch (e) {
      if (e instanceof z.ZodError) throw zodMessage(e, 'condition');
      throw e;
    }
    if ((input.on === 'budget.amount' || (input.on === 'forecast.exceeds' && condition.amount)) && d.meters) {
      const meter = String(condition.meter);
      if (!(await d.meters.eventTypes(meter))) throw badRequest('UNKNOWN_METER', `meter "${meter}" does not exist (GET /v1/meters lists them)`, 'condition.meter');
    }
    const secrets: Record<number, string> = {};
    const channels: Channel[] = [];
    for (let i = 0; i < input.channels.length; i++) {
      const c = input.channels[i]!;
      if (c.type === 'webhook') {
        const why = await checkTarget(c.url, allow);
        if (why) throw badRequest('WEBHOOK_TARGET_REFUSED', why, `channels.${i}.url`);
        const kept = existing?.channels.find((o): o is Extract<Channel, { type: 'webhook' }> => o.type === 'webhook' && o.url === c.url);
        const secret = c.secret ?? kept?.secret ?? 'whsec_' + randomBytes(24).toString('base64url');
        if (!c.secret && !kept) secrets[i] = secret;
        channels.push({ type: 'webhook', url: c.url, secret });
      } else if (c.type === 'email') {
        if (!mailer) throw badRequest('SMTP_NOT_CONFIGURED', 'e-mail channels need SMTP_URL (or alerts.smtp_url) to be set', `channels.${i}`);
        channels.push({ type: 'email', to: c.to });
      } else channels.push({ type: 'in_app' });
    }
    const now = clock.now().toISOString();
    return {
      rule: {
        id: existing?.id ?? newId('rule_'),
        name: input.name,
        on: input.on,
        filter: input.filter ?? {},
        condition,
        channels,
        dedup_window_s: input.dedup_window_s ?? null,
        throttle_s: input.throttle_s ?? null,
        enabled: input.enabled ?? true,
        created_at: existing?.created_at ?? now,
        updated_at: now,
      },
      secrets,
    };
  }

  function parseInput<T>(schema: z.ZodType<T>, body: unknown): T {
    const r = schema.safeParse(body);
    if (!r.success) throw zodMessage(r.error, '');
    return r.data;
  }

  // --- deciding: dedup + throttle + firing + outbox, one transaction per candidate ---
  async function decide(candidates: Candidate[], now = clock.now()): Promise<Firing[]> {
    const fired: Firing[] = [];
    for (const c of candidates) {
      const f = firingOf(c, now, false);
      try {
        await db.transaction(async (tx) => {
          if (!(await store.claimDedup(tx, c.rule.id, dedupKey(c), f.id, now, effectiveDedupWindow(c.rule)))) throw new Skip();
          if (c.rule.throttle_s) {
            if (!(await store.passThrottle(tx, c.rule.id, c.rule.throttle_s, now))) throw new Skip();
          } else await store.touchLastFired(tx, c.rule.id, now);
          await record(tx, f, c.rule.channels, now);
        });
        fired.push(f);
      } catch (e) {
        if (e instanceof Skip) continue;
        // A rule deleted meanwhile: its dedup row's foreign key refuses the claim.
        if ((e as { code?: string }).code === '23503') continue;
        throw e;
      }
    }
    if (fired.length) {
      logger.info({ firings: fired.map((f) => f.id) }, `alerts: ${fired.length} firing(s)`);
      for (const h of hooks.afterDecide) await h(fired);
      if (config.delivery.on_decide) void deliverDue().catch((err) => logger.warn({ err }, 'alerts: delivery pass failed'));
    }
    return fired;
  }

  async function record(tx: Queryable, f: Firing, channels: Channel[], now: Date) {
    await store.insertFiring(tx, f);
    await store.insertDeliveries(tx, f.id, channels, now);
    if (channels.some((c) => c.type === 'in_app')) {
      const lines = renderEmail(f, d.dashboardUrl).text;
      await store.insertNotification(tx, {
        id: newId('ntf_'),
        firing: f,
        body: lines,
        data: { ...f.details, value: f.value, threshold: f.threshold, occurred_at: f.occurred_at },
      });
    }
  }

  // --- sending ---
  let chain: Promise<unknown> = Promise.resolve();
  function deliverDue(now?: Date, firingId?: string): Promise<DeliveryReport> {
    const run = chain.then(() => deliverPass(now ?? clock.now(), firingId));
    chain = run.catch(() => {});
    return run;
  }

  async function deliverPass(now: Date, firingId?: string): Promise<DeliveryReport> {
    const out: DeliveryReport = { sent: 0, retrying: 0, failed: 0 };
    for (;;) {
      const claimed = await store.claimDue(db, now, config.delivery.lease_s, 50, firingId);
      if (!claimed.length) return out;
      const results = await Promise.all(claimed.map((c) => sendOne(c, now)));
      for (const r of results) out[r]++;
    }
  }

  async function attemptOnce(c: store.ClaimedDelivery): Promise<void> {
    const spec = c.spec;
    const started = performance.now();
    const at = clock.now();
    try {
      if (!spec || spec.type !== c.channel_type) throw new SendError('the rule or this channel was deleted or changed since the firing', null, true);
      if (spec.type === 'webhook') {
        const body = JSON.stringify(webhookBody(c.firing, d.dashboardUrl));
        const t = Math.floor(clock.now().getTime() / 1000);
        const r = await postWebhook({
          url: spec.url,
          body,
          allow,
          timeoutMs: config.delivery.timeout_ms,
          headers: { 'x-tollgate-signature': signatureHeader(spec.secret, body, t), 'x-tollgate-firing-id': c.firing.id },
        });
        await store.logAttempt(db, c.id, { at, ok: true, status_code: r.status, duration_ms: performance.now() - started });
      } else if (spec.type === 'email') {
        if (!mailer) throw new SendError('SMTP_URL is not set');
        const m = renderEmail(c.firing, d.dashboardUrl);
        await mailer.send({ to: spec.to, ...m, headers: { 'X-Tollgate-Firing-Id': c.firing.id } });
        await store.logAttempt(db, c.id, { at, ok: true, duration_ms: performance.now() - started });
      }
    } catch (e) {
      const err = e instanceof SendError ? e : new SendError((e as Error).message ?? String(e));
      await store.logAttempt(db, c.id, { at, ok: false, status_code: err.statusCode, error: err.message.slice(0, 1000), duration_ms: performance.now() - started });
      throw err;
    }
  }

  async function sendOne(c: store.ClaimedDelivery, now: Date): Promise<keyof DeliveryReport> {
    const left = config.delivery.max_attempts - c.attempts;
    let tries = 0;
    try {
      await pRetry(
        async () => {
          tries++;
          await attemptOnce(c);
        },
        {
          retries: Math.max(0, Math.min(config.delivery.retries, left - 1)),
          minTimeout: config.delivery.min_timeout_ms,
          factor: 2,
          randomize: false,
          shouldRetry: ({ error }) => !(error instanceof SendError && error.permanent),
        },
      );
      await store.markSent(db, c.id, clock.now());
      return 'sent';
    } catch (e) {
      const total = c.attempts + tries;
      const permanent = e instanceof SendError && e.permanent;
      const giveUp = permanent || total >= config.delivery.max_attempts;
      // Later rounds back off from a minute, doubling, up to an hour.
      const wait = Math.min(60_000 * 2 ** Math.max(0, Math.floor(total / Math.max(1, config.delivery.retries + 1)) - 1), 3_600_000);
      await store.markRetry(db, c.id, new Date(now.getTime() + wait), giveUp);
      logger.warn({ firing: c.firing.id, channel: c.channel, err: (e as Error).message }, giveUp ? 'alerts: delivery failed for good' : 'alerts: delivery will be retried');
      return giveUp ? 'failed' : 'retrying';
    }
  }

  // --- evaluation ---
  const dirty = new Set<string>();
  let flushTimer: NodeJS.Timeout | undefined;

  function periodOf(period: 'day' | 'week' | 'month', tz: string, now: Date) {
    return { start: startOf(tz, period, now), end: startOfNext(tz, period, now) };
  }

  /**
   * Budget candidates for these rules. Rules reading the same total share one query, and rules
   * that differ only in their subject filter share one query grouped by subject, so 1,000
   * per-user budgets cost one round trip, not 1,000.
   */
  async function budgetEval(list: Rule[], now: Date): Promise<Candidate[]> {
    const meters = d.meters;
    if (!meters || !list.length) return [];
    const groups = new Map<string, { c: BudgetCondition; tz: string; p: { start: Date; end: Date }; filters: Record<string, string[]>; rules: Rule[] }>();
    for (const r of list) {
      const c = r.condition as BudgetCondition;
      const tz = c.tz ?? d.tz;
      const p = periodOf(c.period, tz, now);
      const { subject: _s, ...filters } = budgetFilters(r.filter);
      const k = JSON.stringify([c.meter, tz, p.start.getTime(), filters, r.filter.subject === undefined]);
      if (!groups.has(k)) groups.set(k, { c, tz, p, filters, rules: [] });
      groups.get(k)!.rules.push(r);
    }
    const out: Candidate[] = [];
    for (const g of groups.values()) {
      const period = { start: g.p.start.toISOString(), end: g.p.end.toISOString() };
      try {
        const bySubject = g.rules[0]!.filter.subject !== undefined;
        if (!bySubject) {
          const total = await meters.total(g.c.meter, g.p.start, now, g.tz, g.filters);
          for (const r of g.rules) out.push(...budgetCandidates(r, total, period, now));
        } else {
          const subjects = [...new Set(g.rules.map((r) => r.filter.subject!))];
          const totals = await meters.totalsBy(g.c.meter, g.p.start, now, g.tz, { ...g.filters, subject: subjects }, 'subject');
          for (const r of g.rules) out.push(...budgetCandidates(r, totals.get(r.filter.subject!) ?? '0', period, now));
        }
      } catch (err) {
        logger.warn({ err, rules: g.rules.map((r) => r.id) }, 'alerts: could not read a budget total');
      }
    }
    return out;
  }

  /** The wired forecaster's projection over its own (longer) history, or null (none wired, too little history, already crossed). */
  async function forecasted(
    tz: string,
    dayStart: Date,
    read: (from: Date, to: Date) => Promise<Array<{ day: string; usage: string }>> | undefined,
    q: { usage: string; limit: string; periodStart: Date; periodEnd: Date; now: Date },
  ): Promise<Projection | null> {
    const f = d.forecaster;
    if (!f || new Decimal(q.usage).gte(q.limit)) return null;
    const rows = await read(new Date(dayStart.getTime() - f.historyDays * DAY_MS), dayStart);
    if (!rows) return null;
    return f.project({ ...q, daily: rows, tz });
  }

  async function forecastEval(list: Rule[], now: Date): Promise<Candidate[]> {
    const out: Candidate[] = [];
    const today = (tz: string) => startOf(tz, 'day', now);
    let snaps: Awaited<ReturnType<EntitlementSource['list']>> | undefined;
    for (const r of list) {
      const c = r.condition as ForecastCondition;
      const lookback = c.lookback_days ?? 7;
      try {
        if (c.amount && c.meter && c.period) {
          if (!d.meters) continue;
          const tz = c.tz ?? d.tz;
          const p = periodOf(c.period, tz, now);
          const filters = budgetFilters(r.filter);
          const total = await d.meters.total(c.meter, p.start, now, tz, filters);
          const dayStart = today(tz);
          const from = new Date(Math.max(p.start.getTime(), dayStart.getTime() - lookback * DAY_MS));
          const daily = from < dayStart ? await d.meters.daily(c.meter, from, dayStart, tz, filters) : [];
          const proj =
            (await forecasted(tz, dayStart, (f, t) => d.meters!.dailyByDay?.(c.meter!, f, t, tz, filters), { usage: total, limit: String(c.amount), periodStart: p.start, periodEnd: p.end, now })) ??
            projectCrossing({ usage: total, limit: String(c.amount), recentDaily: daily, periodStart: p.start, periodEnd: p.end, now });
          const cand = forecastBudgetCandidate(r, total, proj, { start: p.start.toISOString(), end: p.end.toISOString() }, now);
          if (cand) out.push(cand);
          continue;
        }
        if (!entitlements) continue;
        snaps ??= await entitlements.list();
        for (const s of snaps) {
          if (!entitlementMatches(r.filter, s) || !s.resets_at) continue;
          const periodStart = new Date(s.period_start);
          const dayStart = startOf('UTC', 'day', now);
          const from = new Date(Math.max(periodStart.getTime(), dayStart.getTime() - lookback * DAY_MS));
          const daily = from < dayStart ? (await entitlements.dailyUsage(s.id, from, dayStart)).map((x) => x.usage) : [];
          const limit = (Number(s.block_threshold) > 0 ? s.block_threshold : '1') as string;
          const lim = new Decimal(s.available).times(limit).toString();
          const periodEnd = new Date(s.resets_at);
          const proj =
            (await forecasted('UTC', dayStart, (f, t) => entitlements!.dailyUsage(s.id, f, t), { usage: s.usage, limit: lim, periodStart, periodEnd, now })) ??
            projectCrossing({ usage: s.usage, limit: lim, recentDaily: daily, periodStart, periodEnd, now });
          const cand = forecastEntitlementCandidate(r, s, proj, now);
          if (cand) out.push(cand);
        }
      } catch (err) {
        logger.warn({ err, rule: r.id }, 'alerts: could not evaluate a forecast');
      }
    }
    return out;
  }

  let marking: Promise<unknown> = Promise.resolve();
  /** Marks the budget rules these rows can move; a short timer then evaluates them together. */
  function mark(rows: StoredEvent[]) {
    const budgets = cache?.budgets;
    if (!budgets?.length) return;
    const types = new Set<string>();
    const subjects = new Set<string | null>();
    for (const r of rows) {
      types.add(r.type);
      subjects.add(r.subject);
    }
    let any = false;
    for (const b of budgets) {
      if (dirty.has(b.rule.id)) continue;
      let hit = false;
      for (const t of types) if (b.types(t)) hit = true;
      if (!hit) continue;
      if (b.rule.filter.subject !== undefined && !subjects.has(b.rule.filter.subject)) continue;
      dirty.add(b.rule.id);
      any = true;
    }
    if (any && !flushTimer) {
      flushTimer = setTimeout(() => {
        flushTimer = undefined;
        svc.flush().catch((err) => logger.warn({ err }, 'alerts: budget evaluation failed'));
      }, config.evaluate_delay_ms);
      flushTimer.unref();
    }
  }

  const svc: AlertService = {
    hooks,
    setEntitlementSource(src) {
      entitlements = src;
    },

    async createRule(body) {
      const input = parseInput(ruleInput, body);
      const { rule, secrets } = await validateRule(input);
      await store.insertRule(db, rule);
      invalidate();
      return { rule: ruleOut(rule), secrets };
    },
    async listRules() {
      return (await store.listRules(db)).map(ruleOut);
    },
    async getRule(id) {
      const r = await store.getRule(db, id);
      if (!r) throw notFound(`alert rule ${id}`);
      return ruleOut(r);
    },
    async updateRule(id, body) {
      const patch = parseInput(rulePatch, body);
      const existing = await store.getRule(db, id);
      if (!existing) throw notFound(`alert rule ${id}`);
      const merged: RuleInput = {
        name: patch.name ?? existing.name,
        on: patch.on ?? existing.on,
        filter: patch.filter ?? existing.filter,
        condition: patch.condition ?? (patch.on && patch.on !== existing.on ? undefined : existing.condition),
        channels: patch.channels ?? existing.channels,
        dedup_window_s: patch.dedup_window_s ?? existing.dedup_window_s ?? undefined,
        throttle_s: patch.throttle_s === undefined ? existing.throttle_s : patch.throttle_s,
        enabled: patch.enabled ?? existing.enabled,
      };
      const { rule, secrets } = await validateRule(merged, existing);
      await store.updateRule(db, rule);
      invalidate();
      return { rule: ruleOut(rule), secrets };
    },
    async deleteRule(id) {
      if (!(await store.deleteRule(db, id))) throw notFound(`alert rule ${id}`);
      invalidate();
    },

    async onSignal(s) {
      const list = await rules();
      const cands: Candidate[] = [];
      for (const r of list) {
        let c: Candidate | null = null;
        if (s.type === 'entitlement.level') c = levelCandidate(r, { ...s, id: s.entitlement_id });
        else if (s.type === 'collector.failure') c = collectorCandidate(r, s);
        else if (s.type === 'reconciliation.mismatch') c = reconciliationCandidate(r, s);
        else if (s.type === 'anomaly') c = anomalyCandidate(r, s);
        if (c) cands.push(c);
      }
      return cands.length ? decide(cands) : [];
    },

    onIngest(rows) {
      if (!rows.length) return;
      if (cache && performance.now() - cache.at < CACHE_MS) return mark(rows);
      const p = rules().then(
        () => mark(rows),
        () => {},
      );
      marking = marking.then(() => p);
    },

    async flush() {
      await marking;
      if (flushTimer) clearTimeout(flushTimer);
      flushTimer = undefined;
      if (!dirty.size) return [];
      const ids = new Set(dirty);
      dirty.clear();
      const now = clock.now();
      const list = (await rules()).filter((r) => ids.has(r.id));
      return decide(await budgetEval(list, now), now);
    },

    async sweep(now = clock.now()) {
      invalidate();
      const list = await rules();
      const cands: Candidate[] = [];
      const levelRules = list.filter((r) => r.on === 'entitlement.level');
      if (levelRules.length && entitlements) {
        for (const s of await entitlements.list()) {
          for (const r of levelRules) {
            const c = levelCandidate(r, { ...s, occurred_at: now.toISOString() });
            if (c) cands.push(c);
          }
        }
      }
      cands.push(...(await budgetEval(list.filter((r) => r.on === 'budget.amount'), now)));
      cands.push(...(await forecastEval(list.filter((r) => r.on === 'forecast.exceeds'), now)));
      const fired = await decide(cands, now);
      const delivered = await deliverDue(now);
      return { fired: fired.length, delivered };
    },

    deliverDue: (now) => deliverDue(now),

    async test(ruleId) {
      const rule = await store.getRule(db, ruleId);
      if (!rule) throw notFound(`alert rule ${ruleId}`);
      const now = clock.now();
      const c = sampleCandidate(rule, now);
      const f = firingOf({ ...c, rule }, now, true);
      await db.transaction((tx) => record(tx, f, rule.channels, now));
      await deliverDue(now, f.id);
      const [h] = await store.history(db, { ids: [f.id], limit: 1 });
      return { firing_id: f.id, deliveries: h?.deliveries ?? [] };
    },

    history(q) {
      return store.history(db, { rule_id: q.rule_id, from: q.from, to: q.to, limit: q.limit, test: q.include_tests ? undefined : false });
    },

    async listNotifications(q, bind) {
      if (bind.project && !bind.subject && !bind.team) throw new ApiError({ type: 'permission_denied', code: 'BOUND_KEY', message: 'notifications belong to a subject or a team; a project-bound key reads none' });
      const subject = scopeReadOne(bind, 'subject', q.subject, 'filter[subject]');
      return store.listNotifications(db, { subject, team: bind.team ?? undefined, unread: q.unread, limit: q.limit, before: q.before });
    },

    async readNotification(id, bind) {
      const n = await store.getNotification(db, id);
      if (!n || !canReadRow(bind, n, ['subject', 'team']) || (bind.project && !bind.subject && !bind.team)) throw notFound(`notification ${id}`);
      await store.markRead(db, id, clock.now());
      return (await store.getNotification(db, id))!;
    },

    start() {
      const poll = setInterval(() => void deliverDue().catch((err) => logger.warn({ err }, 'alerts: delivery pass failed')), config.delivery.poll_s * 1000);
      poll.unref();
      timers.push(poll);
      void deliverDue().catch(() => {});
    },
    async close() {
      for (const t of timers) clearInterval(t);
      if (flushTimer) clearTimeout(flushTimer);
      await chain;
      mailer?.close();
    },
  };
  const timers: NodeJS.Timeout[] = [];
  return svc;
}

