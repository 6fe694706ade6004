import { createGunzip, createGzip } from 'node:zlib';
import { createReadStream, createWriteStream, existsSync } from 'node:fs';
import { mkdir, open, readdir, rename, rm, stat } from 'node:fs/promises';
import { createInterface } from 'node:readline';
import { once } from 'node:events';
import path from 'node:path';
import type { ArchivedEvent } from '../events/archive-store.ts';

/**
 * Archive files: `<dir>/<type>/<YYYY-MM-DD>.ndjson.gz`, gzip, one line per event. A line is the
 * CloudEvent (specversion, id, source, type, subject, time, data) plus `tollgate`: every other
 * stored column (seq, received_at, cost, cost_source, computed_cost, price, typed llm columns,
 * unpriced, estimated), so a restore puts back exactly what was deleted.
 * A second archive of the same type and day (late events, re-archived restores) gets `.2`, `.3`….
 */

export interface ArchiveLine {
  specversion: '1.0';
  id: string;
  source: string;
  type: string;
  subject: string | null;
  time: string;
  data: unknown;
  tollgate: Omit<ArchivedEvent, 'id' | 'source' | 'type' | 'subject' | 'time' | 'data'>;
}

export function toLine(e: ArchivedEvent): ArchiveLine {
  const { id, source, type, subject, time, data, ...rest } = e;
  return { specversion: '1.0', id, source, type, subject, time, data, tollgate: rest };
}

export function fromLine(l: ArchiveLine): ArchivedEvent {
  if (!l || typeof l !== 'object' || typeof l.id !== 'string' || typeof l.source !== 'string' || typeof l.type !== 'string' || typeof l.time !== 'string' || !l.tollgate) {
    throw new Error('not a Tollgate archive line');
  }
  return { ...l.tollgate, id: l.id, source: l.source, type: l.type, subject: l.subject ?? null, time: l.time, data: l.data } as ArchivedEvent;
}

const safeType = (t: string) => t.replace(/[^A-Za-z0-9._-]/g, '_');

/** A path for a new archive of (type, day) that does not exist yet. */
export function nextArchivePath(dir: string, type: string, day: string): string {
  const base = path.join(dir, safeType(type));
  for (let n = 1; ; n++) {
    const p = path.join(base, n === 1 ? `${day}.ndjson.gz` : `${day}.${n}.ndjson.gz`);
    if (!existsSync(p) && !existsSync(p + '.tmp')) return p;
  }
}

export interface ArchiveWriter {
  write(rows: ArchivedEvent[]): Promise<void>;
  /** Flushes, fsyncs, renames into place, re-reads and checks the line count. */
  finish(): Promise<{ path: string; rows: number; bytes: number }>;
  abort(): Promise<void>;
}

export async function openArchive(file: string): Promise<ArchiveWriter> {
  await mkdir(path.dirname(file), { recursive: true });
  const tmp = file + '.tmp';
  const out = createWriteStream(tmp, { flags: 'wx' });
  const gz = createGzip();
  gz.pipe(out);
  let rows = 0;
  const failed = new Promise<never>((_, reject) => {
    out.on('error', reject);
    gz.on('error', reject);
  });
  failed.catch(() => {});
  return {
    async write(batch) {
      if (!batch.length) return;
      const chunk = batch.map((e) => JSON.stringify(toLine(e))).join('\n') + '\n';
      rows += batch.length;
      if (!gz.write(chunk)) await Promise.race([once(gz, 'drain'), failed]);
    },
    async finish() {
      gz.end();
      await Promise.race([once(out, 'finish'), failed]);
      const fh = await open(tmp, 'r+');
      try {
        await fh.sync();
      } finally {
        await fh.close();
      }
      await rename(tmp, file);
      try {
        const dh = await open(path.dirname(file), 'r');
        await dh.sync().catch(() => {});
        await dh.close();
      } catch {
        /* directories cannot be fsynced on every platform */
      }
      const back = await countLines(file);
      if (back !== rows) throw new Error(`archive ${file} holds ${back} lines after writing ${rows}; not deleting anything`);
      return { path: file, rows, bytes: (await stat(file)).size };
    },
    async abort() {
      gz.destroy();
      out.destroy();
      await rm(tmp, { force: true });
    },
  };
}

/** Reads an archive in chunks of `chunk` rows. */
export async function* readArchive(file: string, chunk = 2_000): AsyncGenerator<ArchivedEvent[]> {
  const rl = createInterface({ input: createReadStream(file).pipe(createGunzip()), crlfDelay: Infinity });
  let batch: ArchivedEvent[] = [];
  let n = 0;
  for await (const line of rl) {
    n++;
    if (!line.trim()) continue;
    let parsed: unknown;
    try {
      parsed = JSON.parse(line);
    } catch {
      throw new Error(`${file} line ${n}: not JSON`);
    }
    try {
      batch.push(fromLine(parsed as ArchiveLine));
    } catch (e) {
      throw new Error(`${file} line ${n}: ${(e as Error).message}`);
    }
    if (batch.length >= chunk) {
      yield batch;
      batch = [];
    }
  }
  if (batch.length) yield batch;
}

export async function countLines(file: string): Promise<number> {
  let n = 0;
  const rl = createInterface({ input: createReadStream(file).pipe(createGunzip()), crlfDelay: Infinity });
  for await (const line of rl) if (line.trim()) n++;
  return n;
}

export interface ArchiveFileInfo {
  path: string;
  type: string;
  day: string;
  bytes: number;
}

/** Archive files under dir, by type then day. */
export async function listArchiveFiles(dir: string): Promise<ArchiveFileInfo[]> {
  if (!existsSync(dir)) return [];
  const out: ArchiveFileInfo[] = [];
  for (const t of (await readdir(dir, { withFileTypes: true })).filter((d) => d.isDirectory())) {
    for (const f of await readdir(path.join(dir, t.name))) {
      const m = /^(\d{4}-\d{2}-\d{2})(\.\d+)?\.ndjson\.gz$/.exec(f);
      if (!m) continue;
      const p = path.join(dir, t.name, f);
      out.push({ path: p, type: t.name, day: m[1]!, bytes: (await stat(p)).size });
    }
  }
  return out.sort((a, b) => a.type.localeCompare(b.type) || a.path.localeCompare(b.path));
}
