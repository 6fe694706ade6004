import { existsSync, mkdirSync, readFileSync, writeFileSync, chmodSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import type { Db } from '../shared/db/index.ts';
import type { Clock } from '../shared/clock.ts';
import { ApiError, badRequest } from '../shared/errors.ts';
import { open, parseMasterKey, seal, SecretCryptoError, type KeyProvider } from './crypto.ts';
import { secretStore, type SecretMetaRow } from './store.ts';

export interface SecretMeta {
  name: string;
  key_id: string;
  description: string | null;
  version: number;
  created_at: string;
  updated_at: string;
}

export interface SecretService {
  set(name: string, value: string, description?: string | null): Promise<SecretMeta>;
  /** The plaintext value, for internal use only (upstream credentials); never for an API response. */
  get(name: string): Promise<string | undefined>;
  list(): Promise<SecretMeta[]>;
  delete(name: string): Promise<boolean>;
  /** Re-wraps every data key under `next` in one transaction; values are never re-encrypted. */
  rotateMasterKey(next: KeyProvider): Promise<number>;
  /** Called with a secret's name whenever it changes here (for caches). */
  onChange(fn: (name: string) => void): void;
}

export const SECRET_NAME = /^[A-Za-z0-9][A-Za-z0-9_.\-/]{0,127}$/;

const meta = (r: SecretMetaRow): SecretMeta => ({
  name: r.name,
  key_id: r.key_id,
  description: r.description ?? null,
  version: Number(r.version),
  created_at: new Date(r.created_at).toISOString(),
  updated_at: new Date(r.updated_at).toISOString(),
});

export function checkSecretName(name: string): void {
  if (!SECRET_NAME.test(name)) {
    throw badRequest('INVALID_SECRET_NAME', 'the secret name must be 1–128 characters: letters, digits, "_", ".", "-", "/" (starting with a letter or digit)', 'name');
  }
}

/**
 * The secret store. The key provider is resolved on first use, so a deployment that keeps no
 * secrets never needs (or creates) a master key.
 */
export function secretService(db: Db, clock: Clock, provider: () => Promise<KeyProvider>): SecretService {
  const store = secretStore(db);
  const listeners: Array<(name: string) => void> = [];
  const changed = (name: string) => listeners.forEach((l) => l(name));
  let resolved: Promise<KeyProvider> | undefined;
  const kp = () => (resolved ??= provider().catch((e) => {
    resolved = undefined;
    throw e;
  }));
  const wrapErr = (e: unknown): never => {
    if (e instanceof SecretCryptoError) throw new ApiError({ type: 'internal_error', code: 'SECRET_UNREADABLE', message: e.message });
    throw e;
  };
  return {
    async set(name, value, description) {
      checkSecretName(name);
      if (typeof value !== 'string' || value.length === 0) throw badRequest('INVALID_SECRET_VALUE', 'the secret value must be a non-empty string', 'value');
      const sealed = await seal(await kp(), name, value).catch(wrapErr);
      const row = await store.upsert(name, sealed, description ?? null, clock.now());
      changed(name);
      return meta(row);
    },
    async get(name) {
      const row = await store.get(name);
      if (!row) return undefined;
      return open(await kp(), name, row).catch(wrapErr);
    },
    async list() {
      return (await store.list()).map(meta);
    },
    async delete(name) {
      const ok = await store.delete(name);
      if (ok) changed(name);
      return ok;
    },
    async rotateMasterKey(next) {
      const current = await kp();
      const count = await db.transaction(async (tx) => {
        const s = secretStore(tx);
        const rows = await s.all();
        for (const r of rows) {
          const dataKey = await current.unwrap(r.data_key, r.key_id).catch(wrapErr);
          try {
            await s.rewrap(r.name, next.keyId, await next.wrap(dataKey));
          } finally {
            dataKey.fill(0);
          }
        }
        return rows.length;
      });
      resolved = Promise.resolve(next);
      return count;
    },
    onChange(fn) {
      listeners.push(fn);
    },
  };
}

export interface MasterKeySource {
  /** Base64 key (TOLLGATE_MASTER_KEY). */
  master_key?: string;
  /** Key file; default <data_dir>/master.key. */
  master_key_file?: string;
  data_dir: string;
}

export function masterKeyFile(src: MasterKeySource): string {
  return path.resolve(src.master_key_file ?? path.join(src.data_dir, 'master.key'));
}

/**
 * The local master key: TOLLGATE_MASTER_KEY, else the key file; when neither exists the file is
 * created (32 random bytes, base64, mode 0600) — on first use, not at start.
 */
export function loadMasterKey(src: MasterKeySource, create = true): Buffer {
  if (src.master_key) return parseMasterKey(src.master_key, 'TOLLGATE_MASTER_KEY');
  const file = masterKeyFile(src);
  if (existsSync(file)) return parseMasterKey(readFileSync(file, 'utf8'), `the master key file ${file}`);
  if (!create) throw new SecretCryptoError(`no master key: set TOLLGATE_MASTER_KEY or create ${file}`);
  mkdirSync(path.dirname(file), { recursive: true });
  const key = randomBytes(32);
  writeFileSync(file, key.toString('base64') + '\n', { mode: 0o600, flag: 'wx' });
  chmodSync(file, 0o600);
  return key;
}
