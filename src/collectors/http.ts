import pRetry, { AbortError } from 'p-retry';

/**
 * GET a provider report page as JSON: 3 retries with 1 s / 2 s / 4 s backoff, a `Retry-After`
 * (seconds or an HTTP date) lengthening the wait when it asks for more; 429, 5xx, a timeout and a
 * connection error are retried, any other 4xx is final. `sleep` is passed in so a test can run
 * the timeline on a controlled clock (p-retry's own timers are set to 0 and the wait happens in
 * onFailedAttempt, which p-retry awaits).
 */

export const BACKOFF_MS = [1000, 2000, 4000];

export class ProviderHttpError extends Error {
  constructor(
    message: string,
    readonly status: number | null,
    readonly retryAfterMs: number | null = null,
  ) {
    super(message);
  }
}

export interface FetchOptions {
  headers: Record<string, string>;
  timeoutMs: number;
  sleep: (ms: number) => Promise<void>;
  now: () => Date;
  /** Called before each wait (tests record the timeline). */
  onRetry?: (info: { attempt: number; waitMs: number; error: string }) => void;
}

/** Seconds, or an HTTP date relative to now; null when absent or unreadable. */
export function parseRetryAfter(v: string | null, now: Date): number | null {
  if (!v) return null;
  if (/^\d+(\.\d+)?$/.test(v.trim())) return Math.round(Number(v) * 1000);
  const t = Date.parse(v);
  return Number.isNaN(t) ? null : Math.max(0, t - now.getTime());
}

export async function fetchJson(url: string, o: FetchOptions): Promise<unknown> {
  return pRetry(
    async () => {
      let res: Response;
      try {
        res = await fetch(url, { headers: { accept: 'application/json', ...o.headers }, signal: AbortSignal.timeout(o.timeoutMs) });
      } catch (e) {
        const err = e as Error;
        const timeout = err.name === 'TimeoutError' || err.name === 'AbortError';
        throw new ProviderHttpError(timeout ? `no answer within ${o.timeoutMs} ms` : `connection failed: ${(err.cause as Error)?.message ?? err.message}`, null);
      }
      let text: string;
      try {
        text = await res.text();
      } catch (e) {
        throw new ProviderHttpError(`reading the answer failed: ${(e as Error).message}`, null);
      }
      if (res.ok) {
        try {
          return JSON.parse(text) as unknown;
        } catch {
          throw new AbortError(new ProviderHttpError(`HTTP ${res.status} with a body that is not JSON`, res.status));
        }
      }
      const detail = text.slice(0, 300).replace(/\s+/g, ' ');
      const err = new ProviderHttpError(`HTTP ${res.status}: ${detail}`, res.status, parseRetryAfter(res.headers.get('retry-after'), o.now()));
      if (res.status === 429 || res.status >= 500 || res.status === 408) throw err;
      throw new AbortError(err);
    },
    {
      retries: BACKOFF_MS.length,
      minTimeout: 0,
      maxTimeout: 0,
      factor: 1,
      randomize: false,
      onFailedAttempt: async ({ error, attemptNumber, retriesLeft }) => {
        if (retriesLeft <= 0) return;
        const e = error as ProviderHttpError;
        const waitMs = Math.max(BACKOFF_MS[attemptNumber - 1] ?? BACKOFF_MS[BACKOFF_MS.length - 1]!, e.retryAfterMs ?? 0);
        o.onRetry?.({ attempt: attemptNumber, waitMs, error: e.message });
        await o.sleep(waitMs);
      },
    },
  );
}
