import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { testApp, type TestApp } from '../helpers/app.ts';
import { fixedClock } from '../../src/shared/clock.ts';

let n = 0;
const snap = (time: string, host: string, data: Record<string, unknown>) => ({
  specversion: '1.0',
  id: `s-${++n}`,
  source: 'hostmetrics',
  type: 'resource.snapshot',
  time,
  data: { host, ...data },
});
async function send(app: TestApp, events: unknown[]) {
  const r = await app.request('POST', '/v1/events', { body: events });
  expect(r.status, JSON.stringify(r.body)).toBe(202);
  expect(r.body.rejected).toEqual([]);
}
async function q(app: TestApp, meter: string, qs: string) {
  const r = await app.request('GET', `/v1/meters/${meter}/query?${qs}`);
  expect(r.status, JSON.stringify(r.body)).toBe(200);
  return r.body.rows as Array<Record<string, any>>;
}
const GB = 1_000_000_000;

describe('resource snapshots: counter deltas', () => {
  let app: TestApp;
  beforeAll(async () => {
    app = await testApp({ clock: fixedClock('2026-01-10T00:00:00Z') });
  });
  afterAll(() => app.close());

  it('turns counters into per-window deltas; a host reboot resets the counter', async () => {
    await send(app, [
      snap('2026-01-05T10:00:00Z', 'h1', { traffic_bytes_total: 10 * GB }), // first: 0
      snap('2026-01-05T10:05:00Z', 'h1', { traffic_bytes_total: 12 * GB }), // +2
      snap('2026-01-05T10:10:00Z', 'h1', { traffic_bytes_total: 1 * GB }), // reboot: +1
      snap('2026-01-05T11:05:00Z', 'h1', { traffic_bytes_total: 1.5 * GB }), // +0.5
      snap('2026-01-05T10:30:00Z', 'h2', { traffic_bytes_total: '123456789012345678901' }), // beyond 2^53: first
      snap('2026-01-05T11:30:00Z', 'h2', { traffic_bytes_total: '123456789012345678902' }), // +1 byte
    ]);
    const day = 'from=2026-01-05T00:00:00Z&to=2026-01-06T00:00:00Z';
    expect(await q(app, 'traffic_gb', day + '&window=hour&group_by=host')).toEqual([
      { window_start: '2026-01-05T10:00:00Z', window_end: '2026-01-05T11:00:00Z', host: 'h1', value: '3' },
      { window_start: '2026-01-05T11:00:00Z', window_end: '2026-01-05T12:00:00Z', host: 'h1', value: '0.5' },
      { window_start: '2026-01-05T10:00:00Z', window_end: '2026-01-05T11:00:00Z', host: 'h2', value: '0' },
      { window_start: '2026-01-05T11:00:00Z', window_end: '2026-01-05T12:00:00Z', host: 'h2', value: '0.000000001' },
    ].sort((a, b) => a.window_start.localeCompare(b.window_start) || a.host.localeCompare(b.host)));
  });

  it('places a late snapshot exactly (its successor\'s delta changes)', async () => {
    await send(app, [snap('2026-01-05T10:07:00Z', 'h1', { traffic_bytes_total: 13 * GB })]);
    // 10:05 +2, 10:07 +1, 10:10 (1 < 13: reset) +1, 11:05 +0.5
    expect(await q(app, 'traffic_gb', 'from=2026-01-05T00:00:00Z&to=2026-01-06T00:00:00Z&filter[host]=h1')).toEqual([
      { window_start: '2026-01-05T00:00:00Z', window_end: '2026-01-06T00:00:00Z', value: '4.5' },
    ]);
  });

  it("handles a provider's monthly counter reset", async () => {
    await send(app, [
      snap('2026-01-31T23:55:00Z', 'vm', { traffic_bytes_total: 900 * GB }),
      snap('2026-01-31T23:50:00Z', 'vm', { traffic_bytes_total: 880 * GB }),
      snap('2026-02-01T00:00:00Z', 'vm', { traffic_bytes_total: 3 * GB }), // reset at month start: +3
      snap('2026-02-01T00:05:00Z', 'vm', { traffic_bytes_total: 7 * GB }), // +4
    ]);
    expect(await q(app, 'traffic_gb', 'from=2026-01-31T00:00:00Z&to=2026-02-02T00:00:00Z&window=day&filter[host]=vm')).toEqual([
      { window_start: '2026-01-31T00:00:00Z', window_end: '2026-02-01T00:00:00Z', value: '20' },
      { window_start: '2026-02-01T00:00:00Z', window_end: '2026-02-02T00:00:00Z', value: '7' },
    ]);
  });

  it('averages gauges per window, with max on request', async () => {
    await send(app, [
      snap('2026-01-06T00:00:00Z', 'g', { cpu_percent: 10, memory_percent: 50 }),
      snap('2026-01-06T00:05:00Z', 'g', { cpu_percent: 20, memory_percent: 60 }),
      snap('2026-01-06T00:10:00Z', 'g', { cpu_percent: 40.5 }),
    ]);
    const qs = 'from=2026-01-06T00:00:00Z&to=2026-01-06T01:00:00Z&filter[host]=g';
    expect((await q(app, 'cpu_percent', qs))[0]!.value).toBe('23.5');
    expect((await q(app, 'cpu_percent', qs + '&stat=max'))[0]!.value).toBe('40.5');
    expect((await q(app, 'memory_percent', qs))[0]!.value).toBe('55');
  });
});

describe('resource snapshots across retention', () => {
  let app: TestApp;
  let dir: string;
  const clock = fixedClock('2026-03-01T00:00:00Z');
  beforeAll(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'tg-res-'));
    app = await testApp({ clock, config: { data_dir: dir } });
    const events = [];
    // Two hosts, a snapshot every 30 minutes for 4 days, counters growing 1 GB per snapshot, with a reboot on day 2.
    for (let i = 0; i < 4 * 48; i++) {
      const t = new Date(Date.UTC(2026, 1, 1) + i * 1_800_000).toISOString();
      events.push(snap(t, 'a', { traffic_bytes_total: (i < 60 ? i : i - 60) * GB, cpu_percent: i % 10 }));
      events.push(snap(t, 'b', { traffic_bytes_total: 2 * i * GB, cpu_percent: 50 }));
    }
    await send(app, events);
  });
  afterAll(async () => {
    await app.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('gives the same answers after raw snapshots are sealed, archived, deleted and restored', async () => {
    const qs = 'from=2026-02-01T00:00:00%2B09:00&to=2026-02-06T00:00:00%2B09:00&window=day&tz=Asia/Seoul&group_by=host';
    const traffic = await q(app, 'traffic_gb', qs);
    const cpu = await q(app, 'cpu_percent', qs + '&stat=max');
    const cpuAvg = await q(app, 'cpu_percent', qs);
    // host a: 191 snapshots after its first, one of them a reset (counts 0 GB): 190 GB; host b: 2 GB × 191.
    const total = (h: string) => traffic.filter((r) => r.host === h).reduce((s, r) => s + Number(r.value), 0);
    expect(total('a')).toBe(190);
    expect(total('b')).toBe(382);

    // Retention at 2026-02-06 with 7 days would keep everything; use 2 days: before 2026-02-03T00:00Z goes.
    const tg = app.tg;
    (tg.config.retention.types as Record<string, number | null>)['resource.snapshot'] = 2;
    clock.set('2026-02-05T04:00:00Z');
    const r = await tg.jobs.retention.run(clock.now());
    expect(r.files.map((f) => [f.type, f.day, f.rows])).toEqual([
      ['resource.snapshot', '2026-02-01', 96],
      ['resource.snapshot', '2026-02-02', 96],
    ]);
    const left = await tg.db.query<{ n: string }>("SELECT count(*)::text AS n FROM events WHERE type = 'resource.snapshot'");
    expect(Number(left.rows[0]!.n)).toBe(2 * 96);
    expect(await q(app, 'traffic_gb', qs)).toEqual(traffic);
    expect(await q(app, 'cpu_percent', qs + '&stat=max')).toEqual(cpu);
    expect(await q(app, 'cpu_percent', qs)).toEqual(cpuAvg);

    for (const f of r.files) await tg.jobs.retention.restore(f.path!, clock.now());
    const back = await tg.db.query<{ n: string }>("SELECT count(*)::text AS n FROM events WHERE type = 'resource.snapshot'");
    expect(Number(back.rows[0]!.n)).toBe(4 * 96);
    expect(await q(app, 'traffic_gb', qs)).toEqual(traffic);
    expect(await q(app, 'cpu_percent', qs)).toEqual(cpuAvg);
  });
});
