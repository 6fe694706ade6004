import type { Clock } from '../shared/clock.ts';
import { andThen, ttlCache, type Awaitable } from '../shared/awaitable.ts';
import type { SecretService } from '../secrets/service.ts';
import type { ResolvedProvider } from './config.ts';

/**
 * Upstream credentials: the provider's `credential` secret (decrypted, cached for `ttlMs`; any
 * secret change clears the cache at once), else the key from the environment. A cache hit answers
 * synchronously.
 */
export function createCredentials(d: { secrets: SecretService; clock: Clock; ttlMs: number }) {
  const creds = ttlCache<string, string | undefined>({ clock: d.clock, ttlMs: d.ttlMs, load: (name) => d.secrets.get(name) });
  d.secrets.onChange(() => creds.clear());
  return {
    /** The upstream API key: the named secret, else the env key. */
    keyFor: (p: ResolvedProvider): Awaitable<string | undefined> => (p.credential ? andThen(creds.get(p.credential), (v) => v ?? p.api_key) : p.api_key),
    /** The named secret's value (signing providers parse it themselves), if there is one. */
    secretFor: (p: ResolvedProvider): Awaitable<string | undefined> => (p.credential ? creds.get(p.credential) : undefined),
  };
}
export type Credentials = ReturnType<typeof createCredentials>;
