import { loadConfig, ConfigError, type Config } from '../shared/config.ts';
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

export function fail(message: string, code = 1): never {
  throw new CliError(message, code);
}
