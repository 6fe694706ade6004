import { spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { PGlite } from '@electric-sql/pglite';
import type { Db, Queryable, QueryResult } from './types.ts';

export interface PgliteOptions {
  /** Directory for the data files; omit (or 'memory://') for an in-memory database. */
  dataDir?: string;
  /** A tarball made by dumpDataDir(), to start from a prepared database (tests). */
  loadDataDir?: Blob | File;
}

function wrap(q: { query: PGlite['query']; exec: PGlite['exec'] }): Queryable {
  return {
    async query<T>(sql: string, params?: unknown[]): Promise<QueryResult<T>> {
      const r = await q.query<T>(sql, params as unknown[] | undefined);
      return { rows: r.rows, rowCount: r.affectedRows ?? r.rows.length };
    },
    async exec(sql: string) {
      await q.exec(sql);
    },
  };
}

/**
 * PostgreSQL's default 128 MB of shared buffers is WASM memory PGlite never gives back; the data
 * files are read through the OS page cache anyway, so a smaller pool costs little and saves ~100 MB
 * of RSS (docs/foundation.md, "Memory").
 */
const SHARED_BUFFERS = '32MB';

/**
 * A new data directory is initialised from a template when one exists: a tarball of a freshly
 * initdb'd directory, made by the first initdb on this install (node_modules/.cache/tollgate/,
 * keyed by PGlite's version). initdb takes ~6 s here and loading the template ~1.7 s — every new
 * data dir after the first (a user's first `npm start`, `tollgate demo`, each CLI test) saves the
 * difference. Anything wrong with the template (unreadable, unwritable cache, a failed load) falls
 * back to initdb. `TOLLGATE_PGLITE_TEMPLATE=off` always runs initdb; set to a path, it names the template.
 */
function templatePath(pglitePath: string): string | undefined {
  const override = process.env.TOLLGATE_PGLITE_TEMPLATE;
  if (override === 'off') return undefined;
  if (override) return path.resolve(override);
  const pkg = '@electric-sql/pglite';
  const at = pglitePath.lastIndexOf(pkg);
  const modules = pglitePath.lastIndexOf('node_modules', at);
  if (at < 0 || modules < 0) return undefined;
  try {
    const { version } = JSON.parse(readFileSync(path.join(pglitePath.slice(0, at + pkg.length), 'package.json'), 'utf8')) as { version: string };
    return path.join(pglitePath.slice(0, modules), 'node_modules', '.cache', 'tollgate', `pglite-${version}-initdb.tar`);
  } catch {
    return undefined;
  }
}

/** Runs in the child: load the template into the new directory, or initdb it and leave a template. */
const INIT_CHILD = `
const fs = require('fs');
const path = require('path');
const [pglitePath, dataDir, template] = process.argv.slice(1);
const { PGlite } = require(pglitePath);
async function fromTemplate() {
  if (!template || !fs.existsSync(template)) return false;
  try {
    const db = await PGlite.create({ dataDir, loadDataDir: new Blob([fs.readFileSync(template)]) });
    await db.query('SELECT 1');
    await db.close();
    return true;
  } catch {
    // A bad template: start the directory over and run initdb.
    for (const f of fs.existsSync(dataDir) ? fs.readdirSync(dataDir) : []) fs.rmSync(path.join(dataDir, f), { recursive: true, force: true });
    return false;
  }
}
async function initdb() {
  const db = await PGlite.create({ dataDir });
  if (template) {
    try {
      const tar = Buffer.from(await (await db.dumpDataDir('none')).arrayBuffer());
      fs.mkdirSync(path.dirname(template), { recursive: true });
      const tmp = template + '.' + process.pid;
      fs.writeFileSync(tmp, tar);
      fs.renameSync(tmp, template);
    } catch {}
  }
  await db.close();
}
fromTemplate().then((done) => (done ? undefined : initdb())).catch((e) => { console.error(e && e.message ? e.message : String(e)); process.exit(1); });
`;

/**
 * initdb grows PGlite's WASM memory to ~800 MB, and a WASM memory never shrinks: run it once in a
 * short-lived child process, so the server opens an initialised directory at its normal size.
 */
async function initDataDirInChild(dataDir: string): Promise<void> {
  // createRequire, not import.meta.resolve: the latter is missing under vitest's module runner.
  const pglitePath = createRequire(import.meta.url).resolve('@electric-sql/pglite');
  const template = templatePath(pglitePath) ?? '';
  await new Promise<void>((resolve, reject) => {
    const child = spawn(process.execPath, ['-e', INIT_CHILD, pglitePath, dataDir, template], { stdio: ['ignore', 'ignore', 'pipe'] });
    let err = '';
    child.stderr.on('data', (c) => (err += c));
    child.on('error', reject);
    child.on('exit', (code) => (code === 0 ? resolve() : reject(new Error(`could not initialise the embedded store in ${dataDir}: ${err.trim() || `exit ${code}`}`))));
  });
}

/**
 * PGlite is one connection inside this process: its transaction() already serialises callers,
 * and advisory locks are trivially ours, so withLock just runs fn.
 */
export async function openPglite(opts: PgliteOptions = {}): Promise<Db & { pglite: PGlite }> {
  const onDisk = opts.dataDir && opts.dataDir !== 'memory://';
  if (onDisk && !existsSync(path.join(opts.dataDir!, 'PG_VERSION'))) await initDataDirInChild(opts.dataDir!);
  const pglite = await PGlite.create({
    dataDir: opts.dataDir,
    loadDataDir: opts.loadDataDir,
    startParams: [...PGlite.defaultStartParams, '-c', `shared_buffers=${SHARED_BUFFERS}`],
    // bytea (oid 17) parameters as hex via Buffer: PGlite's own serializer maps every byte to a JS
    // string (Array.from + map + join), ~4 s and most of the GC for the events insert's 2 MB
    // batch of 5,000 collector events; Buffer does it in ~50 ms (issue 17, bench:collect).
    serializers: { 17: (v: Uint8Array) => '\\x' + Buffer.from(v.buffer, v.byteOffset, v.byteLength).toString('hex') },
  });
  const base = wrap(pglite);
  return {
    kind: 'pglite',
    pglite,
    description: opts.dataDir && opts.dataDir !== 'memory://' ? `PGlite at ${opts.dataDir}` : 'PGlite in memory',
    query: base.query,
    exec: base.exec,
    transaction: (fn) => pglite.transaction((tx) => fn(wrap(tx))),
    withLock: async (_key, fn) => fn(base),
    tryLock: async (_key, fn) => ({ ran: true, value: await fn(base) }),
    close: () => pglite.close(),
  };
}
