import type { Queryable } from '../shared/db/index.ts';
import type { Sealed } from './crypto.ts';

export interface SecretRow extends Sealed {
  name: string;
  description: string | null;
  version: number;
  created_at: Date;
  updated_at: Date;
}

export type SecretMetaRow = Omit<SecretRow, 'data_key' | 'iv' | 'ciphertext' | 'tag'>;

const buf = (v: unknown): Buffer => (Buffer.isBuffer(v) ? v : Buffer.from(v as Uint8Array));
const toRow = (r: Record<string, unknown>): SecretRow => ({
  name: String(r.name),
  key_id: String(r.key_id),
  data_key: buf(r.data_key),
  iv: buf(r.iv),
  ciphertext: buf(r.ciphertext),
  tag: buf(r.tag),
  description: (r.description as string | null) ?? null,
  version: Number(r.version),
  created_at: new Date(r.created_at as string),
  updated_at: new Date(r.updated_at as string),
});

/** SQL for the `secrets` table; only src/secrets touches it. */
export function secretStore(db: Queryable) {
  return {
    async upsert(name: string, s: Sealed, description: string | null, at: Date): Promise<SecretMetaRow> {
      const r = await db.query(
        `INSERT INTO secrets (name, key_id, data_key, iv, ciphertext, tag, description, version, created_at, updated_at)
         VALUES ($1,$2,$3,$4,$5,$6,$7,1,$8,$8)
         ON CONFLICT (name) DO UPDATE SET key_id = EXCLUDED.key_id, data_key = EXCLUDED.data_key, iv = EXCLUDED.iv,
           ciphertext = EXCLUDED.ciphertext, tag = EXCLUDED.tag,
           description = COALESCE(EXCLUDED.description, secrets.description),
           version = secrets.version + 1, updated_at = EXCLUDED.updated_at
         RETURNING name, key_id, description, version, created_at, updated_at`,
        [name, s.key_id, s.data_key, s.iv, s.ciphertext, s.tag, description, at],
      );
      return r.rows[0] as unknown as SecretMetaRow;
    },
    async get(name: string): Promise<SecretRow | undefined> {
      const r = await db.query('SELECT * FROM secrets WHERE name = $1', [name]);
      return r.rows[0] ? toRow(r.rows[0]) : undefined;
    },
    async all(): Promise<SecretRow[]> {
      const r = await db.query('SELECT * FROM secrets ORDER BY name');
      return r.rows.map(toRow);
    },
    async list(): Promise<SecretMetaRow[]> {
      const r = await db.query('SELECT name, key_id, description, version, created_at, updated_at FROM secrets ORDER BY name');
      return r.rows as unknown as SecretMetaRow[];
    },
    async delete(name: string): Promise<boolean> {
      const r = await db.query('DELETE FROM secrets WHERE name = $1', [name]);
      return r.rowCount > 0;
    },
    async rewrap(name: string, keyId: string, dataKey: Buffer): Promise<void> {
      await db.query('UPDATE secrets SET key_id = $2, data_key = $3 WHERE name = $1', [name, keyId, dataKey]);
    },
  };
}
