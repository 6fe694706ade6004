import type { Logger } from '../shared/log.ts';
import type { Clock } from '../shared/clock.ts';
import { ttlCache, isPromise, type Awaitable, type TtlCache } from '../shared/awaitable.ts';
import { Money } from '../shared/money.ts';
import type { QuotaActual, QuotaContext, QuotaDecision, QuotaEstimate, QuotaGate, QuotaLease } from '../gateway/quota.ts';
import type { Entitlement } from './store.ts';
import type { QuotaService } from './service.ts';
import { worse, type CheckOut } from './answers.ts';
import { levelOf, type Level } from './engine.ts';
import type { Hold, Taken } from './slices.ts';
import type { Snapshot } from './usage.ts';
import { EntitlementPresence } from './presence.ts';

const NOTHING: QuotaLease = Object.freeze({ settle() {}, release() {} });
const ALLOWED = Object.freeze({ decision: Object.freeze({ allowed: true, level: 'ok' as const }), lease: NOTHING });

/** Token counts a price is asked for (the pricing domain's `Usage`, narrowed). */
export interface PricedUsage {
  input_tokens: number;
  output_tokens: number;
  cache_read_tokens: number;
  cache_write_tokens: number;
}

/**
 * The one thing quotas need from pricing: the cost of some tokens of a model at an instant, or
 * null when the model has no price. Passed in at wiring (app.ts adapts `tg.pricing.engine.price`).
 */
export type CostQuote = (q: { provider: string; model: string; team: string | null; at: Date; usage: PricedUsage }) => string | null;

const TOKENS0: PricedUsage = { input_tokens: 0, output_tokens: 0, cache_read_tokens: 0, cache_write_tokens: 0 };

/**
 * How much of an entitlement's meter a call is expected to use. For `llm_cost` the estimate's
 * tokens are priced twice — all as input, all as output — and the larger taken: the real cost
 * (input × its price + output × its price + cache classes, each priced at most like output or
 * input) can never be more, so the estimate is an upper bound like the token estimate is.
 * An unpriced model reserves 0 (its event is flagged unpriced and counts once repriced).
 */
export function estimateFor(meter: string, est: QuotaEstimate, price?: (u: PricedUsage) => string | null): string {
  if (meter === 'llm_tokens' || meter === 'llm_input_tokens' || meter === 'llm_output_tokens') return String(Math.max(0, Math.ceil(est.tokens)));
  if (meter === 'llm_requests') return '1';
  if (meter === 'llm_cost' && price) {
    const n = Math.max(0, Math.ceil(est.tokens));
    const asIn = price({ ...TOKENS0, input_tokens: n });
    const asOut = price({ ...TOKENS0, output_tokens: n });
    if (asIn === null || asOut === null) return '0';
    return Money.max(asIn, asOut).toFixed();
  }
  return '0';
}
export function actualFor(meter: string, a: QuotaActual, price?: (u: PricedUsage) => string | null): string {
  switch (meter) {
    case 'llm_tokens':
      return String(a.input_tokens + a.output_tokens + a.cache_read_tokens + a.cache_write_tokens);
    case 'llm_input_tokens':
      return String(a.input_tokens);
    case 'llm_output_tokens':
      return String(a.output_tokens);
    case 'llm_requests':
      return '1';
    case 'llm_cost':
      return a.cost ?? (price ? (price({ input_tokens: a.input_tokens, output_tokens: a.output_tokens, cache_read_tokens: a.cache_read_tokens, cache_write_tokens: a.cache_write_tokens }) ?? '0') : '0');
    default:
      return '0';
  }
}

/** A budget's filter matches the call (provider, model, project, feature). */
export function matches(e: Entitlement, ctx: QuotaContext): boolean {
  const f = e.filter;
  return (!f.provider || f.provider === ctx.provider) && (!f.model || f.model === ctx.model) && (!f.project || f.project === ctx.project) && (!f.feature || f.feature === ctx.feature);
}

/** The gateway's answer headers/429 body from the worst entitlement's answer. */
export function decisionOf(c: CheckOut): QuotaDecision {
  const remainingPercent = c.percent === null ? undefined : Money.max(0, new Money(1).minus(c.percent)).times(100).toDecimalPlaces(2).toFixed();
  return {
    allowed: c.allowed,
    level: c.level,
    remaining_tokens: c.remaining ?? undefined,
    remaining_percent: remainingPercent,
    estimated_turns: c.estimated_turns,
    purchase_url: c.purchase_url,
    resets_at: c.resets_at,
    ...(c.allowed ? {} : { message: 'the quota is used up' }),
  };
}

/** One lease for the call; its end is reported exactly once. */
export function leaseOf(onEnd: (actual: QuotaActual | null) => void): QuotaLease {
  let done = false;
  const end = (a: QuotaActual | null) => {
    if (done) return;
    done = true;
    onEnd(a);
  };
  return { settle: (a) => end(a), release: () => end(null) };
}

type GateOptions = { quotas: QuotaService; clock: Clock; logger: Logger; failOpen: boolean; ttlMs: number; price?: CostQuote };

/** The quotas domain's gate: a `QuotaGate` the app closes with itself (wireQuotas). */
export interface ClosableGate extends QuotaGate {
  /** Stops listening to entitlement changes and asking whether any is enabled. */
  close(): void;
}

type Answer = { decision: QuotaDecision; lease: QuotaLease };

/** What one gate holds: its options, the entitlements per caller, and whether any is enabled at all. */
interface Gate {
  o: GateOptions;
  quotas: QuotaService;
  /** Per caller (subject, team, key): the enabled entitlements it falls under. */
  ents: TtlCache<string, Entitlement[]>;
  presence: EntitlementPresence;
}

const callerKey = (ctx: QuotaContext) => JSON.stringify([ctx.subject, ctx.team, ctx.api_key]);

function failed(g: Gate, err: unknown): Answer {
  g.o.logger.error({ err }, 'quota store unreachable');
  if (g.o.failOpen) return ALLOWED;
  return { decision: { allowed: false, level: 'blocked', message: 'the quota store is unreachable; calls are refused until it is back (quotas.fail_open)' }, lease: NOTHING };
}

/** The call's prices when an llm_cost entitlement is among `list`, at the instant asked. */
function pricer(g: Gate, list: Entitlement[], ctx: QuotaContext): ((u: PricedUsage) => string | null) | undefined {
  const { price, clock } = g.o;
  if (!price || !list.some((e) => e.meter === 'llm_cost')) return undefined;
  return (usage: PricedUsage) => price({ provider: ctx.provider, model: ctx.model, team: ctx.team, at: clock.now(), usage });
}

/** Per-call reservations (quotas.slice_fraction 0): one locked statement per entitlement and call. */
async function reserveEach(g: Gate, list: Entitlement[], ctx: QuotaContext, est: QuotaEstimate): Promise<Answer> {
  const { quotas } = g;
  const price = pricer(g, list, ctx);
  const r = await quotas.reserveIn(list, (e) => estimateFor(e.meter, est, price), quotas.config.reservation_ttl_s);
  const decision = decisionOf(r.out);
  if (!r.out.allowed) return { decision, lease: NOTHING };
  const byId = new Map(r.taken.map((e) => [e.id, e.meter]));
  const warn = (err: unknown) => g.o.logger.warn({ err, reservation: r.id }, 'could not end a quota reservation (it expires by its ttl)');
  const lease = leaseOf((a) => void (a ? quotas.settle(r.id, (id) => actualFor(byId.get(id) ?? '', a, price)) : quotas.release(r.id)).catch(warn));
  return { decision, lease };
}

/**
 * Slices (slices.ts): each entitlement admits the call against this process's slice of its
 * room — synchronously when the slice has room, else after taking a new slice (one statement).
 * All or nothing: a refusal gives back the holds already taken for this call.
 */
function viaSlices(g: Gate, list: Entitlement[], ctx: QuotaContext, est: QuotaEstimate): Awaitable<Answer> {
  const { slices } = g.quotas;
  const price = pricer(g, list, ctx);
  const holds: Hold[] = [];
  const refused = (t: Taken & { ok: false }, e: Entitlement) => {
    for (const h of holds) slices.release(h);
    signal(g, e, t.snap, 'blocked', t.reserved);
    return { decision: decisionOf(t.out), lease: NOTHING };
  };
  const accepted = (h: Hold) => {
    holds.push(h);
    const e = h.slice.ent;
    const r = h.slice.snap.result;
    const level = levelOf(r.usage.plus(h.reserved), r.available, e.thresholds);
    if (level !== e.level) signal(g, e, h.slice.snap, level, h.reserved);
  };
  const from = (i: number): Awaitable<Answer> => {
    for (; i < list.length; i++) {
      const e = list[i]!;
      const t = slices.admit(e, new Money(estimateFor(e.meter, est, price)));
      if (isPromise(t)) {
        const next = i + 1;
        return t.then((x) => (x.ok ? (accepted(x.hold), from(next)) : refused(x, e)));
      }
      if (!t.ok) return refused(t, e);
      accepted(t.hold);
    }
    let worst: CheckOut | null = null;
    for (const h of holds) worst = worse(worst, h.out);
    const lease = leaseOf((a) => {
      for (const h of holds) a ? slices.settle(h, new Money(actualFor(h.slice.ent.meter, a, price))) : slices.release(h);
    });
    return { decision: decisionOf(worst!), lease };
  };
  return from(0);
}

function signal(g: Gate, e: Entitlement, s: Snapshot, level: Level, reserved: string): void {
  void g.quotas.noteLevel(e, s, level, reserved).catch((err) => g.o.logger.warn({ err }, 'could not record an entitlement level'));
}

/** The caller's entitlements known: those matching the call take its estimate; none matching, allowed. */
function decide(g: Gate, list: Entitlement[], ctx: QuotaContext, est: QuotaEstimate): Awaitable<Answer> {
  const hit = list.filter((e) => matches(e, ctx));
  if (!hit.length) return ALLOWED;
  try {
    const r = g.quotas.slices.enabled ? viaSlices(g, hit, ctx, est) : reserveEach(g, hit, ctx, est);
    return isPromise(r) ? r.catch((err) => failed(g, err)) : r;
  } catch (err) {
    return failed(g, err);
  }
}

/**
 * Known (cached) and nothing matches: the gateway need not tokenize the prompt. Not known: ask —
 * unless no entitlement is enabled at all (a fresh answer), so a deployment without any never
 * loads the tokenizer.
 */
function wants(g: Gate, ctx: QuotaContext): boolean {
  const list = g.ents.peek(callerKey(ctx));
  if (list !== undefined) return list.some((e) => matches(e, ctx));
  return !g.presence.none();
}

function reserve(g: Gate, ctx: QuotaContext, est: QuotaEstimate): Awaitable<Answer> {
  let list: Entitlement[] | Promise<Entitlement[]>;
  try {
    list = g.ents.get(callerKey(ctx));
  } catch (err) {
    return failed(g, err);
  }
  return isPromise(list) ? list.then((l) => decide(g, l, ctx, est), (err) => failed(g, err)) : decide(g, list, ctx, est);
}

/**
 * The gateway's quota gate. Which entitlements a caller falls under is cached per process
 * (snapshot_ttl_ms); a caller with none is answered synchronously, and so is one not seen yet
 * while no entitlement is enabled at all (presence.ts). Otherwise every call takes its estimate in
 * each matching entitlement (slices.ts, or one locked statement per entitlement: exact across
 * processes), and its lease settles or releases it exactly once. Entitlements changed through
 * this process's service reach the gate before the change returns (the service's change
 * listener); other processes' within the ttl.
 */
export function quotaGate(o: GateOptions): ClosableGate {
  const { quotas } = o;
  const ents = ttlCache<string, Entitlement[]>({
    clock: o.clock,
    ttlMs: o.ttlMs,
    load: (k) => {
      const [subject, team, api_key] = JSON.parse(k) as [string | null, string | null, string];
      return quotas.entitlementsFor({ subject, team, api_key });
    },
  });
  const presence = new EntitlementPresence({ anyEnabled: () => quotas.anyEnabledEntitlement(), clock: o.clock, ttlMs: o.ttlMs, logger: o.logger });
  const unsubscribe = quotas.onEntitlementsChanged(() => {
    ents.clear();
    presence.invalidate();
  });
  const g: Gate = { o, quotas, ents, presence };
  return {
    wants: (ctx) => wants(g, ctx),
    reserve: (ctx, est) => reserve(g, ctx, est),
    close() {
      unsubscribe();
      presence.close();
    },
  };
}
