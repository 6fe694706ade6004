import { rng, type Rng } from './random.ts';
import { DAY, DEMO_MODELS, DEMO_TEAMS, HOURS, demoUsers, teamModelWeights, type DemoModel, type DemoTeam, type DemoUser } from './catalog.ts';

export interface DemoOptions {
  days: number;
  users: number;
  seed: number;
  now: Date;
  /** 'light': a quarter of the media sessions and two-hourly snapshots (fast fixtures for tests). */
  media?: 'full' | 'light';
}

export type DemoEvent = { specversion: '1.0'; id: string; source: string; type: string; time: string; subject?: string; data: Record<string, unknown> };

/** A day's traffic spike: a team's calls on one model, or one runaway user. */
interface Anomaly {
  team?: string;
  subject?: string;
  model: DemoModel;
  factor: number;
}

/** What every day's generator reads and advances. */
interface Run {
  o: DemoOptions;
  r: Rng;
  users: DemoUser[];
  /** Per team: the team and its model weights (computed once, not per call). */
  teams: Map<string, { team: DemoTeam; models: ReadonlyArray<readonly [DemoModel, number]> }>;
  end: number;
  /** llm.usage ids: demo-<seed>-<n>. */
  n: number;
  /** The media host's traffic counter; it resets monthly (seed 000), and deltas handle it. */
  traffic: number;
  trafficMonth: number;
}

interface Day {
  d: number;
  start: number;
  weekend: boolean;
  growth: number;
  factor: number;
  anomaly?: Anomaly;
}

const model = (name: string) => DEMO_MODELS.find((x) => x.model === name)!;

function anomaliesOf(o: DemoOptions, users: DemoUser[]): Map<number, Anomaly> {
  return new Map([
    [Math.max(0, o.days - 23), { team: 'growth', model: model('gpt-4.1'), factor: 9 }],
    [Math.max(0, o.days - 12), { subject: users[Math.min(4, users.length - 1)]!.subject, model: model('claude-opus-4-1'), factor: 60 }],
    [Math.max(0, o.days - 41), { team: 'research', model: model('gemini-2.5-pro'), factor: 7 }],
  ]);
}

/** One llm.usage call of user u at time t (spike: the day's anomaly, when it is this user's). */
function llmCall(run: Run, u: DemoUser, t: number, spike: Anomaly | undefined): DemoEvent {
  const { r } = run;
  const team = run.teams.get(u.team)!;
  const m = spike && r.next() < 0.8 ? spike.model : r.weighted(team.models);
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
    feature: r.pick(team.team.features),
    api_key: `${u.team}-${m.provider}`,
    latency_ms: Math.round(r.logn(900 + output * 12, 0.3)),
    status: r.next() < 0.01 ? 'error' : 'ok',
  };
  if (cached) data.cache_read_tokens = cached;
  if (write) data.cache_write_tokens = write;
  if ('reasoning' in m) data.reasoning_tokens = Math.round(output * m.reasoning);
  return { specversion: '1.0', id: `demo-${run.o.seed}-${++run.n}`, source: 'demo', type: 'llm.usage', time: new Date(t).toISOString(), subject: u.subject, data };
}

/** The day's llm.usage calls, user by user: weekday/weekend pattern, growth, the day's anomaly. */
function llmCalls(run: Run, day: Day, out: DemoEvent[]) {
  const { r } = run;
  for (const u of run.users) {
    let calls = Math.round(r.logn(u.rate * day.factor, 0.5) * (r.next() < (day.weekend ? 0.35 : 0.85) ? 1 : 0));
    const a = day.anomaly;
    const spike = a && (a.team === u.team || a.subject === u.subject) ? a : undefined;
    if (spike) calls = Math.max(calls, 2) * (spike.subject ? 1 : 2);
    for (let c = 0; c < calls; c++) {
      const t = day.start + r.weighted(HOURS) * 3_600_000 + r.int(0, 3_599_999);
      if (t < run.end) out.push(llmCall(run, u, t, spike));
    }
  }
}

/** Per half-hour slot of a day: video and screen-share milliseconds and participants (what the host's snapshots follow). */
interface Slots {
  video: Float64Array;
  share: Float64Array;
  users: Float64Array;
}

/** The day's media sessions (LiveKit-style track started/ended) and what they add to each half-hour slot. */
function mediaSessions(run: Run, day: Day, out: DemoEvent[]): Slots {
  const { r, o } = run;
  const slots: Slots = { video: new Float64Array(48), share: new Float64Array(48), users: new Float64Array(48) };
  const sessions = Math.round((day.weekend ? 8 : 30) * day.growth * (0.8 + 0.4 * r.next()) * (o.media === 'light' ? 0.25 : 1));
  for (let s = 0; s < sessions; s++) {
    const room = `room-${r.int(1, 12)}`;
    const participant = r.pick(run.users).subject;
    const kind = r.weighted([['video', 6], ['screen_share', 2], ['audio', 2]] as const);
    const start = day.start + r.weighted(HOURS) * 3_600_000 + r.int(0, 3_599_999);
    const dur = Math.round(r.logn(35, 0.6) * 60_000);
    const stop = Math.min(start + dur, day.start + DAY - 1);
    if (start >= run.end) continue;
    const data = { room, participant, track: `TR_${o.seed}_${day.d}_${s}`, kind };
    const id = `demo-${o.seed}-media-${day.d}-${s}`;
    out.push({ specversion: '1.0', id: `${id}-a`, source: 'demo-livekit', type: 'media.track.started', time: new Date(start).toISOString(), subject: participant, data });
    if (stop < run.end) out.push({ specversion: '1.0', id: `${id}-b`, source: 'demo-livekit', type: 'media.track.ended', time: new Date(stop).toISOString(), subject: participant, data });
    for (let slot = 0; slot < 48; slot++) {
      const a = day.start + slot * 1_800_000;
      const overlap = Math.max(0, Math.min(stop, a + 1_800_000) - Math.max(start, a));
      if (overlap > 0) {
        if (kind === 'video') slots.video[slot]! += overlap;
        if (kind === 'screen_share') slots.share[slot]! += overlap;
        slots.users[slot]! += 1;
      }
    }
  }
  return slots;
}

/** The media host's 30-minute resource.snapshot events (two-hourly when light); traffic follows the video minutes. */
function snapshots(run: Run, day: Day, slots: Slots, out: DemoEvent[]) {
  const { r, o } = run;
  const month = new Date(day.start).getUTCMonth();
  for (let slot = 0; slot < 48; slot++) {
    const t = day.start + slot * 1_800_000 + 1_800_000;
    if (t > run.end) break;
    if (month !== run.trafficMonth) {
      run.traffic = 0;
      run.trafficMonth = month;
    }
    const videoMin = slots.video[slot]! / 60_000;
    const shareMin = slots.share[slot]! / 60_000;
    const users = slots.users[slot]!;
    run.traffic += Math.round((videoMin * 21.5e6 + shareMin * 7e6 + 40e6) * (0.92 + 0.16 * r.next()));
    if (o.media === 'light' && slot % 4 !== 3) continue;
    out.push({
      specversion: '1.0',
      id: `demo-${o.seed}-snap-${day.d}-${slot}`,
      source: 'demo-host',
      type: 'resource.snapshot',
      time: new Date(t).toISOString(),
      data: {
        host: 'media-1',
        cpu_percent: Math.min(98, +(8 + videoMin * 0.35 + shareMin * 0.15 + r.next() * 4).toFixed(1)),
        memory_percent: +(35 + users * 1.5 + r.next() * 5).toFixed(1),
        memory_mb: Math.round(4096 + users * 120),
        traffic_bytes_total: run.traffic,
        concurrent_users: users,
        active_rooms: Math.min(12, Math.ceil(users / 2)),
      },
    });
  }
}

/**
 * The demo's events, day by day (oldest first), in batches for the bulk ingest path: llm.usage
 * calls (weekday/weekend pattern, growth over the period, cache use, a few anomalies), media
 * sessions and 30-minute resource snapshots whose traffic follows the video minutes. Seeded: the
 * same options give the same events.
 */
export function* demoEvents(o: DemoOptions, batchSize = 5000): Generator<DemoEvent[]> {
  const r = rng(o.seed);
  const users = demoUsers(o);
  const run: Run = { o, r, users, teams: new Map(DEMO_TEAMS.map((t) => [t.team, { team: t, models: teamModelWeights(t) }])), end: o.now.getTime(), n: 0, traffic: 0, trafficMonth: -1 };
  const firstDay = Math.floor(run.end / DAY) * DAY - (o.days - 1) * DAY;
  const anomalies = anomaliesOf(o, users);
  let batch: DemoEvent[] = [];
  for (let d = 0; d < o.days; d++) {
    const start = firstDay + d * DAY;
    const dow = new Date(start).getUTCDay();
    const weekend = dow === 0 || dow === 6;
    const growth = 0.7 + 0.6 * (d / Math.max(1, o.days - 1));
    const day: Day = { d, start, weekend, growth, factor: (weekend ? 0.3 : 1) * growth * (0.9 + 0.2 * r.next()), anomaly: anomalies.get(d) };
    const out: DemoEvent[] = [];
    llmCalls(run, day, out);
    snapshots(run, day, mediaSessions(run, day, out), out);
    for (const e of out) {
      batch.push(e);
      if (batch.length >= batchSize) {
        yield batch;
        batch = [];
      }
    }
  }
  if (batch.length) yield batch;
}
