import pRetry from 'p-retry';
import type { AlertCtx, DeliveryReport } from './context.ts';
import { postWebhook, SendError } from './channels.ts';
import { renderEmail, signatureHeader, webhookBody } from './message.ts';
import * as store from './store.ts';

/**
 * The delivery outbox: lease-claimed rows sent outside any transaction, each claim retried quickly
 * with p-retry, every attempt logged; later rounds back off from a minute (docs/alerts.md "Sending").
 */

/** One send of one claimed row through its channel, logged whatever happens. */
async function attemptOnce(ctx: AlertCtx, c: store.ClaimedDelivery): Promise<void> {
  const { db, clock, config } = ctx;
  const spec = c.spec;
  const started = performance.now();
  const at = clock.now();
  try {
    if (!spec || spec.type !== c.channel_type) throw new SendError('the rule or this channel was deleted or changed since the firing', null, true);
    if (spec.type === 'webhook') {
      const body = JSON.stringify(webhookBody(c.firing, ctx.dashboardUrl));
      const t = Math.floor(clock.now().getTime() / 1000);
      const r = await postWebhook({
        url: spec.url,
        body,
        allow: ctx.allow,
        timeoutMs: config.delivery.timeout_ms,
        headers: { 'x-tollgate-signature': signatureHeader(spec.secret, body, t), 'x-tollgate-firing-id': c.firing.id },
      });
      await store.logAttempt(db, c.id, { at, ok: true, status_code: r.status, duration_ms: performance.now() - started });
    } else if (spec.type === 'email') {
      if (!ctx.mailer) throw new SendError('SMTP_URL is not set');
      const m = renderEmail(c.firing, ctx.dashboardUrl);
      await ctx.mailer.send({ to: spec.to, ...m, headers: { 'X-Tollgate-Firing-Id': c.firing.id } });
      await store.logAttempt(db, c.id, { at, ok: true, duration_ms: performance.now() - started });
    }
  } catch (e) {
    const err = e instanceof SendError ? e : new SendError((e as Error).message ?? String(e));
    await store.logAttempt(db, c.id, { at, ok: false, status_code: err.statusCode, error: err.message.slice(0, 1000), duration_ms: performance.now() - started });
    throw err;
  }
}

/** Sends one claimed row (with quick retries); marks it sent, or due again later, or failed for good. */
async function sendOne(ctx: AlertCtx, c: store.ClaimedDelivery, now: Date): Promise<keyof DeliveryReport> {
  const { db, clock, config, logger } = ctx;
  const left = config.delivery.max_attempts - c.attempts;
  let tries = 0;
  try {
    await pRetry(
      async () => {
        tries++;
        await attemptOnce(ctx, c);
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

async function deliverPass(ctx: AlertCtx, now: Date, firingId?: string): Promise<DeliveryReport> {
  const out: DeliveryReport = { sent: 0, retrying: 0, failed: 0 };
  for (;;) {
    const claimed = await store.claimDue(ctx.db, now, ctx.config.delivery.lease_s, 50, firingId);
    if (!claimed.length) return out;
    const results = await Promise.all(claimed.map((c) => sendOne(ctx, c, now)));
    for (const r of results) out[r]++;
  }
}

export interface Outbox {
  /** Sends every due row this process can claim (`firingId`: only that firing's); passes run one at a time. */
  deliverDue(now?: Date, firingId?: string): Promise<DeliveryReport>;
  /** The poller (serve only). */
  start(): void;
  /** Stops the poller and waits for the pass under way. */
  close(): Promise<void>;
}

export function outbox(ctx: AlertCtx): Outbox {
  let chain: Promise<unknown> = Promise.resolve();
  const timers: NodeJS.Timeout[] = [];
  function deliverDue(now?: Date, firingId?: string): Promise<DeliveryReport> {
    const run = chain.then(() => deliverPass(ctx, now ?? ctx.clock.now(), firingId));
    chain = run.catch(() => {});
    return run;
  }
  return {
    deliverDue,
    start() {
      const poll = setInterval(() => void deliverDue().catch((err) => ctx.logger.warn({ err }, 'alerts: delivery pass failed')), ctx.config.delivery.poll_s * 1000);
      poll.unref();
      timers.push(poll);
      void deliverDue().catch(() => {});
    },
    async close() {
      for (const t of timers) clearInterval(t);
      await chain;
    },
  };
}
