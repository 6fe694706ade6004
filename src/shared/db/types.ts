/** The one small query interface every domain's store talks to. PGlite and PostgreSQL both serve it. */
export interface QueryResult<T> {
  rows: T[];
  rowCount: number;
}

export interface QueryOptions {
  /**
   * A name for a hot statement with a fixed text: PostgreSQL parses and plans it once per
   * connection and reuses the plan (PGlite ignores it). Only for statements whose plan does not
   * depend on the parameter values (inserts, lookups by key), never for range queries.
   */
  prepare?: string;
}

export interface Queryable {
  query<T = Record<string, unknown>>(sql: string, params?: unknown[], opts?: QueryOptions): Promise<QueryResult<T>>;
  /** Runs a script of several statements (migrations); no parameters. */
  exec(sql: string): Promise<void>;
}

export interface Db extends Queryable {
  readonly kind: 'pglite' | 'postgres';
  /** Human description for logs: the PGlite path or the PostgreSQL host/db (never the password). */
  readonly description: string;
  /** Runs fn in one transaction; rolls back when fn throws. */
  transaction<T>(fn: (tx: Queryable) => Promise<T>): Promise<T>;
  /** Runs fn holding a session-level advisory lock on one connection (migrations, jobs). */
  withLock<T>(key: number, fn: (conn: Queryable) => Promise<T>): Promise<T>;
  /** Like withLock but gives up (returns undefined) when another process holds the lock. */
  tryLock<T>(key: number, fn: (conn: Queryable) => Promise<T>): Promise<{ ran: true; value: T } | { ran: false }>;
  /** Embedded store only: records where this process serves, for a process its data-dir lock refuses. */
  announce?(address: string): Promise<void>;
  close(): Promise<void>;
}
