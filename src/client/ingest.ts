import { randomUUID } from 'node:crypto';
import pRetry, { AbortError } from 'p-retry';

/**
 * Ingest client for apps that call providers themselves: events are batched, sent to
 * POST /v1/events with retries (exponential backoff, Retry-After honoured), and flushed on exit.
 */
export interface IngestClientOptions {
  /** Tollgate base URL, e.g. http://127.0.0.1:8787 */
  baseUrl: string;
  /** A key with the ingest scope. */
  apiKey: string;
  /** CloudEvents source for events without one (default "tollgate-sdk"). */
  source?: string;
  batchSize?: number;
  flushIntervalMs?: number;
  maxRetries?: number;
  /** Flush what is buffered when the process is about to exit (default true). */
  flushOnExit?: boolean;
  onError?: (err: Error, events: unknown[]) => void;
  fetch?: typeof fetch;
}

export interface IngestEvent {
  id?: string;
  type?: string;
  source?: string;
  subject?: string | null;
  time?: string | Date;
  data: Record<string, unknown>;
}

export interface IngestClient {
  record(event: IngestEvent): void;
  flush(): Promise<void>;
  close(): Promise<void>;
  readonly pending: number;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export function createIngestClient(o: IngestClientOptions): IngestClient {
  const batchSize = o.batchSize ?? 100;
  const interval = o.flushIntervalMs ?? 1000;
  const maxRetries = o.maxRetries ?? 5;
  const f = o.fetch ?? fetch;
  const url = o.baseUrl.replace(/\/+$/, '') + '/v1/events';
  let buf: Record<string, unknown>[] = [];
  let timer: NodeJS.Timeout | undefined;
  let chain: Promise<void> = Promise.resolve();

  // Retries 429/5xx/network failures with jittered exponential backoff (p-retry), waiting at least
  // what Retry-After asks; any other answer is final. A batch that still fails goes to onError.
  const send = (batch: Record<string, unknown>[]) =>
    pRetry(
      async () => {
        const res = await f(url, { method: 'POST', headers: { authorization: `Bearer ${o.apiKey}`, 'content-type': 'application/cloudevents-batch+json' }, body: JSON.stringify(batch) });
        if (res.ok) return;
        const text = await res.text();
        if (res.status !== 429 && res.status < 500) throw new AbortError(`Tollgate rejected the batch: HTTP ${res.status} ${text.slice(0, 300)}`);
        const ra = Number(res.headers.get('retry-after'));
        throw Object.assign(new Error(`Tollgate answered HTTP ${res.status}`), { retryAfterMs: ra > 0 ? ra * 1000 : 0 });
      },
      {
        retries: maxRetries,
        minTimeout: 100,
        maxTimeout: 30_000,
        randomize: true,
        onFailedAttempt: async ({ error, retriesLeft }) => {
          const wait = (error as { retryAfterMs?: number }).retryAfterMs;
          if (wait && retriesLeft > 0) await sleep(wait);
        },
      },
    ).catch((e: Error) => o.onError?.(e, batch));
  const flush = () => {
    if (timer) {
      clearTimeout(timer);
      timer = undefined;
    }
    chain = chain.then(async () => {
      while (buf.length) await send(buf.splice(0, batchSize));
    });
    return chain;
  };
  const onExit = () => {
    if (buf.length) void flush();
  };
  if (o.flushOnExit !== false) process.on('beforeExit', onExit);
  return {
    record(e) {
      buf.push({
        specversion: '1.0',
        id: e.id ?? `sdk_${randomUUID()}`,
        source: e.source ?? o.source ?? 'tollgate-sdk',
        type: e.type ?? 'llm.usage',
        time: e.time instanceof Date ? e.time.toISOString() : (e.time ?? new Date().toISOString()),
        ...(e.subject ? { subject: e.subject } : {}),
        data: e.data,
      });
      if (buf.length >= batchSize) void flush();
      else if (!timer) {
        timer = setTimeout(() => void flush(), interval);
        timer.unref();
      }
    },
    flush,
    async close() {
      process.off('beforeExit', onExit);
      await flush();
    },
    get pending() {
      return buf.length;
    },
  };
}
