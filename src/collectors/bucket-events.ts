import { Money, ZERO, moneyString } from '../shared/money.ts';
import type { ProviderCollectorConfig } from './config.ts';
import { allocateCosts, type AllocLine } from './allocate.ts';
import type { CollectorName, Pulled, UsageBucket } from './providers.ts';
import type { BucketState, Recorded } from './store.ts';

/**
 * Pure: what one account's pulled report becomes. Each usage bucket is one `llm.usage` event with
 * a deterministic id, its share of the reported cost spread by token class; a cost line no bucket
 * matches is a cost-only event. Where a bucket was recorded before with other numbers, a correction
 * event carries the difference (id = bucket id + "#r" + revision); where nothing grew, nothing is sent.
 */

export interface Account {
  name: string;
  credential: string | null;
  admin_key: string | null;
  team: string | null;
}

export const isoDay = (d: Date) => d.toISOString().slice(0, 10);

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

/** Team and project of a bucket: by its API key, else by its project/workspace, else the account's team. */
function attribution(c: ProviderCollectorConfig, a: Account, b: UsageBucket): { team?: string; project?: string } {
  const byKey = b.api_key_id ? c.api_keys[b.api_key_id] : undefined;
  const byScope = c.projects[b.scope ?? 'default'];
  const team = byKey?.team ?? byScope?.team ?? a.team ?? undefined;
  const project = byKey?.project ?? byScope?.project ?? undefined;
  return { ...(team ? { team } : {}), ...(project ? { project } : {}) };
}

interface Source {
  name: CollectorName;
  config: ProviderCollectorConfig;
  account: Account;
}

function bucketEvent({ name, config, account: a }: Source, b: UsageBucket, id: string, values: Recorded, revision: number) {
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
      ...attribution(config, a, b),
      ...(b.api_key_id ? { api_key: b.api_key_id } : {}),
      ...(values.cost !== null ? { cost: values.cost, cost_basis: 'provider' } : { cost_basis: 'catalog' }),
      account: a.name,
      kind: b.kind,
      bucket_width: config.bucket_width,
      bucket_end: b.end.toISOString(),
      revision,
    },
  };
}

function costOnlyEvent({ name, config, account: a }: Source, line: AllocLine, id: string, amount: string, revision: number) {
  const team = config.projects[line.dims.scope ?? 'default']?.team ?? a.team;
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
      ...(team ? { team } : {}),
      account: a.name,
      kind: 'cost',
      bucket_width: '1d',
      revision,
    },
  };
}

export interface EventPlan {
  events: unknown[];
  /** The bucket states to store once the events are in. */
  save: Array<{ id: string; revision: number; day: string; recorded: Recorded }>;
  duplicates: number;
  corrections: number;
  /** Reported cost the events add (provider-priced only). */
  cost: Money;
}

/** The bucket ids a pulled report names (usage buckets, then unmatched cost lines), to read their states first. */
export function bucketIds(account: Account, pulled: Pulled) {
  const alloc = allocateCosts(
    pulled.buckets.map((b) => ({ day: isoDay(b.start), dims: b.dims, tokens: b.tokens })),
    pulled.lines,
  );
  const ids = pulled.buckets.map((b) => `${account.name}|${b.key}`);
  const costIds = alloc.unmatched.map((l) => `${account.name}|cost|${l.day}|${l.dims.scope ?? '-'}|${l.label ?? '-'}`);
  return { alloc, ids, costIds };
}

/** The events and bucket states for one pulled report, given the states recorded so far. */
export function planEvents(src: Source, pulled: Pulled, ids: ReturnType<typeof bucketIds>, known: Map<string, BucketState>): EventPlan {
  const plan: EventPlan = { events: [], save: [], duplicates: 0, corrections: 0, cost: ZERO };
  const emit = (bucketId: string, now: Recorded, day: string, make: (id: string, values: Recorded, revision: number) => unknown) => {
    const prev = known.get(bucketId);
    const baseId = `${src.name}:${bucketId}`;
    if (!prev) {
      plan.events.push(make(baseId, now, 0));
      plan.save.push({ id: bucketId, revision: 0, day, recorded: now });
      if (now.cost !== null) plan.cost = plan.cost.plus(now.cost);
      return;
    }
    const diff = difference(prev.recorded, now);
    if (!diff) return void plan.duplicates++;
    const revision = prev.revision + 1;
    plan.events.push(make(`${baseId}#r${revision}`, diff.delta, revision));
    plan.save.push({ id: bucketId, revision, day, recorded: diff.recorded });
    plan.corrections++;
    if (diff.delta.cost !== null) plan.cost = plan.cost.plus(diff.delta.cost);
  };
  pulled.buckets.forEach((b, i) => {
    const allocated = ids.alloc.costs[i] ?? null;
    const now = recordedOf(b, allocated && allocated.gte(0) ? allocated : null);
    emit(ids.ids[i]!, now, isoDay(b.start), (id, values, revision) => bucketEvent(src, b, id, values, revision));
  });
  ids.alloc.unmatched.forEach((l, i) => {
    if (new Money(l.amount).lte(0)) return;
    const now: Recorded = { input: 0, cache_read: 0, cache_write: 0, cache_write_5m: 0, cache_write_1h: 0, output: 0, requests: 0, cost: moneyString(l.amount) };
    emit(ids.costIds[i]!, now, l.day, (id, values, revision) => costOnlyEvent(src, l, id, values.cost ?? '0', revision));
  });
  return plan;
}
