import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { testApp, type TestApp } from '../helpers/app.ts';
import { fixedClock } from '../../src/shared/clock.ts';
import type { AnomalySignal } from '../../src/shared/signals.ts';

/**
 * /v1/analysis/* on a real store (PGlite and PostgreSQL): a data set whose right answers are known.
 * now = 2026-03-20 12:00 UTC. Daily LLM traffic with provider-reported costs for 70 days, one
 * spike on 2026-03-15 (extra claude-sonnet-4-5 calls), catalog-priced suggestion traffic in the
 * last 30 days, and two custom meters for the correlation.
 */
const NOW = '2026-03-20T12:00:00Z';
const DAY = 86_400_000;
let n = 0;
const llm = (time: number, data: Record<string, unknown>, subject = 'u1') => ({
  specversion: '1.0', id: `a-${++n}`, source: 'analysis-test', type: 'llm.usage', time: new Date(time).toISOString(), subject,
  data: { provider: 'openai', model: 'gpt-4o', input_tokens: 100, output_tokens: 10, ...data },
});
const other = (type: string, time: number, data: Record<string, unknown>) => ({ specversion: '1.0', id: `o-${++n}`, source: 'analysis-test', type, time: new Date(time).toISOString(), subject: 'room', data });

async function send(app: TestApp, events: unknown[]) {
  for (let i = 0; i < events.length; i += 2000) {
    const r = await app.request('POST', '/v1/events', { body: events.slice(i, i + 2000) });
    expect(r.status, JSON.stringify(r.body).slice(0, 300)).toBe(202);
  }
}

describe('analysis API', () => {
  let app: TestApp;
  const signals: AnomalySignal[] = [];
  const now = Date.parse(NOW);
  const day0 = Date.parse('2026-01-09T00:00:00Z'); // 70 days before 2026-03-20

  beforeAll(async () => {
    app = await testApp({ clock: fixedClock(NOW) });
    app.tg.signals.on('anomaly', (s) => void signals.push(s));
    const events: unknown[] = [];
    // Base traffic: cost per day = 10 + 0.05·day (weekdays), 4 on weekends; teams a and b, two models.
    for (let d = 0; d < 70; d++) {
      const t = day0 + d * DAY;
      const weekday = new Date(t).getUTCDay();
      const total = weekday === 0 || weekday === 6 ? 4 : 10 + 0.05 * d;
      for (const [i, [provider, model, team]] of ([['openai', 'gpt-4o', 'a'], ['anthropic', 'claude-sonnet-4-5', 'b']] as const).entries()) {
        for (let h = 0; h < 4; h++) events.push(llm(t + (9 + h * 2) * 3_600_000 + i * 60_000, { provider, model, team, feature: 'chat', cost: (total / 8).toFixed(6) }, `user-${h}`));
      }
    }
    // Today so far (12:00): the usual 09:00 and 11:00 calls.
    for (let h = 0; h < 2; h++) events.push(llm(Date.parse('2026-03-20T00:00:00Z') + (9 + h * 2) * 3_600_000, { team: 'a', feature: 'chat', cost: '2' }, `user-${h}`));
    // The spike: 2026-03-15 is a Sunday (usual 4.00); a runaway job adds 30 USD of claude-sonnet-4-5 across both teams.
    for (let k = 0; k < 30; k++) events.push(llm(Date.parse('2026-03-15T03:00:00Z') + k * 60_000, { provider: 'anthropic', model: 'claude-sonnet-4-5', team: k % 2 ? 'a' : 'b', feature: 'chat', cost: '1' }, `user-${k % 4}`));
    await send(app, events);
  });
  afterAll(() => app.close());

  it('forecast: month end per total and model with an 80 % interval and the method named; /v1/summary uses it', async () => {
    const r = await app.request('GET', '/v1/analysis/forecast?measure=cost&group_by=model&tz=UTC');
    expect(r.status, JSON.stringify(r.body)).toBe(200);
    const t = r.body.total;
    expect(t.method).toBe('linear_trend_weekday');
    expect(r.body.interval).toBe(0.8);
    expect(Number(t.low)).toBeLessThanOrEqual(Number(t.expected));
    expect(Number(t.high)).toBeGreaterThanOrEqual(Number(t.expected));
    expect(Number(t.low)).toBeGreaterThanOrEqual(Number(t.to_date));
    // Left: half of today, 7 weekdays at ~13.8 and 4 weekend days at 4 ≈ 119; the Sunday spike in
    // the history (least squares is not robust to it) lifts the Sundays: the projection lands above.
    const rest = Number(t.expected) - Number(t.to_date);
    expect(rest).toBeGreaterThan(100);
    expect(rest).toBeLessThan(165);
    expect(r.body.rows.map((x: any) => x.group.model).sort()).toEqual(['claude-sonnet-4-5', 'gpt-4o']);
    const s = await app.request('GET', '/v1/summary?tz=UTC');
    expect(s.status).toBe(200);
    expect(s.body.forecast_month_end).toBe(t.expected);
    expect(s.body.forecast).toMatchObject({ method: 'linear_trend_weekday', low: t.low, high: t.high, interval: 0.8 });
  });

  it('anomalies: the spike is found with its driver, signalled once, and can be dismissed with a reason', async () => {
    const r = await app.request('GET', '/v1/analysis/anomalies?measure=cost&window=day&tz=UTC');
    expect(r.status, JSON.stringify(r.body)).toBe(200);
    expect(r.body.rows).toHaveLength(1);
    const a = r.body.rows[0];
    expect(a.window_start).toBe('2026-03-15T00:00:00Z');
    expect(Number(a.actual)).toBeCloseTo(34, 4);
    expect(Number(a.expected)).toBeCloseTo(4, 4);
    expect(a.score).toBeGreaterThan(6);
    const model = a.drivers.find((d: any) => d.dimension === 'model');
    expect(model).toMatchObject({ value: 'claude-sonnet-4-5' });
    expect(model.share).toBeCloseTo(1, 2);
    // Split evenly over both teams: no team explains most of it.
    expect(a.drivers.filter((d: any) => d.dimension === 'team').every((d: any) => d.share < 0.6)).toBe(true);
    expect(signals).toHaveLength(1);
    expect(signals[0]).toMatchObject({ type: 'anomaly', anomaly_id: a.id, measure: 'cost' });

    const again = await app.request('GET', '/v1/analysis/anomalies?measure=cost&window=day&tz=UTC');
    expect(again.body.rows.map((x: any) => x.id)).toEqual([a.id]);
    expect(signals).toHaveLength(1);

    // Grouped by team, hourly: the 03:00 hour of each team.
    const hourly = await app.request('GET', '/v1/analysis/anomalies?measure=cost&window=hour&group_by=team&tz=UTC');
    expect(hourly.status).toBe(200);
    expect(hourly.body.rows.map((x: any) => [x.window_start, x.group.team]).sort()).toEqual([['2026-03-15T03:00:00Z', 'a'], ['2026-03-15T03:00:00Z', 'b']]);

    const bad = await app.request('POST', `/v1/analysis/anomalies/${a.id}/dismiss`, { body: {} });
    expect(bad.status).toBe(400);
    const missing = await app.request('POST', '/v1/analysis/anomalies/anom_nope/dismiss', { body: { reason: 'x' } });
    expect(missing.status).toBe(404);
    expect(missing.body.error.type).toBe('not_found');
    const d = await app.request('POST', `/v1/analysis/anomalies/${a.id}/dismiss`, { body: { reason: 'planned backfill' } });
    expect(d.status, JSON.stringify(d.body)).toBe(200);
    expect(d.body.dismissed.reason).toBe('planned backfill');
    const open = await app.request('GET', '/v1/analysis/anomalies?measure=cost&window=day&tz=UTC');
    expect(open.body.rows).toEqual([]);
    const all = await app.request('GET', '/v1/analysis/anomalies?measure=cost&window=day&tz=UTC&include_dismissed=true');
    expect(all.body.rows[0].dismissed.reason).toBe('planned backfill');
  });

  it('anomalies: a team-bound key sees its own slice, stored apart from the organisation-wide row', async () => {
    const key = await app.key(['read'], { team: 'b' });
    const r = await app.request('GET', '/v1/analysis/anomalies?measure=cost&window=day&tz=UTC', { key });
    expect(r.status, JSON.stringify(r.body)).toBe(200);
    expect(r.body.rows).toHaveLength(1);
    // Team b's Sunday: 2.00 usual, 15 from the spike.
    expect(Number(r.body.rows[0].actual)).toBeCloseTo(17, 4);
    expect(r.body.rows[0].dismissed).toBeNull();
    const org = await app.request('GET', '/v1/analysis/anomalies?measure=cost&window=day&tz=UTC&include_dismissed=true');
    expect(org.body.rows[0].id).not.toBe(r.body.rows[0].id);
  });

  it('anomalies: quiet data raises nothing', async () => {
    const r = await app.request('GET', '/v1/analysis/anomalies?measure=cost&window=day&tz=UTC&from=2026-02-01T00:00:00Z&to=2026-03-14T00:00:00Z');
    expect(r.status).toBe(200);
    expect(r.body.rows).toEqual([]);
    const tokens = await app.request('GET', '/v1/analysis/anomalies?measure=requests&window=day&group_by=model&tz=UTC&from=2026-02-01T00:00:00Z&to=2026-03-14T00:00:00Z');
    expect(tokens.body.rows).toEqual([]);
  });

  it('trends: the last complete week against the one before', async () => {
    const r = await app.request('GET', '/v1/analysis/trends?measure=requests&period=week&group_by=model&tz=UTC');
    expect(r.status, JSON.stringify(r.body)).toBe(200);
    // Weeks (Monday starts): Mar 2–9 and Mar 9–16 (the latter holds the 30 spike calls, all claude).
    expect(r.body.periods.last.from).toBe('2026-03-09T00:00:00Z');
    const claude = r.body.rows.find((x: any) => x.group.model === 'claude-sonnet-4-5');
    expect(claude).toMatchObject({ previous: '28', last: '58', change: '30' });
    expect(claude.change_percent).toBeCloseTo(107.14, 2);
  });

  it('predict (LLM side): requests × average tokens × catalog price, models compared', async () => {
    const r = await app.request('GET', '/v1/analysis/predict?provider=anthropic&model=claude-sonnet-4-5&model=claude-haiku-4-5&requests=10000&avg_input_tokens=1000&avg_output_tokens=200');
    expect(r.status, JSON.stringify(r.body)).toBe(200);
    // By hand: sonnet (1000 × 3 + 200 × 15) / 1e6 = 0.006 a request; haiku (1000 × 1 + 200 × 5) / 1e6 = 0.002.
    expect(r.body.models.map((m: any) => [m.model, m.cost_per_request, m.monthly_cost])).toEqual([
      ['claude-sonnet-4-5', '0.006', '60'],
      ['claude-haiku-4-5', '0.002', '20'],
    ]);
    expect(r.body.models[0].formula).toBe('10000 requests × (1000 input × 3 + 200 output × 15) ÷ 1,000,000 = 60 USD');
  });

  it('errors use the one shape and name the field', async () => {
    const r = await app.request('GET', '/v1/analysis/anomalies?window=minute');
    expect(r.status).toBe(400);
    expect(r.body.error.type).toBe('invalid_request');
    const noKey = await app.request('GET', '/v1/analysis/forecast', { key: null });
    expect(noKey.status).toBe(401);
  });
});

describe('correlation, the calculator and suggestions', () => {
  let app: TestApp;
  const now = Date.parse(NOW);

  beforeAll(async () => {
    app = await testApp({ clock: fixedClock(NOW) });
    for (const body of [
      { slug: 'room_video_minutes', event_type: 'room.usage', aggregation: 'sum', value_property: '$.video_minutes' },
      { slug: 'room_share_minutes', event_type: 'room.usage', aggregation: 'sum', value_property: '$.share_minutes' },
      { slug: 'room_traffic_gb', event_type: 'room.usage', aggregation: 'sum', value_property: '$.traffic_gb' },
      { slug: 'room_flat', event_type: 'room.usage', aggregation: 'sum', value_property: '$.flat' },
    ]) {
      const r = await app.request('POST', '/v1/meters', { body });
      expect(r.status, JSON.stringify(r.body)).toBe(201);
    }
    const events: unknown[] = [];
    // 20 days: GB = 0.14 × video minutes / 60 … i.e. 0.0023 GB a video-minute + 0.004 a share-minute + 5 a day, with a little wobble.
    for (let d = 0; d < 20; d++) {
      const t = Date.parse('2026-02-20T00:00:00Z') + d * DAY + 3_600_000;
      const video = 1000 + ((d * 337) % 900);
      const share = 200 + ((d * 151) % 300);
      const wobble = ((d * 7919) % 11) / 100 - 0.05;
      events.push(other('room.usage', t, { video_minutes: video, share_minutes: share, traffic_gb: +(0.0023 * video + 0.004 * share + 5 + wobble).toFixed(6), flat: 3 }));
    }
    // Suggestion traffic in the last 30 days, priced by the catalog (no reported cost):
    //  feature "tagging": 1,000 short claude-sonnet-4-5 calls (500 in / 100 out) over ten users;
    //  feature "support": 200 gpt-4o calls with 4,000-token prompts and no cache reads, all by "heavy".
    for (let k = 0; k < 1000; k++) events.push(llm(now - 20 * DAY + k * 60_000, { provider: 'anthropic', model: 'claude-sonnet-4-5', feature: 'tagging', input_tokens: 500, output_tokens: 100, latency_ms: 2000, cost: undefined }, `user-${k % 10}`));
    for (let k = 0; k < 200; k++) events.push(llm(now - 10 * DAY + k * 60_000, { provider: 'openai', model: 'gpt-4o', feature: 'support', input_tokens: 4000, output_tokens: 200, latency_ms: 1000, cost: undefined }, 'heavy'));
    // A key used 45 days ago and not since.
    events.push(llm(now - 45 * DAY, { api_key: 'old-key', cost: undefined }, 'user-0'));
    await send(app, events);
  });
  afterAll(() => app.close());

  it('correlation: slope, intercept, r², n, standard errors and a formula; several x', async () => {
    const one = await app.request('GET', '/v1/analysis/correlation?x=room_video_minutes&y=room_traffic_gb&window=day&from=2026-02-20T00:00:00Z&to=2026-03-12T00:00:00Z&tz=UTC');
    expect(one.status, JSON.stringify(one.body)).toBe(200);
    expect(one.body.n).toBe(20);
    expect(one.body.slope).toBeGreaterThan(0.001);
    expect(one.body.formula).toMatch(/^room_traffic_gb = [\d.e-]+ × room_video_minutes [+−] /);
    expect(one.body.stderr.slope).toBeGreaterThan(0);
    expect(one.body.points).toHaveLength(20);
    const two = await app.request('GET', '/v1/analysis/correlation?x=room_video_minutes&x=room_share_minutes&y=room_traffic_gb&window=day&from=2026-02-20T00:00:00Z&to=2026-03-12T00:00:00Z&tz=UTC');
    expect(two.status, JSON.stringify(two.body)).toBe(200);
    expect(two.body.coefficients.room_video_minutes).toBeCloseTo(0.0023, 4);
    expect(two.body.coefficients.room_share_minutes).toBeCloseTo(0.004, 3);
    expect(two.body.intercept).toBeCloseTo(5, 0);
    expect(two.body.r2).toBeGreaterThan(0.99);
    expect(Object.keys(two.body.stderr.coefficients)).toEqual(['room_video_minutes', 'room_share_minutes']);
  });

  it('correlation: degenerate input is a 400 that says which', async () => {
    const flat = await app.request('GET', '/v1/analysis/correlation?x=room_flat&y=room_traffic_gb&window=day&from=2026-02-20T00:00:00Z&to=2026-03-12T00:00:00Z&tz=UTC');
    expect(flat.status).toBe(400);
    expect(flat.body.error).toMatchObject({ type: 'invalid_request', code: 'NO_VARIANCE', param: 'room_flat' });
    const few = await app.request('GET', '/v1/analysis/correlation?x=room_video_minutes&y=room_traffic_gb&window=day&from=2026-02-20T00:00:00Z&to=2026-02-22T00:00:00Z&tz=UTC');
    expect(few.status).toBe(400);
    expect(few.body.error.code).toBe('TOO_FEW_POINTS');
  });

  it('predict (seed 000 calculator): 50 users × 5 h × 22 days → GB → KRW with a 45 % margin', async () => {
    const r = await app.request(
      'GET',
      '/v1/analysis/predict?x=room_video_minutes&y=room_traffic_gb&window=day&from=2026-02-20T00:00:00Z&to=2026-03-12T00:00:00Z&tz=UTC&users=50&hours=5&days=22&unit_price=120&currency=KRW&margin=0.45',
    );
    expect(r.status, JSON.stringify(r.body)).toBe(200);
    const fit = await app.request('GET', '/v1/analysis/correlation?x=room_video_minutes&y=room_traffic_gb&window=day&from=2026-02-20T00:00:00Z&to=2026-03-12T00:00:00Z&tz=UTC');
    const minutes = 50 * 5 * 60 * 22;
    expect(r.body.scenario.room_video_minutes).toBe(minutes);
    const gb = fit.body.slope * minutes + fit.body.intercept * 22;
    expect(r.body.usage.value).toBeCloseTo(gb, 6);
    expect(Number(r.body.cost)).toBeCloseTo(gb * 120, 1);
    expect(Number(r.body.price_with_margin)).toBeCloseTo((gb * 120) / 0.55, 0);
    expect(r.body.currency).toBe('KRW');
    expect(r.body.formula).toContain('50 users × 5 h × 60 min × 22 days = 330000 room_video_minutes');
  });

  it('suggestions: the known answers, savings checked by hand against catalog prices', async () => {
    const r = await app.request('GET', '/v1/analysis/suggestions?tz=UTC');
    expect(r.status, JSON.stringify(r.body)).toBe(200);
    const by = (kind: string) => r.body.data.filter((s: any) => s.kind === kind);
    // tagging on claude-sonnet-4-5: 1,000 × (500 × $3 + 100 × $15) / 1e6 = $3.00; on claude-haiku-4-5:
    // 1,000 × (500 × $1 + 100 × $5) / 1e6 = $1.00 → $2.00 a month.
    expect(by('cheaper_model')).toHaveLength(1);
    expect(by('cheaper_model')[0]).toMatchObject({ estimated_monthly_savings: '2.00', evidence: { feature: 'tagging', model: 'claude-sonnet-4-5', suggested_model: 'claude-haiku-4-5', cost: '3' } });
    // support on gpt-4o: 800,000 prompt tokens, half assumed a cached prefix: 400,000 × ($2.50 − $1.25) / 1e6 = $0.50.
    expect(by('prompt_caching')).toHaveLength(1);
    expect(by('prompt_caching')[0]).toMatchObject({ estimated_monthly_savings: '0.50', evidence: { feature: 'support', model: 'gpt-4o', tokens_moved_to_cache_reads: 400000 } });
    // "heavy" spent 200 × (4,000 × $2.5 + 200 × $10) / 1e6 = $2.40; the median user $0.30 (100 tagging calls);
    // a quota at 5 × median = $1.50 trims $0.90.
    expect(by('outsized_spender')).toHaveLength(1);
    expect(by('outsized_spender')[0]).toMatchObject({ estimated_monthly_savings: '0.90', evidence: { subject: 'heavy', cost: '2.4', median_subject_cost: '0.3' } });
    expect(by('idle_key').map((s: any) => s.evidence.api_key)).toEqual(['old-key']);
    expect(by('output_heavy')).toEqual([]);
    expect(r.body.total_estimated_monthly_savings).toBe('3.40');
    // Ordered by savings.
    expect(r.body.data[0].kind).toBe('cheaper_model');
  });

  it('efficiency: cost and tokens per request by model and feature', async () => {
    const r = await app.request('GET', '/v1/analysis/efficiency?tz=UTC');
    expect(r.status, JSON.stringify(r.body)).toBe(200);
    const tagging = r.body.rows.find((x: any) => x.group.feature === 'tagging');
    expect(tagging).toMatchObject({ requests: 1000, cost: '3', cost_per_request: '0.003', tokens_per_request: 600 });
    expect(r.body.overall.requests).toBe(1200);
    expect(r.body.overall.active_user_hours).toBeGreaterThan(0);
    // Tokens per second from the raw events' latency_ms: tagging 100 out / 2 s = 50, support 200 / 1 s = 200,
    // overall (100,000 + 40,000) / (2,000 s + 200 s) = 63.64 (a throughput, not the mean of the two rates).
    expect(tagging.tokens_per_second).toBe(50);
    expect(r.body.rows.find((x: any) => x.group.feature === 'support').tokens_per_second).toBe(200);
    expect(r.body.overall.tokens_per_second).toBe(63.64);
    expect(r.body.overall.latency_sample).toEqual({ events_read: 1200, with_latency: 1200, complete: true });
  });
});
