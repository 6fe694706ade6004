import type { Queryable } from '../shared/db/index.ts';
import type { AlertCtx } from './context.ts';
import { renderEmail } from './message.ts';
import { dedupKey, effectiveDedupWindow } from './evaluate.ts';
import { firingOf, newId } from './firing.ts';
import type { Outbox } from './outbox.ts';
import * as store from './store.ts';
import type { Candidate, Channel, Firing } from './types.ts';

/**
 * Deciding: dedup + throttle + firing + outbox (+ the in-app notification), one transaction per
 * candidate; any refusal rolls it all back (docs/alerts.md "Deciding a firing").
 */

class Skip extends Error {}

export type AfterDecide = Array<(fired: Firing[]) => void | Promise<void>>;

/** The firing, its outbox rows and (for in_app) its notification, inside the caller's transaction. */
export async function recordFiring(ctx: AlertCtx, tx: Queryable, f: Firing, channels: Channel[], now: Date): Promise<void> {
  await store.insertFiring(tx, f);
  await store.insertDeliveries(tx, f.id, channels, now);
  if (channels.some((c) => c.type === 'in_app')) {
    await store.insertNotification(tx, {
      id: newId('ntf_'),
      firing: f,
      body: renderEmail(f, ctx.dashboardUrl).text,
      data: { ...f.details, value: f.value, threshold: f.threshold, occurred_at: f.occurred_at },
    });
  }
}

/** One candidate's transaction: false when dedup or throttle refuses it, or its rule was deleted meanwhile. */
async function decideOne(ctx: AlertCtx, c: Candidate, f: Firing, now: Date): Promise<boolean> {
  try {
    await ctx.db.transaction(async (tx) => {
      if (!(await store.claimDedup(tx, c.rule.id, dedupKey(c), f.id, now, effectiveDedupWindow(c.rule)))) throw new Skip();
      if (c.rule.throttle_s) {
        if (!(await store.passThrottle(tx, c.rule.id, c.rule.throttle_s, now))) throw new Skip();
      } else await store.touchLastFired(tx, c.rule.id, now);
      await recordFiring(ctx, tx, f, c.rule.channels, now);
    });
    return true;
  } catch (e) {
    if (e instanceof Skip) return false;
    // A rule deleted meanwhile: its dedup row's foreign key refuses the claim.
    if ((e as { code?: string }).code === '23503') return false;
    throw e;
  }
}

/** Decides each candidate; then runs the afterDecide hooks and (config.delivery.on_decide) a delivery pass. */
export function decider(ctx: AlertCtx, out: Outbox, hooks: { afterDecide: AfterDecide }) {
  return async function decide(candidates: Candidate[], now = ctx.clock.now()): Promise<Firing[]> {
    const fired: Firing[] = [];
    for (const c of candidates) {
      const f = firingOf(c, now, false);
      if (await decideOne(ctx, c, f, now)) fired.push(f);
    }
    if (fired.length) {
      ctx.logger.info({ firings: fired.map((f) => f.id) }, `alerts: ${fired.length} firing(s)`);
      for (const h of hooks.afterDecide) await h(fired);
      if (ctx.config.delivery.on_decide) void out.deliverDue().catch((err) => ctx.logger.warn({ err }, 'alerts: delivery pass failed'));
    }
    return fired;
  };
}
