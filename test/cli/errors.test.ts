import { afterAll, describe, expect, it, vi } from 'vitest';
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { promisify } from 'node:util';
import { mkdtemp } from 'node:fs/promises';
import { createServer } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { TEST_DB, TEST_DATABASE_URL } from '../helpers/db.ts';
import { openDb, DataDirLocked } from '../../src/shared/db/index.ts';

const run = promisify(execFile);
const BIN = path.resolve('bin/tollgate.mjs');
const tollgate = (args: string[], env: Record<string, string> = {}) =>
  run(process.execPath, [BIN, ...args], { env: { ...process.env, DATABASE_URL: '', ...env }, timeout: 60_000 }).then(
    (r) => ({ code: 0, ...r }),
    (e) => ({ code: e.code as number, stdout: e.stdout as string, stderr: e.stderr as string }),
  );

/** One line on stderr, no stack frames. */
const oneLine = (stderr: string) => {
  const lines = stderr.trim().split('\n');
  expect(lines).toHaveLength(1);
  expect(stderr).not.toMatch(/\n\s+at /);
  return lines[0]!;
};

vi.setConfig({ testTimeout: 180_000 }); // each case starts Node processes; slow only on a busy machine

const children: ChildProcess[] = [];
afterAll(() => children.forEach((c) => c.kill('SIGKILL')));

/** Starts `tollgate serve` on a free port and resolves with its URL once it listens. */
async function serve(env: Record<string, string>): Promise<{ url: string; child: ChildProcess }> {
  const child = spawn(process.execPath, [BIN, 'serve', '--port', '0'], { env: { ...process.env, DATABASE_URL: '', TOLLGATE_LOG_LEVEL: 'info', TOLLGATE_BOOTSTRAP_KEY: 'tg_cli_errors_bootstrap_key_0123', ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  children.push(child);
  let out = '';
  const url = await new Promise<string>((resolve, reject) => {
    const onData = (c: Buffer) => {
      out += c;
      const m = /listening on (http:\/\/[^\s"]+)/.exec(out);
      if (m) resolve(m[1]!);
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', onData);
    child.on('exit', (code) => reject(new Error(`serve exited ${code}: ${out}`)));
    setTimeout(() => reject(new Error(`serve did not start: ${out}`)), 50_000);
  });
  return { url, child };
}

describe.runIf(TEST_DB === 'pglite')('defect: two processes on one PGlite data dir lost acknowledged events', () => {
  it('a second open of a held data dir is refused, naming the holder; a stale lock is taken over', async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'tollgate-lock-'));
    const first = await openDb({ dataDir: dir });
    await first.announce?.('http://127.0.0.1:1');
    const second = await openDb({ dataDir: dir }).then(
      () => undefined,
      (e) => e,
    );
    expect(second).toBeInstanceOf(DataDirLocked);
    expect(second.message).toContain(`pid ${process.pid}`);
    expect(second.message).toContain('http://127.0.0.1:1');
    await first.close();
    const again = await openDb({ dataDir: dir }); // released on close
    await again.close();
  });

  it('a second `tollgate serve` and a CLI command on a served data dir exit with one line naming the server', async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'tollgate-lock-'));
    const { url, child } = await serve({ TOLLGATE_DATA_DIR: dir });
    const second = await tollgate(['serve', '--port', '0'], { TOLLGATE_DATA_DIR: dir });
    expect(second.code).toBe(1);
    const line = oneLine(second.stderr);
    expect(line).toContain(`pid ${child.pid}`);
    expect(line).toContain(url);
    const keys = await tollgate(['keys', 'create', '--name', 'x'], { TOLLGATE_DATA_DIR: dir });
    expect(keys.code).toBe(1);
    expect(oneLine(keys.stderr)).toContain('in use by tollgate serve');
    child.kill('SIGTERM');
    await new Promise((r) => child.once('exit', r));
    const after = await tollgate(['keys', 'list'], { TOLLGATE_DATA_DIR: dir });
    expect(after.code).toBe(0);
  });
});

describe.runIf(TEST_DB === 'pglite')('defect: CLI failures ended in raw stack traces', () => {
  it('port in use', async () => {
    const blocker = createServer().listen(0, '127.0.0.1');
    await new Promise((r) => blocker.once('listening', r));
    const port = (blocker.address() as { port: number }).port;
    const dir = await mkdtemp(path.join(os.tmpdir(), 'tollgate-port-'));
    const r = await tollgate(['serve', '--port', String(port)], { TOLLGATE_DATA_DIR: dir, TOLLGATE_BOOTSTRAP_KEY: 'tg_cli_errors_bootstrap_key_0123' });
    blocker.close();
    expect(r.code).toBe(1);
    expect(oneLine(r.stderr)).toContain(`port ${port}`);
    // The lock went with the failed start: the data dir opens at once.
    const db = await openDb({ dataDir: dir });
    await db.close();
  });

  it('database unreachable, and a database that does not exist', async () => {
    const down = await tollgate(['migrate'], { DATABASE_URL: 'postgres://postgres:secret@127.0.0.1:1/x' });
    expect(down.code).toBe(1);
    const line = oneLine(down.stderr);
    expect(line).toContain('cannot reach PostgreSQL');
    expect(line).not.toContain('secret');
    const u = new URL(TEST_DATABASE_URL);
    u.pathname = '/tollgate_no_such_database';
    const missing = await tollgate(['migrate'], { DATABASE_URL: u.toString() });
    expect(missing.code).toBe(1);
    expect(oneLine(missing.stderr)).toContain('does not exist');
  });

  it('ingest against a server that is down, and with a wrong key', async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'tollgate-ingest-err-'));
    const { writeFile } = await import('node:fs/promises');
    const file = path.join(dir, 'e.ndjson');
    await writeFile(file, JSON.stringify({ specversion: '1.0', id: '1', source: 's', type: 't', time: '2026-01-01T00:00:00Z', data: {} }) + '\n');
    const refused = await tollgate(['ingest', file, '--url', 'http://127.0.0.1:1', '--key', 'tg_x', '--no-progress']);
    expect(refused.code).toBe(1);
    expect(oneLine(refused.stderr)).toContain('cannot reach Tollgate at http://127.0.0.1:1');
    const { url } = await serve({ TOLLGATE_DATA_DIR: dir });
    const wrongKey = await tollgate(['ingest', file, '--url', url, '--key', 'tg_wrong', '--no-progress']);
    expect(wrongKey.code).toBe(1);
    expect(oneLine(wrongKey.stderr)).toContain('refused the key (401');
  });

  it('serve --help says what serve runs today', async () => {
    const r = await tollgate(['serve', '--help']);
    expect(r.stdout).not.toContain('as they land');
  });
});
