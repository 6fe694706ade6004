import type { Clock } from '../shared/clock.ts';
import type { Logger } from '../shared/log.ts';
import type { Signals } from '../shared/signals.ts';
import { ZERO, moneyString } from '../shared/money.ts';
import { badRequest } from '../shared/errors.ts';
import type { EventService } from '../events/service.ts';
import type { CollectorsConfig, ProviderCollectorConfig } from './config.ts';
import { pullAnthropic, pullOpenai, type CollectorName, type Pulled } from './providers.ts';
import type { CollectorStore } from './store.ts';
import { bucketIds, isoDay, planEvents, type Account } from './bucket-events.ts';

/**
 * Runs a provider collector over a range of UTC days, per account: pull every page, plan the
 * events (bucket-events.ts: one `llm.usage` event per bucket, corrections for changed buckets),
 * ingest them, store the bucket states and the run. So re-runs and overlapping windows count
 * nothing twice and late data is counted once. A failed account records its run as failed and
 * publishes `collector.failure`; the other accounts still run.
 */

export { difference, isoDay, type Account } from './bucket-events.ts';

export const DAY_MS = 86_400_000;
const DEFAULT_BASE: Record<CollectorName, string> = { openai: 'https://api.openai.com/v1', anthropic: 'https://api.anthropic.com' };
const INGEST_CHUNK = 5000;

export interface AccountResult {
  account: string;
  status: 'ok' | 'failed';
  events: number;
  duplicates: number;
  corrections: number;
  rows: number;
  cost: string;
  error?: string;
}

export interface CollectResult {
  collector: CollectorName;
  from: string;
  to: string;
  status: 'ok' | 'failed' | 'partial';
  events: number;
  duplicates: number;
  corrections: number;
  cost: string;
  accounts: AccountResult[];
}

export interface CollectorServiceDeps {
  config: CollectorsConfig;
  /** Gateway base URLs per provider name (the collectors read from the same ones). */
  gatewayBaseUrl: (provider: CollectorName) => string | undefined;
  store: CollectorStore;
  events: EventService;
  signals: Signals;
  secret: (name: string) => Promise<string | undefined>;
  clock: Clock;
  logger: Logger;
  sleep?: (ms: number) => Promise<void>;
}

export function accountsOf(c: ProviderCollectorConfig): Account[] {
  if (c.accounts.length) return c.accounts.map((a) => ({ name: a.name, credential: a.credential ?? null, admin_key: a.admin_key ?? null, team: a.team ?? null }));
  return [{ name: 'default', credential: c.credential, admin_key: c.admin_key ?? null, team: null }];
}

/** Parses YYYY-MM-DD as a UTC day. */
export function parseDay(s: string, param: string): Date {
  const m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(s);
  const d = m ? new Date(Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3]))) : null;
  if (!d || isoDay(d) !== s) throw badRequest('INVALID_DATE', `${param} must be a UTC calendar day such as 2026-01-09`, param);
  return d;
}

/** The account's admin key: its stored secret, else its own key, else the provider's, else an error naming both. */
async function adminKey(d: CollectorServiceDeps, name: CollectorName, a: Account): Promise<string> {
  const c = d.config[name];
  if (a.credential) {
    const v = await d.secret(a.credential);
    if (v) return v;
  }
  if (a.admin_key) return a.admin_key;
  if (c.admin_key) return c.admin_key;
  const env = name === 'openai' ? 'OPENAI_ADMIN_KEY' : 'ANTHROPIC_ADMIN_KEY';
  throw new Error(`no admin key for ${name} account "${a.name}": store it as secret "${a.credential ?? c.credential}" or set ${env}`);
}

type Sleep = (ms: number) => Promise<void>;

/** Every page of the account's usage and cost reports over [from, to). */
async function pullAccount(d: CollectorServiceDeps, sleep: Sleep, name: CollectorName, a: Account, from: Date, to: Date): Promise<Pulled> {
  const c = d.config[name];
  const pull = name === 'openai' ? pullOpenai : pullAnthropic;
  return pull(from, to, {
    baseUrl: c.base_url ?? d.gatewayBaseUrl(name) ?? DEFAULT_BASE[name],
    adminKey: await adminKey(d, name, a),
    width: c.bucket_width,
    timeoutMs: c.timeout_ms,
    sleep,
    now: () => d.clock.now(),
    onRetry: (r) => d.logger.warn({ collector: name, account: a.name, ...r }, `${name} report: retrying in ${r.waitMs} ms`),
  });
}

/** One account's run: pull, plan, ingest in chunks, store the bucket states and the run record. */
async function runAccount(d: CollectorServiceDeps, sleep: Sleep, name: CollectorName, a: Account, from: Date, to: Date): Promise<AccountResult> {
  const runId = await d.store.startRun(name, a.name, isoDay(from), isoDay(to), d.clock.now());
  const window = `${isoDay(from)}..${isoDay(to)}`;
  try {
    const pulled = await pullAccount(d, sleep, name, a, from, to);
    const ids = bucketIds(a, pulled);
    const known = await d.store.buckets(name, [...ids.ids, ...ids.costIds]);
    const plan = planEvents({ name, config: d.config[name], account: a }, pulled, ids, known);
    let accepted = 0;
    let duplicates = plan.duplicates;
    for (let i = 0; i < plan.events.length; i += INGEST_CHUNK) {
      const r = await d.events.ingest(plan.events.slice(i, i + INGEST_CHUNK));
      if (r.rejected.length) throw new Error(`${r.rejected.length} event(s) were rejected, first: ${r.rejected[0]!.error}`);
      accepted += r.accepted;
      duplicates += r.duplicates;
    }
    await d.store.saveBuckets(name, plan.save, d.clock.now());
    const res: AccountResult = { account: a.name, status: 'ok', events: accepted, duplicates, corrections: plan.corrections, rows: pulled.buckets.length, cost: moneyString(plan.cost) };
    await d.store.finishRun(runId, d.clock.now(), res);
    return res;
  } catch (e) {
    const error = (e as Error).message ?? String(e);
    d.logger.error({ err: e, collector: name, account: a.name, window }, `${name} collector failed for ${window}`);
    await d.store.finishRun(runId, d.clock.now(), { status: 'failed', error });
    d.signals.publish({ type: 'collector.failure', collector: name, account: a.name, window, error, occurred_at: d.clock.now().toISOString() });
    return { account: a.name, status: 'failed', events: 0, duplicates: 0, corrections: 0, rows: 0, cost: '0', error };
  }
}

/** The accounts' results summed into one run result. */
function summed(name: CollectorName, from: Date, to: Date, accounts: AccountResult[]): CollectResult {
  const failed = accounts.filter((r) => r.status === 'failed').length;
  return {
    collector: name,
    from: isoDay(from),
    to: isoDay(to),
    status: failed === 0 ? 'ok' : failed === accounts.length ? 'failed' : 'partial',
    events: accounts.reduce((s, r) => s + r.events, 0),
    duplicates: accounts.reduce((s, r) => s + r.duplicates, 0),
    corrections: accounts.reduce((s, r) => s + r.corrections, 0),
    cost: moneyString(accounts.reduce((s, r) => s.plus(r.cost), ZERO)),
    accounts,
  };
}

export function createCollectorService(d: CollectorServiceDeps) {
  // Waits come from the clock when it can wait (a test's controlled clock advances instead).
  const clockSleep = (d.clock as Clock & { sleep?: Sleep }).sleep?.bind(d.clock);
  const sleep: Sleep = d.sleep ?? clockSleep ?? ((ms: number) => new Promise<void>((r) => setTimeout(r, ms)));
  return {
    /** Collects [from, to) (UTC days) for every account of one provider. */
    async run(name: CollectorName, from: Date, to: Date, opts: { onAccount?: (r: AccountResult) => void } = {}): Promise<CollectResult> {
      if (to.getTime() <= from.getTime()) throw badRequest('INVALID_RANGE', '`to` must be after `from`', 'to');
      if (to.getTime() - from.getTime() > 366 * DAY_MS) throw badRequest('RANGE_TOO_LONG', 'collect at most 366 days at a time', 'to');
      const accounts: AccountResult[] = [];
      for (const a of accountsOf(d.config[name])) {
        const r = await runAccount(d, sleep, name, a, from, to);
        opts.onAccount?.(r);
        accounts.push(r);
      }
      return summed(name, from, to, accounts);
    },
    /** The scheduled window: the day before the window's instant (in UTC), plus `lookback_days` before it. */
    scheduledRange(name: CollectorName, windowStart: Date): { from: Date; to: Date } {
      const to = new Date(Math.floor(windowStart.getTime() / DAY_MS) * DAY_MS);
      return { from: new Date(to.getTime() - (1 + d.config[name].lookback_days) * DAY_MS), to };
    },
  };
}

export type CollectorService = ReturnType<typeof createCollectorService>;
