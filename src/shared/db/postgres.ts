import pg from 'pg';
import type { Db, Queryable, QueryOptions, QueryResult } from './types.ts';

export interface PostgresOptions {
  url: string;
  /** Schema to use as search_path (tests isolate each file in its own schema). */
  schema?: string;
  max?: number;
}

function wrap(c: { query: pg.Pool['query'] }): Queryable {
  return {
    async query<T>(sql: string, params?: unknown[], opts?: QueryOptions): Promise<QueryResult<T>> {
      const r = opts?.prepare ? await c.query({ name: opts.prepare, text: sql, values: params as unknown[] | undefined }) : await c.query(sql, params as unknown[] | undefined);
      return { rows: r.rows as T[], rowCount: r.rowCount ?? r.rows.length };
    },
    async exec(sql: string) {
      await c.query(sql);
    },
  };
}

/**
 * Whether a connection that saw this error can serve the next query: an error the server answered
 * with (a constraint, an exception a function raised) leaves it usable; a lost or broken one does
 * not. pg-pool's own `pool.query` drops the connection on any error, so each such error cost the
 * next query a new connection (~40 ms here).
 */
const connectionSurvives = (e: unknown) => e instanceof pg.DatabaseError && e.severity !== 'FATAL' && e.severity !== 'PANIC';

export function describePostgresUrl(url: string): string {
  try {
    const u = new URL(url);
    return `PostgreSQL ${u.hostname || 'localhost'}${u.port ? ':' + u.port : ''}/${u.pathname.replace(/^\//, '') || u.username}`;
  } catch {
    return 'PostgreSQL';
  }
}

export async function openPostgres(opts: PostgresOptions): Promise<Db> {
  const pool = new pg.Pool({
    connectionString: opts.url,
    max: opts.max ?? 10,
    // JIT compiling costs more than these short aggregate queries take (~10-30 ms a plan).
    options: ['-c jit=off', opts.schema ? `-c search_path=${opts.schema}` : ''].filter(Boolean).join(' '),
  });
  // An idle client that loses its server must not crash the process; the next query reconnects.
  pool.on('error', () => {});
  if (opts.schema) {
    const c = new pg.Client({ connectionString: opts.url });
    await c.connect();
    try {
      await c.query(`CREATE SCHEMA IF NOT EXISTS "${opts.schema}"`);
    } finally {
      await c.end();
    }
  }
  async function onClient<T>(fn: (c: pg.PoolClient) => Promise<T>): Promise<T> {
    const client = await pool.connect();
    let broken = false;
    try {
      return await fn(client);
    } catch (e) {
      broken = !connectionSurvives(e);
      throw e;
    } finally {
      client.release(broken);
    }
  }
  return {
    kind: 'postgres',
    description: describePostgresUrl(opts.url) + (opts.schema ? ` (schema ${opts.schema})` : ''),
    query: (sql, params, o) => onClient((c) => wrap(c).query(sql, params, o)),
    exec: (sql) => onClient((c) => wrap(c).exec(sql)),
    transaction: (fn) =>
      onClient(async (client) => {
        await client.query('BEGIN');
        try {
          const v = await fn(wrap(client));
          await client.query('COMMIT');
          return v;
        } catch (e) {
          await client.query('ROLLBACK').catch(() => {});
          throw e;
        }
      }),
    withLock: (key, fn) =>
      onClient(async (client) => {
        await client.query('SELECT pg_advisory_lock($1)', [key]);
        try {
          return await fn(wrap(client));
        } finally {
          await client.query('SELECT pg_advisory_unlock($1)', [key]);
        }
      }),
    tryLock: (key, fn) =>
      onClient(async (client) => {
        const r = await client.query<{ ok: boolean }>('SELECT pg_try_advisory_lock($1) AS ok', [key]);
        if (!r.rows[0]?.ok) return { ran: false as const };
        try {
          return { ran: true as const, value: await fn(wrap(client)) };
        } finally {
          await client.query('SELECT pg_advisory_unlock($1)', [key]);
        }
      }),
    close: () => pool.end(),
  };
}
