import { randomUUID } from 'node:crypto';

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

  const send = async (batch: Record<string, unknown>[]) => {
    for (let attempt = 0; ; attempt++) {
      let retryAfter: number | undefined;
      try {
        const res = await f(url, { method: 'POST', headers: { authorization: `Bearer ${o.apiKey}`, 'content-type': 'application/cloudevents-batch+json' }, body: JSON.stringify(batch) });
        if (res.ok) return;
        const text = await res.text();
        if (res.status !== 429 && res.status < 500) throw Object.assign(new Error(`Tollgate rejected the batch: HTTP ${res.status} ${text.slice(0, 300)}`), { final: true });
        const ra = Number(res.headers.get('retry-after'));
        if (ra > 0) retryAfter = ra * 1000;
        if (attempt >= maxRetries) throw new Error(`Tollgate answered HTTP ${res.status} after ${attempt + 1} attempts`);
      } catch (e) {
        if ((e as { final?: boolean }).final || attempt >= maxRetries) {
          o.onError?.(e as Error, batch);
          return;
        }
      }
      await sleep(retryAfter ?? Math.min(30_000, 100 * 2 ** attempt) * (0.5 + Math.random() / 2));
    }
  };
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
