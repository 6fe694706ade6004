import type { Signal } from '../shared/signals.ts';
import type { StoredEvent } from '../events/types.ts';
import { notFound } from '../shared/errors.ts';
import type { AlertCtx, DeliveryReport } from './context.ts';
import { parseAllowList } from './netguard.ts';
import { smtpMailer, type Mailer } from './channels.ts';
import { anomalyCandidate, collectorCandidate, levelCandidate, reconciliationCandidate } from './evaluate.ts';
import { ruleCache, ruleCrud, type RuleCrud } from './rules.ts';
import { firingOf, sampleCandidate } from './firing.ts';
import { decider, recordFiring, type AfterDecide } from './decide.ts';
import { outbox } from './outbox.ts';
import { budgetMarks } from './marks.ts';
import { budgetEval, forecastEval, levelEval } from './sweep.ts';
import { notifications, type Notifications } from './notifications.ts';
import * as store from './store.ts';
import type { Candidate, EntitlementSource, Firing, Rule } from './types.ts';

export type { MeterReader, DeliveryReport } from './context.ts';
export type { RuleOut } from './rules.ts';

/** db, clock, logger, config, tz, dashboardUrl, meters?, forecaster?, mailer? (context.ts), and the entitlement port. */
export interface AlertDeps extends Omit<AlertCtx, 'allow' | 'entitlements' | 'mailer'> {
  entitlements?: EntitlementSource;
  /** Default: nodemailer on `config.smtp_url` when set. */
  mailer?: Mailer;
}

export interface AlertService extends RuleCrud, Notifications {
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
  setEntitlementSource(src: EntitlementSource | undefined): void;
  /** Test seams: run after a decision commits and before anything is sent. */
  hooks: { afterDecide: AfterDecide };
  start(): void;
  close(): Promise<void>;
}

/** The candidate a domain signal is for this rule, if any. */
function signalCandidate(r: Rule, s: Signal): Candidate | null {
  if (s.type === 'entitlement.level') return levelCandidate(r, { ...s, id: s.entitlement_id });
  if (s.type === 'collector.failure') return collectorCandidate(r, s);
  if (s.type === 'reconciliation.mismatch') return reconciliationCandidate(r, s);
  if (s.type === 'anomaly') return anomalyCandidate(r, s);
  return null;
}

/**
 * The alerts service, composed of parts with one job each: rules (rules.ts), deciding (decide.ts),
 * the outbox (outbox.ts), budget marks at ingest (marks.ts), the sweep's reads (sweep.ts) and
 * notifications (notifications.ts).
 */
export function alertService(d: AlertDeps): AlertService {
  const { db, clock, config } = d;
  let entitlements = d.entitlements;
  const ctx: AlertCtx = {
    ...d,
    mailer: d.mailer ?? (config.smtp_url ? smtpMailer(config.smtp_url, config.smtp_from) : undefined),
    allow: parseAllowList(config.webhook_allowed_hosts),
    entitlements: () => entitlements,
  };
  const hooks: AlertService['hooks'] = { afterDecide: [] };
  const cache = ruleCache(ctx);
  const out = outbox(ctx);
  const decide = decider(ctx, out, hooks);
  const marks = budgetMarks(ctx, cache, decide);

  return {
    hooks,
    ...ruleCrud(ctx, cache),
    ...notifications(ctx),
    setEntitlementSource(src) {
      entitlements = src;
    },
    async onSignal(s) {
      const cands = (await cache.rules()).map((r) => signalCandidate(r, s)).filter((c): c is Candidate => c !== null);
      return cands.length ? decide(cands) : [];
    },
    onIngest: (rows) => marks.onIngest(rows),
    flush: () => marks.flush(),
    async sweep(now = clock.now()) {
      cache.invalidate();
      const list = await cache.rules();
      const of = (on: string) => list.filter((r) => r.on === on);
      const cands = [...(await levelEval(ctx, of('entitlement.level'), now)), ...(await budgetEval(ctx, of('budget.amount'), now)), ...(await forecastEval(ctx, of('forecast.exceeds'), now))];
      const fired = await decide(cands, now);
      const delivered = await out.deliverDue(now);
      return { fired: fired.length, delivered };
    },
    deliverDue: (now) => out.deliverDue(now),
    async test(ruleId) {
      const rule = await store.getRule(db, ruleId);
      if (!rule) throw notFound(`alert rule ${ruleId}`);
      const now = clock.now();
      const f = firingOf({ ...sampleCandidate(rule, now), rule }, now, true);
      await db.transaction((tx) => recordFiring(ctx, tx, f, rule.channels, now));
      await out.deliverDue(now, f.id);
      const [h] = await store.history(db, { ids: [f.id], limit: 1 });
      return { firing_id: f.id, deliveries: h?.deliveries ?? [] };
    },
    history(q) {
      return store.history(db, { rule_id: q.rule_id, from: q.from, to: q.to, limit: q.limit, test: q.include_tests ? undefined : false });
    },
    start: () => out.start(),
    async close() {
      marks.close();
      await out.close();
      ctx.mailer?.close();
    },
  };
}
