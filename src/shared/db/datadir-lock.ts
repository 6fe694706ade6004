import { open, readFile, unlink, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';

/**
 * PGlite is one PostgreSQL inside one process: a second process opening the same data directory
 * gets its own copy of the database in memory, and whichever writes its files last wins — the
 * other's acknowledged events are gone. So the embedded store is held by one process at a time,
 * through `tollgate.lock` in the data directory (created with O_EXCL; a lock whose process is
 * gone is taken over).
 */
export interface LockHolder {
  pid: number;
  hostname: string;
  started_at: string;
  command: string;
  /** Set by `tollgate serve` once it listens, so a refused CLI command can point at the server. */
  address?: string;
}

export class DataDirLocked extends Error {
  constructor(
    readonly dir: string,
    readonly holder: LockHolder,
  ) {
    const who = `${holder.command || 'tollgate'} (pid ${holder.pid}${holder.address ? `, listening on ${holder.address}` : ''})`;
    super(
      `the embedded store in ${dir} is in use by ${who}. PGlite serves one process at a time: stop that process first` +
        (holder.address ? `, or do this through its HTTP API (${holder.address}/docs)` : '') +
        `, or give this one its own TOLLGATE_DATA_DIR. Several processes on one store need PostgreSQL (DATABASE_URL).`,
    );
    this.name = 'DataDirLocked';
  }
}

export interface DataDirLock {
  /** Adds facts for whoever is refused next (the server's address). */
  note(extra: Partial<LockHolder>): Promise<void>;
  release(): Promise<void>;
}

const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
};

async function readHolder(file: string): Promise<LockHolder | undefined> {
  try {
    return JSON.parse(await readFile(file, 'utf8')) as LockHolder;
  } catch {
    return undefined; // gone meanwhile, or half written by a process that died: stale
  }
}

export async function lockDataDir(dir: string, command = process.argv.slice(2).join(' ')): Promise<DataDirLock> {
  const file = path.join(dir, 'tollgate.lock');
  const me: LockHolder = { pid: process.pid, hostname: os.hostname(), started_at: new Date().toISOString(), command: `tollgate ${command}`.trim() };
  for (let attempt = 0; ; attempt++) {
    try {
      const fh = await open(file, 'wx');
      await fh.writeFile(JSON.stringify(me));
      await fh.close();
      break;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST' || attempt >= 2) throw e;
      const holder = await readHolder(file);
      // Another machine's process (a shared volume) cannot be checked: it holds the lock until removed by hand.
      if (holder && (holder.hostname !== me.hostname || alive(holder.pid))) throw new DataDirLocked(dir, holder);
      await unlink(file).catch(() => {});
    }
  }
  let held = true;
  return {
    async note(extra) {
      if (held) await writeFile(file, JSON.stringify(Object.assign(me, extra)));
    },
    async release() {
      if (!held) return;
      held = false;
      const holder = await readHolder(file);
      if (holder?.pid === me.pid && holder.started_at === me.started_at) await unlink(file).catch(() => {});
    },
  };
}
