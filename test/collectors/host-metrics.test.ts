import { mkdtempSync, mkdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { testApp, type TestApp } from '../helpers/app.ts';
import { fixedClock } from '../../src/shared/clock.ts';
import { counterDelta, cpuPercent, parseProc } from '../../src/collectors/host-metrics.ts';

const proc = mkdtempSync(path.join(tmpdir(), 'tg-proc-'));
mkdirSync(path.join(proc, 'net'));
function writeProc(cpu: number[], availKb: number, eth0: [number, number]) {
  writeFileSync(path.join(proc, 'stat'), `cpu  ${cpu.join(' ')}\ncpu0 1 2 3 4\nintr 1\n`);
  writeFileSync(path.join(proc, 'meminfo'), `MemTotal:        8000000 kB\nMemFree:          100000 kB\nMemAvailable:    ${availKb} kB\n`);
  writeFileSync(
    path.join(proc, 'net/dev'),
    `Inter-|   Receive                                                |  Transmit\n face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets errs drop fifo colls carrier compressed\n    lo: 999999 10 0 0 0 0 0 0 999999 10 0 0 0 0 0 0\n  eth0: ${eth0[0]} 100 0 0 0 0 0 0 ${eth0[1]} 90 0 0 0 0 0 0\n`,
  );
}

let app: TestApp;
const clock = fixedClock('2026-01-09T10:00:00Z');
beforeAll(async () => {
  writeProc([100, 0, 100, 800, 0, 0, 0, 0, 0, 0], 6000000, [1000, 500]);
  app = await testApp({ clock, config: { 'collectors.host_metrics.proc_dir': proc, 'collectors.host_metrics.host': 'media-1' } });
});
afterAll(() => app?.close());

describe('host metrics', () => {
  it('reads CPU, memory and network counters from /proc', () => {
    const a = parseProc('cpu  100 0 100 800 0 0 0 0 0 0\n', 'MemTotal: 1000 kB\nMemAvailable: 250 kB\n', 'h\nh\n  lo: 5 0 0 0 0 0 0 0 5\n eth0: 10 0 0 0 0 0 0 0 20\n');
    expect(a).toMatchObject({ cpuTotal: 1000, cpuIdle: 800, memTotalKb: 1000, memAvailableKb: 250, netBytes: 30n });
    const b = { ...a, cpuTotal: 1200, cpuIdle: 850 };
    expect(cpuPercent(a, b)).toBe(75);
    expect(cpuPercent(null, b)).toBeNull();
    expect(counterDelta(100n, 150n)).toBe(50n);
    expect(counterDelta(100n, 40n)).toBe(40n); // reset
    expect(counterDelta(null, 40n)).toBe(0n);
  });

  it('records resource.snapshot events with deltas across a counter reset and media concurrency', async () => {
    await app.request('POST', '/v1/events', {
      body: [
        { specversion: '1.0', id: 'm1', source: 'sdk', type: 'media.track.started', time: '2026-01-09T09:50:00Z', subject: 'u1', data: { room: 'r1', participant: 'u1', track: 't1', kind: 'video' } },
        { specversion: '1.0', id: 'm2', source: 'sdk', type: 'media.track.started', time: '2026-01-09T09:55:00Z', subject: 'u2', data: { room: 'r2', participant: 'u2', track: 't2', kind: 'audio' } },
      ],
    });
    const hm = app.tg.collectors.hostMetrics;
    const first = await hm.snapshot(new Date('2026-01-09T10:00:00Z'));
    expect(first.data).toMatchObject({ host: 'media-1', memory_percent: 25, memory_mb: 1953, traffic_bytes_total: '1500', traffic_bytes_delta: '0', concurrent_users: 2, active_rooms: 2 });
    writeProc([300, 0, 200, 900, 100, 0, 0, 0, 0, 0], 4000000, [3000, 1500]);
    const second = await hm.snapshot(new Date('2026-01-09T10:05:00Z'));
    expect(second.data).toMatchObject({ cpu_percent: 60, memory_percent: 50, traffic_bytes_total: '4500', traffic_bytes_delta: '3000' });
    writeProc([400, 0, 300, 1000, 100, 0, 0, 0, 0, 0], 4000000, [100, 100]); // reboot: counters start over
    const third = await hm.snapshot(new Date('2026-01-09T10:10:00Z'));
    expect(third.data).toMatchObject({ traffic_bytes_total: '200', traffic_bytes_delta: '200' });
    const rows = await app.db.query<{ id: string }>(`SELECT id FROM events WHERE type = 'resource.snapshot' ORDER BY time`);
    expect(rows.rows.map((r) => r.id)).toEqual(['media-1:2026-01-09T10:00:00.000Z', 'media-1:2026-01-09T10:05:00.000Z', 'media-1:2026-01-09T10:10:00.000Z']);
  });

  it('runs as a 5-minute job that only takes the latest window', async () => {
    const jobs = (await app.request('GET', '/v1/jobs')).body.data;
    expect(jobs.find((j: { name: string }) => j.name === 'host.metrics')).toMatchObject({ schedule: '*/5 * * * *' });
    clock.set('2026-01-09T11:02:00Z');
    expect(await app.tg.jobs.scheduler.dueWindows('host.metrics', clock.now())).toEqual([new Date('2026-01-09T11:00:00Z')]);
  });
});
