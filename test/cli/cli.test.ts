import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { mkdtemp, writeFile, readFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { testApp, llmEvent, type TestApp } from '../helpers/app.ts';
import { TEST_DB } from '../helpers/db.ts';

const run = promisify(execFile);
const BIN = path.resolve('bin/tollgate.mjs');
const tollgate = (args: string[], env: Record<string, string> = {}) =>
  run(process.execPath, [BIN, ...args], { env: { ...process.env, ...env }, timeout: 60_000 }).then(
    (r) => ({ code: 0, ...r }),
    (e) => ({ code: e.code as number, stdout: e.stdout as string, stderr: e.stderr as string }),
  );

describe.runIf(TEST_DB === 'pglite')('tollgate --help', () => {
  it.each([[[]], [['keys', 'create']], [['ingest']]])('%j --help', async (args) => {
    const r = await tollgate([...args, '--help']);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('Usage: tollgate');
    if (!args.length) for (const c of ['serve', 'migrate', 'keys', 'ingest']) expect(r.stdout).toContain(c);
  });

  it('runs through its own shebang, with the node flags `npm start` passes', async () => {
    const direct = await run(BIN, ['--help'], { timeout: 60_000 });
    expect(direct.stdout).toContain('Usage: tollgate');
    const shebangFlags = (await readFile(BIN, 'utf8')).split('\n', 1)[0]!.split(/\s+/).filter((f) => f.startsWith('--'));
    expect(shebangFlags).toEqual(['--single-threaded-gc', '--no-memory-reducer']);
    const pkg = JSON.parse(await readFile('package.json', 'utf8'));
    expect(pkg.scripts.start).toBe(`node ${shebangFlags.join(' ')} bin/tollgate.mjs serve`);
  });

  it('a bad config value fails start naming the field', async () => {
    const r = await tollgate(['migrate'], { PORT: 'eighty' });
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('port (from PORT)');
  });
});

describe('tollgate keys (directly on the store)', () => {
  it.runIf(TEST_DB === 'pglite')('creates, lists and revokes keys in a PGlite data dir', async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'tollgate-cli-'));
    const env = { TOLLGATE_DATA_DIR: dir };
    const created = await tollgate(['keys', 'create', '--name', 'ci', '--scopes', 'ingest,read', '--team', 'ml'], env);
    expect(created.code).toBe(0);
    const [line, secret] = created.stdout.trim().split('\n');
    expect(secret).toMatch(/^tg_/);
    const id = line!.split(' ')[1]!;
    const listed = await tollgate(['keys', 'list'], env);
    expect(listed.stdout).toContain(id);
    expect(listed.stdout).toContain('team=ml');
    expect(listed.stdout).not.toContain(secret);
    expect((await tollgate(['keys', 'revoke', id], env)).stdout).toContain(`revoked ${id}`);
    expect((await tollgate(['keys', 'list'], env)).stdout).toBe('no keys\n');
    const bad = await tollgate(['keys', 'create', '--name', 'x', '--scopes', 'root'], env);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('--scopes');
  });
});

describe('tollgate ingest', () => {
  let app: TestApp;
  let url: string;
  beforeAll(async () => {
    app = await testApp();
    url = await app.tg.server.listen({ port: 0, host: '127.0.0.1' });
  });
  afterAll(() => app.close());

  it('imports an NDJSON file in batches, reports counts, and a re-run counts duplicates', async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'tollgate-ingest-'));
    const file = path.join(dir, 'events.ndjson');
    const lines = Array.from({ length: 25 }, (_, i) => JSON.stringify(llmEvent(`cli-${i}`)));
    lines.splice(5, 0, '{not json', JSON.stringify(llmEvent('cli-bad', { data: { input_tokens: -1 } })), '');
    await writeFile(file, lines.join('\n') + '\n');
    const key = await app.key(['ingest']);
    const first = await tollgate(['ingest', file, '--url', url, '--key', key, '--batch-size', '10', '--no-progress']);
    expect(first.stdout).toContain('accepted 25, duplicates 0, rejected 2');
    expect(first.stderr).toContain('line 6: not valid JSON');
    expect(first.stderr).toContain('line 7: data.input_tokens must be a non-negative integer');
    expect(existsSync(file + '.tollgate-progress')).toBe(false);
    const again = await tollgate(['ingest', file, '--url', url, '--key', key, '--no-progress']);
    expect(again.stdout).toContain('accepted 0, duplicates 25, rejected 2');
  });

  it('resumes after the last acknowledged batch', async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'tollgate-ingest-'));
    const file = path.join(dir, 'events.ndjson');
    await writeFile(file, Array.from({ length: 30 }, (_, i) => JSON.stringify(llmEvent(`resume-${i}`))).join('\n') + '\n');
    const size = (await readFile(file)).length;
    // As if a previous run died after acknowledging the first 20 lines.
    await writeFile(file + '.tollgate-progress', JSON.stringify({ file, size, line: 20, accepted: 20, duplicates: 0, rejected: 0 }));
    const key = await app.key(['ingest']);
    const r = await tollgate(['ingest', file, '--url', url, '--key', key, '--no-progress']);
    expect(r.stderr).toContain('resuming after line 20');
    expect(r.stdout).toContain('accepted 30, duplicates 0, rejected 0'); // 20 from the checkpoint + 10 sent now
    const n = await app.db.query<{ n: string }>("SELECT count(*) AS n FROM events WHERE id LIKE 'resume-%'");
    expect(Number(n.rows[0]!.n)).toBe(10);
  });

  it('needs a key', async () => {
    const r = await tollgate(['ingest', '-', '--url', url], { TOLLGATE_API_KEY: '' });
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('--key');
  });
});
