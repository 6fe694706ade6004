import type { Queryable } from '../shared/db/index.ts';
import type { Scope } from './keys.ts';

export interface KeyRow {
  id: string;
  name: string;
  prefix: string;
  scopes: Scope[];
  subject: string | null;
  team: string | null;
  project: string | null;
  created_at: Date;
  revoked_at: Date | null;
  last_used_at: Date | null;
}

const COLS = 'id, name, prefix, scopes, subject, team, project, created_at, revoked_at, last_used_at';

export interface KeyStore {
  insert(k: Omit<KeyRow, 'created_at' | 'revoked_at' | 'last_used_at'> & { key_hash: string; created_at: Date }): Promise<void>;
  findActiveByHash(hash: string): Promise<KeyRow | undefined>;
  get(id: string): Promise<KeyRow | undefined>;
  list(includeRevoked: boolean): Promise<KeyRow[]>;
  revoke(id: string, at: Date): Promise<KeyRow | undefined>;
  countActive(): Promise<number>;
  touch(ids: string[], at: Date): Promise<void>;
}

export function keyStore(db: Queryable): KeyStore {
  return {
    async insert(k) {
      await db.query(
        `INSERT INTO api_keys (id, name, prefix, key_hash, scopes, subject, team, project, created_at)
         VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9)`,
        [k.id, k.name, k.prefix, k.key_hash, k.scopes, k.subject, k.team, k.project, k.created_at],
      );
    },
    async findActiveByHash(hash) {
      const r = await db.query<KeyRow>(`SELECT ${COLS} FROM api_keys WHERE key_hash = $1 AND revoked_at IS NULL`, [hash]);
      return r.rows[0];
    },
    async get(id) {
      const r = await db.query<KeyRow>(`SELECT ${COLS} FROM api_keys WHERE id = $1`, [id]);
      return r.rows[0];
    },
    async list(includeRevoked) {
      const r = await db.query<KeyRow>(
        `SELECT ${COLS} FROM api_keys ${includeRevoked ? '' : 'WHERE revoked_at IS NULL'} ORDER BY created_at, id`,
      );
      return r.rows;
    },
    async revoke(id, at) {
      const r = await db.query<KeyRow>(
        `UPDATE api_keys SET revoked_at = COALESCE(revoked_at, $2) WHERE id = $1 RETURNING ${COLS}`,
        [id, at],
      );
      return r.rows[0];
    },
    async countActive() {
      const r = await db.query<{ n: string }>('SELECT count(*) AS n FROM api_keys WHERE revoked_at IS NULL');
      return Number(r.rows[0]!.n);
    },
    async touch(ids, at) {
      if (ids.length) await db.query('UPDATE api_keys SET last_used_at = $2 WHERE id = ANY($1::text[])', [ids, at]);
    },
  };
}
