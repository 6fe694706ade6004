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

/** What a key is bound to: the rows it may read and what it stamps on what it writes. */
export type Binding = Pick<Principal, 'subject' | 'team' | 'project'>;
export const BINDING_FIELDS = ['subject', 'team', 'project'] as const;

export function isBound(b: Binding): boolean {
  return BINDING_FIELDS.some((f) => b[f] != null);
}

/**
 * True when `inner` is bound at least as narrowly as `outer`: every binding `outer` has, `inner`
 * has with the same value. An unbound `outer` contains everything.
 */
export function withinBinding(outer: Binding, inner: Partial<Binding>): boolean {
  return BINDING_FIELDS.every((f) => outer[f] == null || inner[f] === outer[f]);
}

/** The scopes of `wanted` that `holder` does not hold itself (admin holds every scope). */
export function scopesBeyond(holder: Pick<Principal, 'scopes'>, wanted: readonly Scope[]): Scope[] {
  return wanted.filter((s) => !hasScope(holder, s));
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
