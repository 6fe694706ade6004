import { loadConfig, ConfigError, type Config } from '../shared/config.ts';
import { openDb, migrate, type Db } from '../shared/db/index.ts';

export function configOrExit(overrides: Record<string, unknown> = {}): Config {
  try {
    return loadConfig({ overrides });
  } catch (e) {
    if (e instanceof ConfigError) {
      process.stderr.write(`tollgate: ${e.message}\n`);
      process.exit(2);
    }
    throw e;
  }
}

/** Opens and migrates the configured store for commands that work on it directly. */
export async function withDb<T>(config: Config, fn: (db: Db) => Promise<T>): Promise<T> {
  const db = await openDb({ databaseUrl: config.database_url, dataDir: config.data_dir, poolSize: 2 });
  try {
    await migrate(db);
    return await fn(db);
  } finally {
    await db.close();
  }
}

export function fail(message: string, code = 1): never {
  process.stderr.write(`tollgate: ${message}\n`);
  process.exit(code);
}
