import { createHash, randomBytes } from 'node:crypto';

export const SCOPES = ['admin', 'read', 'ingest', 'gateway'] as const;
export type Scope = (typeof SCOPES)[number];

/** Who is calling: an API key's grants and bindings. */
export interface Principal {
  keyId: string;
  name: string;
  scopes: Scope[];
  subject: string | null;
  team: string | null;
  project: string | null;
}

export function hasScope(p: Pick<Principal, 'scopes'>, needed: Scope): boolean {
  return p.scopes.includes('admin') || p.scopes.includes(needed);
}

const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';

function randomToken(n: number): string {
  // 62 does not divide 256: reject bytes ≥ 248 so every character is equally likely.
  let out = '';
  while (out.length < n) {
    for (const b of randomBytes(n * 2)) {
      if (b < 248 && out.length < n) out += ALPHABET[b % 62];
    }
  }
  return out;
}

/** A new secret: `tg_` + 40 base62 characters (~238 bits), so a fast hash is enough to store it. */
export function generateSecret(): string {
  return 'tg_' + randomToken(40);
}

export function newKeyId(): string {
  return 'key_' + randomToken(16);
}

export function hashSecret(secret: string): string {
  return createHash('sha256').update(secret, 'utf8').digest('hex');
}

export function secretPrefix(secret: string): string {
  return secret.slice(0, Math.min(8, Math.max(3, secret.length - 8)));
}
