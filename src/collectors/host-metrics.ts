import { readFile } from 'node:fs/promises';
import path from 'node:path';
import type { Db } from '../shared/db/index.ts';
import type { EventService } from '../events/service.ts';

/**
 * Host snapshots every 5 minutes (seed 000): CPU %, memory % and MB, network byte counters from
 * /proc (the delta since the last sample, a counter that went down — reboot, wrap — counting
 * from zero), and concurrent users / active rooms from the open media sessions, as
 * `resource.snapshot` events (source "collector:host", id host + window: each window once).
 */

export interface ProcSample {
  /** /proc/stat "cpu" line: total and idle jiffies. */
  cpuTotal: number;
  cpuIdle: number;
  memTotalKb: number;
  memAvailableKb: number;
  /** Sum of rx + tx bytes over the interfaces but loopback. */
  netBytes: bigint;
}

export function parseProc(stat: string, meminfo: string, netdev: string): ProcSample {
  const cpu = stat.split('\n').find((l) => /^cpu\s/.test(l));
  if (!cpu) throw new Error('/proc/stat has no cpu line');
  const f = cpu.trim().split(/\s+/).slice(1).map(Number);
  const idle = (f[3] ?? 0) + (f[4] ?? 0); // idle + iowait
  const total = f.slice(0, 8).reduce((a, b) => a + b, 0); // guest time is already in user/nice
  const kb = (name: string) => Number(new RegExp(`^${name}:\\s+(\\d+)`, 'm').exec(meminfo)?.[1] ?? NaN);
  let net = 0n;
  for (const line of netdev.split('\n').slice(2)) {
    const m = /^\s*([^:]+):\s*(.*)$/.exec(line);
    if (!m || m[1]!.trim() === 'lo') continue;
    const cols = m[2]!.trim().split(/\s+/);
    net += BigInt(cols[0] ?? '0') + BigInt(cols[8] ?? '0');
  }
  return { cpuTotal: total, cpuIdle: idle, memTotalKb: kb('MemTotal'), memAvailableKb: kb('MemAvailable'), netBytes: net };
}

export async function readProc(procDir: string): Promise<ProcSample> {
  const [stat, meminfo, netdev] = await Promise.all(['stat', 'meminfo', 'net/dev'].map((f) => readFile(path.join(procDir, f), 'utf8')));
  return parseProc(stat!, meminfo!, netdev!);
}

/** Busy share of the CPU between two samples, in percent (2 decimals); null without a previous sample. */
export function cpuPercent(prev: ProcSample | null, cur: ProcSample): number | null {
  if (!prev) return null;
  const dt = cur.cpuTotal - prev.cpuTotal;
  const di = cur.cpuIdle - prev.cpuIdle;
  if (dt <= 0) return null;
  return Math.round(Math.min(100, Math.max(0, ((dt - di) / dt) * 100)) * 100) / 100;
}

/** Counter delta; a counter that went down was reset, so everything since counts. */
export function counterDelta(prev: bigint | null, cur: bigint): bigint {
  if (prev === null) return 0n;
  return cur >= prev ? cur - prev : cur;
}

export function createHostMetrics(d: { db: Db; events: EventService; host: string; procDir: string; maxSessionMs: number }) {
  let prev: ProcSample | null = null;
  // The counter as of the last snapshot (not the CPU warm-up sample): the delta is since then.
  let lastNet: bigint | null = null;
  return {
    async snapshot(at: Date): Promise<{ id: string; data: Record<string, unknown> }> {
      let cur = await readProc(d.procDir);
      if (!prev) {
        // First sample of this process: measure CPU over a short interval instead of reporting nothing.
        prev = cur;
        await new Promise((r) => setTimeout(r, 250));
        cur = await readProc(d.procDir);
      }
      const media = await d.db.query<{ users: string; rooms: string }>(
        `SELECT count(DISTINCT participant)::text AS users, count(DISTINCT room)::text AS rooms FROM media_sessions WHERE ended_at IS NULL AND started_at > $1 AND started_at <= $2`,
        [new Date(at.getTime() - d.maxSessionMs).toISOString(), at.toISOString()],
      );
      const memUsedKb = cur.memTotalKb - cur.memAvailableKb;
      const data: Record<string, unknown> = {
        host: d.host,
        cpu_percent: cpuPercent(prev, cur) ?? 0,
        memory_percent: Math.round((memUsedKb / cur.memTotalKb) * 10000) / 100,
        memory_mb: Math.round(memUsedKb / 1024),
        traffic_bytes_total: cur.netBytes.toString(),
        traffic_bytes_delta: counterDelta(lastNet, cur.netBytes).toString(),
        concurrent_users: Number(media.rows[0]?.users ?? 0),
        active_rooms: Number(media.rows[0]?.rooms ?? 0),
      };
      prev = cur;
      lastNet = cur.netBytes;
      const id = `${d.host}:${at.toISOString()}`;
      await d.events.ingest([{ specversion: '1.0', id, source: 'collector:host', type: 'resource.snapshot', time: at.toISOString(), data }]);
      return { id, data };
    },
  };
}
