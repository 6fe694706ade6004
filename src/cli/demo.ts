import type { Command } from 'commander';
import { configOrExit, fail } from './common.ts';

/**
 * `tollgate demo`: a realistic data set from a seed, written through the same ingest path as
 * POST /v1/events (validation, pricing, rollups, meters), plus entitlements, grants and alert
 * rules through the quotas and alerts services. Creates no API keys. Decisions: docs/dashboard.md.
 */

// ---------- pure generation (seeded) ----------

/** mulberry32: a small seeded PRNG; the same seed gives the same data set. */
export function rng(seed: number) {
  let a = seed >>> 0;
  const next = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  return {
    next,
    int: (lo: number, hi: number) => lo + Math.floor(next() * (hi - lo + 1)),
    pick: <T>(xs: readonly T[]) => xs[Math.floor(next() * xs.length)]!,
    /** Log-normal with the given median and spread (sigma). */
    logn: (median: number, sigma: number) => median * Math.exp(sigma * gauss(next)),
    weighted: <T>(xs: ReadonlyArray<readonly [T, number]>) => {
      const total = xs.reduce((s, [, w]) => s + w, 0);
      let r = next() * total;
      for (const [x, w] of xs) if ((r -= w) < 0) return x;
      return xs[xs.length - 1]![0];
    },
  };
}
function gauss(next: () => number) {
  const u = Math.max(next(), 1e-12);
  return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * next());
}

/** 15 models over 5 providers, with how likely a call picks each and its typical shape. */
export const DEMO_MODELS = [
  { provider: 'openai', model: 'gpt-4o', w: 14, inMed: 1800, outMed: 450, cache: 0.35 },
  { provider: 'openai', model: 'gpt-4o-mini', w: 22, inMed: 900, outMed: 250, cache: 0.3 },
  { provider: 'openai', model: 'gpt-4.1', w: 8, inMed: 2600, outMed: 600, cache: 0.4 },
  { provider: 'openai', model: 'gpt-4.1-mini', w: 10, inMed: 1200, outMed: 300, cache: 0.3 },
  { provider: 'openai', model: 'o3-mini', w: 4, inMed: 1500, outMed: 1400, cache: 0.1, reasoning: 0.7 },
  { provider: 'anthropic', model: 'claude-sonnet-4-5', w: 12, inMed: 3000, outMed: 700, cache: 0.55, write: 0.08 },
  { provider: 'anthropic', model: 'claude-3-5-haiku-20241022', w: 8, inMed: 1100, outMed: 300, cache: 0.4, write: 0.05 },
  { provider: 'anthropic', model: 'claude-opus-4-1', w: 2, inMed: 4000, outMed: 900, cache: 0.5, write: 0.1 },
  { provider: 'google', model: 'gemini-2.5-pro', w: 5, inMed: 3500, outMed: 800, cache: 0.2 },
  { provider: 'google', model: 'gemini-2.5-flash', w: 9, inMed: 1400, outMed: 350, cache: 0.2 },
  { provider: 'google', model: 'gemini-2.0-flash', w: 5, inMed: 1000, outMed: 250, cache: 0.1 },
  { provider: 'mistral', model: 'mistral-large-latest', w: 3, inMed: 1600, outMed: 400, cache: 0 },
  { provider: 'mistral', model: 'mistral-small-latest', w: 4, inMed: 800, outMed: 200, cache: 0 },
  { provider: 'deepseek', model: 'deepseek-chat', w: 5, inMed: 1500, outMed: 400, cache: 0.45 },
  { provider: 'deepseek', model: 'deepseek-reasoner', w: 2, inMed: 1200, outMed: 1600, cache: 0.3, reasoning: 0.6 },
] as const;

export const DEMO_TEAMS = [
  { team: 'search', features: ['query-rewrite', 'rerank', 'answer'], prefer: 'openai' },
  { team: 'support', features: ['reply-draft', 'triage', 'summarise'], prefer: 'anthropic' },
  { team: 'growth', features: ['copywriting', 'ab-variants'], prefer: 'openai' },
  { team: 'research', features: ['eval', 'agent', 'long-context'], prefer: 'anthropic' },
  { team: 'mobile', features: ['assistant', 'autocomplete'], prefer: 'google' },
  { team: 'platform', features: ['code-review', 'log-summary'], prefer: 'deepseek' },
] as const;

export interface DemoOptions {
  days: number;
  users: number;
  seed: number;
  now: Date;
  /** 'light': a quarter of the media sessions and two-hourly snapshots (fast fixtures for tests). */
  media?: 'full' | 'light';
}

type Ev = { specversion: '1.0'; id: string; source: string; type: string; time: string; subject?: string; data: Record<string, unknown> };

export interface DemoUser {
  subject: string;
  team: string;
  project: string;
  /** Median calls per active weekday. */
  rate: number;
}

export function demoUsers(o: Pick<DemoOptions, 'users' | 'seed'>): DemoUser[] {
  const r = rng(o.seed ^ 0x5eed);
  return Array.from({ length: o.users }, (_, i) => {
    const t = DEMO_TEAMS[i % DEMO_TEAMS.length]!;
    return { subject: `user-${String(i + 1).padStart(3, '0')}`, team: t.team, project: `${t.team}-${r.pick(['web', 'api', 'batch'])}`, rate: Math.min(40, r.logn(3.2, 0.8)) };
  });
}

const DAY = 86_400_000;
/** Hour-of-day weights (UTC): a working day around 00–12 UTC (Asia, Europe mornings) with a tail. */
const HOURS = Array.from({ length: 24 }, (_, h) => [h, h >= 0 && h <= 10 ? 3 : h <= 14 ? 1.5 : 0.5] as const);

/**
 * The demo's events, day by day (oldest first), in batches for the bulk ingest path: llm.usage
 * calls (weekday/weekend pattern, growth over the period, cache use, a few anomalies), media
 * sessions and 30-minute resource snapshots whose traffic follows the video minutes.
 */
export function* demoEvents(o: DemoOptions, batchSize = 5000): Generator<Ev[]> {
  const r = rng(o.seed);
  const users = demoUsers(o);
  const end = o.now.getTime();
  const firstDay = Math.floor(end / DAY) * DAY - (o.days - 1) * DAY;
  const anomalies = new Map<number, { team?: string; subject?: string; model: string; factor: number }>([
    [Math.max(0, o.days - 23), { team: 'growth', model: 'gpt-4.1', factor: 9 }],
    [Math.max(0, o.days - 12), { subject: users[Math.min(4, users.length - 1)]!.subject, model: 'claude-opus-4-1', factor: 60 }],
    [Math.max(0, o.days - 41), { team: 'research', model: 'gemini-2.5-pro', factor: 7 }],
  ]);
  let batch: Ev[] = [];
  let n = 0;
  const emit = function* (e: Ev) {
    batch.push(e);
    if (batch.length >= batchSize) {
      yield batch;
      batch = [];
    }
  };
  let trafficCounter = 0;
  let counterMonth = -1;
  for (let d = 0; d < o.days; d++) {
    const dayStart = firstDay + d * DAY;
    const dow = new Date(dayStart).getUTCDay();
    const weekend = dow === 0 || dow === 6;
    const growth = 0.7 + 0.6 * (d / Math.max(1, o.days - 1));
    const dayFactor = (weekend ? 0.3 : 1) * growth * (0.9 + 0.2 * r.next());
    const anomaly = anomalies.get(d);
    // ---- LLM calls ----
    for (const u of users) {
      const team = DEMO_TEAMS.find((t) => t.team === u.team)!;
      let calls = Math.round(r.logn(u.rate * dayFactor, 0.5) * (r.next() < (weekend ? 0.35 : 0.85) ? 1 : 0));
      const spike = anomaly && (anomaly.team === u.team || anomaly.subject === u.subject) ? anomaly : undefined;
      if (spike) calls = Math.max(calls, 2) * (spike.subject ? 1 : 2);
      for (let c = 0; c < calls; c++) {
        const hour = r.weighted(HOURS);
        const t = dayStart + hour * 3_600_000 + r.int(0, 3_599_999);
        if (t >= end) continue;
        const m = spike && r.next() < 0.8 ? DEMO_MODELS.find((x) => x.model === spike.model)! : r.weighted(DEMO_MODELS.map((x) => [x, x.provider === team.prefer ? x.w * 2.5 : x.w] as const));
        const scale = spike ? spike.factor / (spike.subject ? 1 : 3) : 1;
        const prompt = Math.round(r.logn(m.inMed, 0.7) * scale);
        const cached = r.next() < m.cache ? Math.round(prompt * (0.5 + 0.4 * r.next())) : 0;
        const write = 'write' in m && r.next() < m.write ? Math.round(prompt * 0.3) : 0;
        const output = Math.max(1, Math.round(r.logn(m.outMed, 0.6) * (spike ? Math.sqrt(scale) : 1)));
        const data: Record<string, unknown> = {
          provider: m.provider,
          model: m.model,
          input_tokens: Math.max(1, prompt - cached - write),
          output_tokens: output,
          team: u.team,
          project: u.project,
          feature: r.pick(team.features),
          api_key: `${u.team}-${m.provider}`,
          latency_ms: Math.round(r.logn(900 + output * 12, 0.3)),
          status: r.next() < 0.01 ? 'error' : 'ok',
        };
        if (cached) data.cache_read_tokens = cached;
        if (write) data.cache_write_tokens = write;
        if ('reasoning' in m) data.reasoning_tokens = Math.round(output * m.reasoning);
        yield* emit({ specversion: '1.0', id: `demo-${o.seed}-${++n}`, source: 'demo', type: 'llm.usage', time: new Date(t).toISOString(), subject: u.subject, data });
      }
    }
    // ---- media sessions (video / screen share / audio) and the media host's snapshots ----
    const sessions = Math.round((weekend ? 8 : 30) * growth * (0.8 + 0.4 * r.next()) * (o.media === 'light' ? 0.25 : 1));
    const videoMsPerSlot = new Float64Array(48);
    const shareMsPerSlot = new Float64Array(48);
    const users30 = new Float64Array(48);
    for (let s = 0; s < sessions; s++) {
      const room = `room-${r.int(1, 12)}`;
      const participant = r.pick(users).subject;
      const kind = r.weighted([['video', 6], ['screen_share', 2], ['audio', 2]] as const);
      const start = dayStart + r.weighted(HOURS) * 3_600_000 + r.int(0, 3_599_999);
      const dur = Math.round(r.logn(35, 0.6) * 60_000);
      const stop = Math.min(start + dur, dayStart + DAY - 1);
      if (start >= end) continue;
      const track = `TR_${o.seed}_${d}_${s}`;
      const common = { room, participant, track, kind };
      yield* emit({ specversion: '1.0', id: `demo-${o.seed}-media-${d}-${s}-a`, source: 'demo-livekit', type: 'media.track.started', time: new Date(start).toISOString(), subject: participant, data: common });
      if (stop < end) yield* emit({ specversion: '1.0', id: `demo-${o.seed}-media-${d}-${s}-b`, source: 'demo-livekit', type: 'media.track.ended', time: new Date(stop).toISOString(), subject: participant, data: common });
      for (let slot = 0; slot < 48; slot++) {
        const a = dayStart + slot * 1_800_000;
        const overlap = Math.max(0, Math.min(stop, a + 1_800_000) - Math.max(start, a));
        if (overlap > 0) {
          if (kind === 'video') videoMsPerSlot[slot]! += overlap;
          if (kind === 'screen_share') shareMsPerSlot[slot]! += overlap;
          users30[slot]! += 1;
        }
      }
    }
    const month = new Date(dayStart).getUTCMonth();
    for (let slot = 0; slot < 48; slot++) {
      const t = dayStart + slot * 1_800_000 + 1_800_000;
      if (t > end) break;
      if (month !== counterMonth) {
        trafficCounter = 0; // the host's counter resets monthly (seed 000); deltas handle it
        counterMonth = month;
      }
      const videoMin = videoMsPerSlot[slot]! / 60_000;
      const shareMin = shareMsPerSlot[slot]! / 60_000;
      trafficCounter += Math.round((videoMin * 21.5e6 + shareMin * 7e6 + 40e6) * (0.92 + 0.16 * r.next()));
      if (o.media === 'light' && slot % 4 !== 3) continue;
      yield* emit({
        specversion: '1.0',
        id: `demo-${o.seed}-snap-${d}-${slot}`,
        source: 'demo-host',
        type: 'resource.snapshot',
        time: new Date(t).toISOString(),
        data: {
          host: 'media-1',
          cpu_percent: Math.min(98, +(8 + videoMin * 0.35 + shareMin * 0.15 + r.next() * 4).toFixed(1)),
          memory_percent: +(35 + users30[slot]! * 1.5 + r.next() * 5).toFixed(1),
          memory_mb: Math.round(4096 + users30[slot]! * 120),
          traffic_bytes_total: trafficCounter,
          concurrent_users: users30[slot]!,
          active_rooms: Math.min(12, Math.ceil(users30[slot]! / 2)),
        },
      });
    }
  }
  if (batch.length) yield batch;
}

// ---------- the command ----------

export interface DemoReport {
  events: number;
  duplicates: number;
  rejected: number;
  seconds: number;
  entitlements: number;
  rules: number;
}

/** Fills a wired Tollgate with the demo data set (what the CLI and the browser tests run). */
export async function runDemo(
  tg: import('../app.ts').Tollgate,
  o: DemoOptions,
  progress: (done: number) => void = () => {},
): Promise<DemoReport> {
  const started = performance.now();
  let events = 0;
  let duplicates = 0;
  let rejected = 0;
  for (const batch of demoEvents(o)) {
    const r = await tg.events.ingest(batch, {});
    events += r.accepted;
    duplicates += r.duplicates;
    rejected += r.rejected.length;
    progress(events + duplicates);
  }
  const users = demoUsers(o);
  let entitlements = 0;
  let rules = 0;
  // Run again with the same seed: every event is a duplicate, and what follows exists already.
  if (events === 0) return { events, duplicates, rejected, seconds: (performance.now() - started) / 1000, entitlements, rules };
  // Quotas (when the domain is wired): free monthly grants, one user at 92 %, a team over budget.
  const quotas = tg.quotas.service;
  const tz = tg.config.tz;
  if (quotas) {
    const { startOf } = await import('../shared/time.ts');
    const now = tg.clock.now();
    const periodStart = startOf(tz, 'month', now);
    // This month's usage so far, through the meters (what the quotas engine reads), to size the grants.
    const sumBy = async (meter: string, dim: string) => {
      const rows = await tg.meters.query(meter, { from: periodStart, to: now, window: 'none', tz, groupBy: [dim], filters: {} });
      return new Map(rows.map((r) => [String((r as Record<string, unknown>)[dim]), Number(r.value)]));
    };
    const tokens = await sumBy('llm_tokens', 'subject');
    const costs = await sumBy('llm_cost', 'team');
    const thresholds = { warning: '0.9', critical: '0.95', block: '1.05' };
    const near = users[Math.min(6, users.length - 1)]!;
    const created: string[] = [];
    for (const u of users.slice(0, Math.min(24, users.length))) {
      const e = await quotas.createEntitlement({ subject: u.subject, meter: 'llm_tokens', period: 'month', tz, thresholds, purchase_url: 'https://example.com/buy-tokens' });
      entitlements++;
      created.push(e.id);
      const usage = tokens.get(u.subject) ?? 0;
      // Seed 003: a free monthly allowance (recurring, from this month's start); the "near" user sits at 92 % of it.
      const amount = u === near ? Math.max(1000, Math.round(usage / 0.92)) : Math.max(100_000, Math.ceil((usage * (1.3 + (entitlements % 5) * 0.5)) / 1000) * 1000);
      await quotas.createGrant(e.id, { amount: String(amount), kind: 'free', priority: 10, recurring: 'month', effective_at: periodStart });
      if (entitlements % 7 === 3 && u !== near) await quotas.createGrant(e.id, { amount: '50000', kind: 'purchased', priority: 1, effective_at: periodStart });
    }
    // Team budgets in USD (llm_cost): research is over its budget this month, the others within.
    for (const [team, ratio] of [['research', 1.12], ['support', 0.4], ['search', 0.7]] as const) {
      const e = await quotas.createEntitlement({ team, meter: 'llm_cost', period: 'month', tz, thresholds: { warning: '0.8', critical: '0.95', block: '1.05' } });
      entitlements++;
      created.push(e.id);
      // Cents: early in a month the spend so far is small, and the budget must still sit at its ratio.
      const budget = Math.max(0.01, (costs.get(team) ?? 0) / ratio).toFixed(2);
      await quotas.createGrant(e.id, { amount: budget, kind: 'free', priority: 10, recurring: 'month', effective_at: periodStart });
    }
    // Levels are published as usage is checked: read every value once so stats and alerts see them.
    for (const id of created) await quotas.value(id);
  }
  // Alert rules (when the domain is wired), in-app so nothing leaves the machine.
  const alerts = tg.alerts;
  if (alerts) {
    const bodies = [
      { name: 'Quota levels (warning, critical, blocked)', on: 'entitlement.level', condition: { levels: ['warning', 'critical', 'blocked'] }, channels: [{ type: 'in_app' }] },
      { name: 'Monthly LLM spend over $250', on: 'budget.amount', condition: { meter: 'llm_cost', amount: '250', period: 'month', thresholds: [0.5, 0.8, 1] }, channels: [{ type: 'in_app' }] },
      { name: 'Cost anomalies', on: 'anomaly', channels: [{ type: 'in_app' }] },
      { name: 'Collector failures', on: 'collector.failure', channels: [{ type: 'in_app' }] },
    ];
    for (const b of bodies) {
      try {
        await alerts.createRule(b);
        rules++;
      } catch (e) {
        tg.logger.warn({ err: e }, `demo: alert rule "${b.name}" not created`);
      }
    }
    await alerts.sweep().catch((err) => tg.logger.warn({ err }, 'demo: alert sweep failed'));
  }
  // Collector run history (the providers' APIs are not reachable offline): recorded through the collectors' own store.
  try {
    const { collectorStore } = await import('../collectors/store.ts');
    const store = collectorStore(tg.db);
    for (let d = 7; d >= 1; d--) {
      const day = new Date(Math.floor(o.now.getTime() / DAY) * DAY - d * DAY).toISOString().slice(0, 10);
      const at = new Date(Math.floor(o.now.getTime() / DAY) * DAY - (d - 1) * DAY + 60_000);
      const id = await store.startRun('openai', 'default', day, day, at);
      await store.finishRun(id, new Date(at.getTime() + 4000), { status: 'ok', events: 40 + d, rows: 40 + d, cost: (120 + d * 3.17).toFixed(2) });
      const a = await store.startRun('anthropic', 'default', day, day, at);
      await store.finishRun(a, new Date(at.getTime() + 9000), d === 1 ? { status: 'failed', error: 'demo: 401 invalid x-api-key (the admin key was rotated)' } : { status: 'ok', events: 25, rows: 25, cost: '88.40' });
    }
  } catch (err) {
    tg.logger.warn({ err }, 'demo: no collector run history');
  }
  return { events, duplicates, rejected, seconds: (performance.now() - started) / 1000, entitlements, rules };
}

export function demoCommand(program: Command) {
  program
    .command('demo')
    .description('fill the store with a realistic demo data set (usage, media, snapshots, quotas, alert rules); creates no API keys')
    .option('--days <n>', 'days of history up to now', '90')
    .option('--users <n>', 'end users', '200')
    .option('--seed <n>', 'random seed (same seed, same data)', '42')
    .action(async (opts: { days: string; users: string; seed: string }) => {
      const days = Number(opts.days);
      const users = Number(opts.users);
      const seed = Number(opts.seed);
      if (!Number.isInteger(days) || days < 1 || days > 400) fail('--days must be a whole number from 1 to 400', 2);
      if (!Number.isInteger(users) || users < 1 || users > 10_000) fail('--users must be a whole number from 1 to 10000', 2);
      if (!Number.isInteger(seed)) fail('--seed must be a whole number', 2);
      const config = configOrExit();
      const { createTollgate } = await import('../app.ts');
      const { createLogger } = await import('../shared/log.ts');
      const tg = await createTollgate(config, { logger: createLogger(config.log_level === 'info' ? 'warn' : config.log_level, process.stderr.isTTY, true) });
      try {
        process.stdout.write(`demo: ${days} days × ${users} users (seed ${seed}) into ${tg.db.description}\n`);
        let last = 0;
        const r = await runDemo(tg, { days, users, seed, now: tg.clock.now() }, (done) => {
          if (process.stdout.isTTY && done - last >= 20_000) {
            last = done;
            process.stdout.write(`\r  ${done.toLocaleString('en-US')} events…`);
          }
        });
        if (process.stdout.isTTY) process.stdout.write('\r');
        process.stdout.write(
          `demo: ${r.events.toLocaleString('en-US')} events stored (${r.duplicates} already there${r.rejected ? `, ${r.rejected} rejected` : ''}) in ${r.seconds.toFixed(1)} s; ` +
            `${r.entitlements} entitlements, ${r.rules} alert rules. Start the server (npm start) and sign in at http://${config.host}:${config.port}/\n`,
        );
      } finally {
        await tg.close();
      }
    });
}
