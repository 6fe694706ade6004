import type { Clock } from '../shared/clock.ts';
import type { Logger } from '../shared/log.ts';
import type { Signals } from '../shared/signals.ts';
import { Money, ZERO, moneyString } from '../shared/money.ts';
import { ApiError } from '../shared/errors.ts';
import type { EventService } from '../events/service.ts';
import type { CollectorsConfig, ProviderCollectorConfig } from './config.ts';
import { allocateCosts, type AllocLine } from './allocate.ts';
import { pullAnthropic, pullOpenai, type CollectorName, type Pulled, type UsageBucket } from './providers.ts';
import type { CollectorStore, Recorded } from './store.ts';

/**
 * Runs a provider collector over a range of UTC days, per account: pull every page, spread the
 * reported cost over the usage rows, turn each bucket into one `llm.usage` event with a
 * deterministic id, and — where a bucket was recorded before with other numbers — a correction
 * event carrying the difference (id = bucket id + "#r" + revision). So re-runs and overlapping
 * windows count nothing twice and late data is counted once. A failed account records its run as
 * failed and publishes `collector.failure`; the other accounts still run.
 */

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

export interface Account {
  name: string;
  credential: string | null;
  admin_key: string | null;
  team: string | null;
}

export function accountsOf(c: ProviderCollectorConfig): Account[] {
  if (c.accounts.length) return c.accounts.map((a) => ({ name: a.name, credential: a.credential ?? null, admin_key: a.admin_key ?? null, team: a.team ?? null }));
  return [{ name: 'default', credential: c.credential, admin_key: c.admin_key ?? null, team: null }];
}

export const isoDay = (d: Date) => d.toISOString().slice(0, 10);

/** Parses YYYY-MM-DD as a UTC day. */
export function parseDay(s: string, param: string): Date {
  const m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(s);
  const d = m ? new Date(Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3]))) : null;
  if (!d || isoDay(d) !== s) throw new ApiError({ type: 'invalid_request', code: 'INVALID_DATE', message: `${param} must be a UTC calendar day such as 2026-01-09`, param });
  return d;
}

const RECORDED_FIELDS = ['input', 'cache_read', 'cache_write', 'cache_write_5m', 'cache_write_1h', 'output', 'requests'] as const;

/** What a bucket says now, in the recorded form. */
function recordedOf(b: UsageBucket, cost: Money | null): Recorded {
  return { ...b.tokens, requests: b.requests ?? 0, cost: cost === null ? null : moneyString(cost) };
}

/**
 * The part of `now` not yet recorded in `before`: per field the positive difference (a number that
 * went down cannot be taken back by an event, whose counts are never negative: it is left as
 * recorded, and reconciliation shows it). null when nothing grew.
 */
export function difference(before: Recorded, now: Recorded): { delta: Recorded; recorded: Recorded } | null {
  const delta = { ...now };
  const recorded = { ...now };
  let grew = false;
  for (const f of RECORDED_FIELDS) {
    const d = now[f] - before[f];
    delta[f] = Math.max(0, d);
    recorded[f] = Math.max(before[f], now[f]);
    if (d > 0) grew = true;
  }
  // A bucket first recorded priced from the catalog stays so (its corrections too).
  if (before.cost === null || now.cost === null) {
    delta.cost = null;
    recorded.cost = before.cost;
  } else {
    const d = new Money(now.cost).minus(before.cost);
    delta.cost = d.gt(0) ? moneyString(d) : '0';
    recorded.cost = moneyString(Money.max(before.cost, now.cost));
    if (d.gt(0)) grew = true;
  }
  return grew ? { delta, recorded } : null;
}

export function createCollectorService(d: CollectorServiceDeps) {
  // Waits come from the clock when it can wait (a test's controlled clock advances instead).
  const clockSleep = (d.clock as Clock & { sleep?: (ms: number) => Promise<void> }).sleep?.bind(d.clock);
  const sleep = d.sleep ?? clockSleep ?? ((ms: number) => new Promise<void>((r) => setTimeout(r, ms)));

  async function adminKey(name: CollectorName, a: Account): Promise<string> {
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

  function attribution(name: CollectorName, a: Account, b: UsageBucket): { team?: string; project?: string } {
    const c = d.config[name];
    const byKey = b.api_key_id ? c.api_keys[b.api_key_id] : undefined;
    const byScope = c.projects[b.scope ?? 'default'];
    const team = byKey?.team ?? byScope?.team ?? a.team ?? undefined;
    const project = byKey?.project ?? byScope?.project ?? undefined;
    return { ...(team ? { team } : {}), ...(project ? { project } : {}) };
  }

  function eventOf(name: CollectorName, a: Account, b: UsageBucket, id: string, values: Recorded, revision: number, width: string) {
    const cacheWrite = name === 'anthropic' ? { cache_write_5m_tokens: values.cache_write_5m, cache_write_1h_tokens: values.cache_write_1h } : { cache_write_tokens: values.cache_write };
    const extra = Object.fromEntries(Object.entries(b.extra).filter(([, v]) => v !== undefined));
    return {
      specversion: '1.0',
      id,
      source: `collector:${name}`,
      type: 'llm.usage',
      time: b.start.toISOString(),
      data: {
        ...extra,
        provider: name,
        model: b.model ?? 'unknown',
        input_tokens: values.input,
        output_tokens: values.output,
        cache_read_tokens: values.cache_read,
        ...cacheWrite,
        ...(b.requests !== null ? { requests: values.requests } : {}),
        ...attribution(name, a, b),
        ...(b.api_key_id ? { api_key: b.api_key_id } : {}),
        ...(values.cost !== null ? { cost: values.cost, cost_basis: 'provider' } : { cost_basis: 'catalog' }),
        account: a.name,
        kind: b.kind,
        bucket_width: width,
        bucket_end: b.end.toISOString(),
        revision,
      },
    };
  }

  function costOnlyEvent(name: CollectorName, a: Account, line: AllocLine, revision: number, amount: string, id: string) {
    return {
      specversion: '1.0',
      id,
      source: `collector:${name}`,
      type: 'llm.usage',
      time: `${line.day}T00:00:00.000Z`,
      data: {
        provider: name,
        model: line.dims.model ?? 'unattributed',
        input_tokens: 0,
        output_tokens: 0,
        requests: 0,
        cost: amount,
        cost_basis: 'provider',
        cost_only: true,
        line_item: line.label ?? null,
        ...(name === 'openai' ? { project_id: line.dims.scope ?? null } : { workspace_id: line.dims.scope ?? null }),
        ...(d.config[name].projects[line.dims.scope ?? 'default']?.team ?? a.team ? { team: d.config[name].projects[line.dims.scope ?? 'default']?.team ?? a.team } : {}),
        account: a.name,
        kind: 'cost',
        bucket_width: '1d',
        revision,
      },
    };
  }

  async function runAccount(name: CollectorName, a: Account, from: Date, to: Date, onPage?: () => void): Promise<AccountResult> {
    const c = d.config[name];
    const started = d.clock.now();
    const runId = await d.store.startRun(name, a.name, isoDay(from), isoDay(to), started);
    const window = `${isoDay(from)}..${isoDay(to)}`;
    try {
      const key = await adminKey(name, a);
      const pull = name === 'openai' ? pullOpenai : pullAnthropic;
      const baseUrl = c.base_url ?? d.gatewayBaseUrl(name) ?? DEFAULT_BASE[name];
      const pulled: Pulled = await pull(from, to, {
        baseUrl,
        adminKey: key,
        width: c.bucket_width,
        timeoutMs: c.timeout_ms,
        sleep,
        now: () => d.clock.now(),
        onRetry: (r) => d.logger.warn({ collector: name, account: a.name, ...r }, `${name} report: retrying in ${r.waitMs} ms`),
      });
      onPage?.();
      const alloc = allocateCosts(
        pulled.buckets.map((b) => ({ day: isoDay(b.start), dims: b.dims, tokens: b.tokens })),
        pulled.lines,
      );
      const ids = pulled.buckets.map((b) => `${a.name}|${b.key}`);
      const costIds = alloc.unmatched.map((l) => `${a.name}|cost|${l.day}|${l.dims.scope ?? '-'}|${l.label ?? '-'}`);
      const known = await d.store.buckets(name, [...ids, ...costIds]);
      const events: unknown[] = [];
      const save: Array<{ id: string; revision: number; day: string; recorded: Recorded }> = [];
      let duplicates = 0;
      let corrections = 0;
      let cost = ZERO;
      const emit = (bucketId: string, now: Recorded, day: string, make: (id: string, values: Recorded, revision: number) => unknown) => {
        const prev = known.get(bucketId);
        const baseId = `${name}:${bucketId}`;
        if (!prev) {
          events.push(make(baseId, now, 0));
          save.push({ id: bucketId, revision: 0, day, recorded: now });
          if (now.cost !== null) cost = cost.plus(now.cost);
          return;
        }
        const diff = difference(prev.recorded, now);
        if (!diff) {
          duplicates++;
          return;
        }
        const revision = prev.revision + 1;
        events.push(make(`${baseId}#r${revision}`, diff.delta, revision));
        save.push({ id: bucketId, revision, day, recorded: diff.recorded });
        corrections++;
        if (diff.delta.cost !== null) cost = cost.plus(diff.delta.cost);
      };
      pulled.buckets.forEach((b, i) => {
        const allocated = alloc.costs[i] ?? null;
        const now = recordedOf(b, allocated && allocated.gte(0) ? allocated : null);
        emit(ids[i]!, now, isoDay(b.start), (id, values, revision) => eventOf(name, a, b, id, values, revision, c.bucket_width));
      });
      alloc.unmatched.forEach((l, i) => {
        if (new Money(l.amount).lte(0)) return;
        const now: Recorded = { input: 0, cache_read: 0, cache_write: 0, cache_write_5m: 0, cache_write_1h: 0, output: 0, requests: 0, cost: moneyString(l.amount) };
        emit(costIds[i]!, now, l.day, (id, values, revision) => costOnlyEvent(name, a, l, revision, values.cost ?? '0', id));
      });
      let accepted = 0;
      for (let i = 0; i < events.length; i += INGEST_CHUNK) {
        const r = await d.events.ingest(events.slice(i, i + INGEST_CHUNK));
        if (r.rejected.length) throw new Error(`${r.rejected.length} event(s) were rejected, first: ${r.rejected[0]!.error}`);
        accepted += r.accepted;
        duplicates += r.duplicates;
      }
      await d.store.saveBuckets(name, save, d.clock.now());
      const res: AccountResult = { account: a.name, status: 'ok', events: accepted, duplicates, corrections, rows: pulled.buckets.length, cost: moneyString(cost) };
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

  return {
    /** Collects [from, to) (UTC days) for every account of one provider. */
    async run(name: CollectorName, from: Date, to: Date, opts: { onAccount?: (r: AccountResult) => void } = {}): Promise<CollectResult> {
      if (to.getTime() <= from.getTime()) throw new ApiError({ type: 'invalid_request', code: 'INVALID_RANGE', message: '`to` must be after `from`', param: 'to' });
      if (to.getTime() - from.getTime() > 366 * DAY_MS) throw new ApiError({ type: 'invalid_request', code: 'RANGE_TOO_LONG', message: 'collect at most 366 days at a time', param: 'to' });
      const accounts: AccountResult[] = [];
      for (const a of accountsOf(d.config[name])) {
        const r = await runAccount(name, a, from, to);
        opts.onAccount?.(r);
        accounts.push(r);
      }
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
    },
    /** The scheduled window: the day before the window's instant (in UTC), plus `lookback_days` before it. */
    scheduledRange(name: CollectorName, windowStart: Date): { from: Date; to: Date } {
      const to = new Date(Math.floor(windowStart.getTime() / DAY_MS) * DAY_MS);
      return { from: new Date(to.getTime() - (1 + d.config[name].lookback_days) * DAY_MS), to };
    },
  };
}

export type CollectorService = ReturnType<typeof createCollectorService>;
