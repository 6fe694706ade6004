import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';

export const ROOT = new URL('..', import.meta.url).pathname;
export const BENCH_KEY = 'tg_bench_admin_key_0123456789abcdef';
export const PG_BASE_URL = process.env.TEST_DATABASE_URL ?? process.env.DATABASE_URL ?? 'postgres://postgres:postgres@127.0.0.1:5432/tollgate_test';

/** A fresh database on the local PostgreSQL for one bench run; dropped by the returned cleanup. */
export async function freshPostgresDatabase(name: string): Promise<{ url: string; drop(): Promise<void> }> {
  const admin = new pg.Client({ connectionString: PG_BASE_URL });
  await admin.connect();
  await admin.query(`DROP DATABASE IF EXISTS "${name}"`);
  await admin.query(`CREATE DATABASE "${name}"`);
  await admin.end();
  const u = new URL(PG_BASE_URL);
  u.pathname = '/' + name;
  return {
    url: u.toString(),
    async drop() {
      const c = new pg.Client({ connectionString: PG_BASE_URL });
      await c.connect();
      await c.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`);
      await c.end();
    },
  };
}

export interface Server {
  url: string;
  proc: ChildProcess;
  stop(): Promise<void>;
}

/** The node flags `tollgate` runs with: those on its bin's shebang line (`npm start` passes the same). */
export function tollgateNodeFlags(): string[] {
  const shebang = readFileSync(path.join(ROOT, 'bin/tollgate.mjs'), 'utf8').split('\n', 1)[0]!;
  return shebang.split(/\s+/).filter((f) => f.startsWith('--'));
}

/** Starts `tollgate serve` in its own process, as a user would, and waits for /healthz. */
export async function startServer(env: Record<string, string>): Promise<Server> {
  const port = 20000 + Math.floor(Math.random() * 20000);
  const dataDir = await mkdtemp(path.join(os.tmpdir(), 'tollgate-bench-'));
  // BENCH_SERVER_FLAGS: extra node/V8 flags for the server process (e.g. GC experiments).
  const flags = [...tollgateNodeFlags(), ...(process.env.BENCH_SERVER_FLAGS ?? '').split(' ').filter(Boolean)];
  const proc = spawn(process.execPath, [...flags, ...(process.env.BENCH_CPU_PROF ? ['--cpu-prof', '--cpu-prof-dir', process.env.BENCH_CPU_PROF] : []), path.join(ROOT, 'bin/tollgate.mjs'), 'serve'], {
    env: { ...process.env, PORT: String(port), TOLLGATE_DATA_DIR: dataDir, TOLLGATE_BOOTSTRAP_KEY: BENCH_KEY, TOLLGATE_LOG_LEVEL: 'warn', ...env },
    stdio: ['ignore', process.env.BENCH_SERVER_STDOUT ? 'inherit' : 'ignore', 'inherit'],
  });
  const url = `http://127.0.0.1:${port}`;
  for (let i = 0; i < 600; i++) {
    if (proc.exitCode !== null) throw new Error(`server exited with ${proc.exitCode}`);
    try {
      if ((await fetch(url + '/healthz')).ok) break;
    } catch {
      /* not up yet */
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  return {
    url,
    proc,
    async stop() {
      proc.kill('SIGTERM');
      await new Promise((r) => proc.once('exit', r));
      await rm(dataDir, { recursive: true, force: true });
    },
  };
}

export function percentile(sorted: number[], p: number): number {
  if (!sorted.length) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}
