import type { Logger } from '../shared/log.ts';

/**
 * Holds gateway events in memory and hands them to the ingest path in batches, so a response
 * never waits on the database. Flushes every `intervalMs` or at `maxEvents`, and on close.
 * A failed flush keeps the batch for the next try (up to `maxHeld` events; beyond that the
 * oldest are dropped and counted).
 */
export interface Recorder {
  add(event: Record<string, unknown>): void;
  flush(): Promise<void>;
  close(): Promise<void>;
  readonly pending: number;
}

export interface RecorderOptions {
  ingest: (batch: Record<string, unknown>[]) => Promise<unknown>;
  intervalMs: number;
  maxEvents: number;
  maxHeld?: number;
  logger?: Logger;
  onDrop?: (n: number) => void;
}

export function createRecorder(o: RecorderOptions): Recorder {
  let buf: Record<string, unknown>[] = [];
  let timer: NodeJS.Timeout | undefined;
  let inflight: Promise<void> = Promise.resolve();
  let closed = false;
  const maxHeld = o.maxHeld ?? 100_000;
  let queued = false;

  // Writes what is buffered when the run starts, no more: events that arrive meanwhile wait for
  // the next tick. Draining until empty made a busy gateway write back-to-back transactions of a
  // few events each (~75/s at 500 req/s instead of 20), and every round trip to the database
  // costs CPU in this process and in PostgreSQL on the same cores as the requests.
  const run = async () => {
    let n = buf.length;
    while (n > 0) {
      const batch = buf.splice(0, Math.min(n, o.maxEvents));
      n -= batch.length;
      try {
        await o.ingest(batch);
      } catch (err) {
        o.logger?.warn({ err: (err as Error).message, events: batch.length }, 'gateway could not record events; will retry');
        buf = batch.concat(buf);
        if (buf.length > maxHeld) {
          const drop = buf.length - maxHeld;
          buf.splice(0, drop);
          o.onDrop?.(drop);
        }
        if (!closed) schedule();
        return;
      }
    }
  };
  const flush = (): Promise<void> => {
    if (timer) {
      clearTimeout(timer);
      timer = undefined;
    }
    // One run waiting behind the one in flight is enough: it takes everything buffered by then.
    if (!queued) {
      queued = true;
      inflight = inflight.then(() => {
        queued = false;
        return run();
      });
    }
    return inflight;
  };
  const schedule = () => {
    if (!timer) {
      timer = setTimeout(() => {
        timer = undefined;
        void flush();
      }, o.intervalMs);
      timer.unref();
    }
  };
  return {
    add(event) {
      buf.push(event);
      if (buf.length >= o.maxEvents) void flush();
      else schedule();
    },
    flush,
    async close() {
      closed = true;
      await flush();
    },
    get pending() {
      return buf.length;
    },
  };
}
