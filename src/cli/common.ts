import { loadConfig, ConfigError, type Config } from '../config.ts';
import { openDb, migrate, type Db } from '../shared/db/index.ts';

/** A failure to report to the user as one line and an exit code, not a stack trace. */
export class CliError extends Error {
  constructor(
    message: string,
    readonly exitCode = 1,
  ) {
    super(message);
  }
}

export function configOrExit(overrides: Record<string, unknown> = {}): Config {
  try {
    return loadConfig({ overrides });
  } catch (e) {
    if (e instanceof ConfigError) throw new CliError(e.message, 2);
    throw e;
  }
}

/** Opens and migrates the configured store for commands that work on it directly; returns the migrations applied. */
export async function withDb(config: Config, fn: (db: Db) => Promise<void>): Promise<string[]> {
  const db = await openDb({ databaseUrl: config.database_url, dataDir: config.data_dir, poolSize: 2 });
  try {
    const applied = await migrate(db);
    await fn(db);
    return applied;
  } finally {
    await db.close();
  }
}

/**
 * Runs fn with the whole app open on the configured store (commands that use several domains:
 * jobs, retention), logging to stderr, and closes it after — which also folds what it queued.
 */
export async function withApp(config: Config, fn: (tg: import('../app.ts').Tollgate) => Promise<void>, logLevel = 'warn'): Promise<void> {
  await withDb(config, async (db) => {
    // Loaded here, not at the top, so `--help` and light commands start fast.
    const { createTollgate } = await import('../app.ts');
    const { createLogger } = await import('../shared/log.ts');
    const tg = await createTollgate(config, { db, logger: createLogger(logLevel, process.stderr.isTTY, true), migrated: true });
    try {
      await fn(tg);
    } finally {
      await tg.close();
    }
  });
}

export function fail(message: string, code = 1): never {
  throw new CliError(message, code);
}

const PG_CODES: Record<string, string> = {
  '3D000': 'the database named in DATABASE_URL does not exist: create it (e.g. `createdb <name>`) or fix the URL',
  '28P01': 'PostgreSQL refused the password in DATABASE_URL',
  '28000': 'PostgreSQL refused the role in DATABASE_URL (check pg_hba.conf and the user name)',
  '42501': 'the PostgreSQL role in DATABASE_URL lacks a privilege Tollgate needs (it creates its tables on first start)',
};

/**
 * What went wrong, as one line a person can act on, for the failures people meet (a port in use,
 * a database that is down or missing, a server that is down); undefined for a bug.
 */
export function describeFailure(e: unknown, config?: Pick<Config, 'host' | 'port' | 'database_url'>): string | undefined {
  if (e instanceof CliError || e instanceof ConfigError) return e.message;
  const err = e as NodeJS.ErrnoException & { address?: string; port?: number; syscall?: string };
  if (err?.name === 'DataDirLocked') return err.message;
  if (err?.code === 'EADDRINUSE') {
    return `port ${err.port ?? config?.port} on ${err.address ?? config?.host} is already in use (is another tollgate serve running?): stop that process or choose another port with --port or PORT`;
  }
  if (err?.code === 'EACCES' && err.syscall === 'listen') return `not allowed to listen on port ${err.port ?? config?.port}: choose a port above 1023 with --port or PORT`;
  if (err?.code === 'EADDRNOTAVAIL') return `cannot listen on ${err.address ?? config?.host}: this machine has no such address (HOST / --host)`;
  if (['ECONNREFUSED', 'ENOTFOUND', 'ETIMEDOUT', 'EHOSTUNREACH', 'ECONNRESET'].includes(err?.code ?? '') && config?.database_url) {
    return `cannot reach PostgreSQL at ${redactUrl(config.database_url)} (${err.code}): is it running and is DATABASE_URL right?`;
  }
  if (err?.code && PG_CODES[err.code]) return `${PG_CODES[err.code]} (${err.message})`;
  return undefined;
}

/** A database URL without its password, for messages. */
export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    return u.toString();
  } catch {
    return '(DATABASE_URL)';
  }
}
