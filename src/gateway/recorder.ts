import type { Logger } from '../shared/log.ts';

type Event = Record<string, unknown>;

/**
 * Holds gateway events in memory and hands them to the ingest path in batches, so a response
 * never waits on the database. Flushes every `intervalMs` or at `maxEvents`, and on close.
 *
 * Two kinds of failure are told apart (docs/gateway.md, "Durability trade-off"):
 * - the store is unreachable (connection refused or lost, the server shutting down): the batch is
 *   kept and retried with a growing pause (up to `maxHeld` events; beyond that the oldest are
 *   dropped and counted), so a brief database outage loses nothing;
 * - the store refuses the data (a data error, a validation refusal): the batch is split in halves
 *   until the event it refuses stands alone, and that one event is dropped, logged and counted.
 *   One poison event never holds up the others.
 * Events ingest answers as `rejected` (or the whole batch as ALL_REJECTED) are logged and counted
 * as dropped too: they are not stored as usage. `close()` flushes; what still cannot be written
 * after `closeAttempts` tries is logged and counted, never dropped silently.
 */
export interface Recorder {
  add(event: Event): void;
  flush(): Promise<void>;
  close(): Promise<void>;
  readonly pending: number;
}

export interface RecorderOptions {
  ingest: (batch: Event[]) => Promise<unknown>;
  intervalMs: number;
  maxEvents: number;
  maxHeld?: number;
  /** Longest pause between retries while the store is unreachable. */
  maxBackoffMs?: number;
  /** Tries on close while the store is unreachable before the rest is dropped (and counted). */
  closeAttempts?: number;
  logger?: Logger;
  onDrop?: (n: number) => void;
}

export type StoreFailure = 'unreachable' | 'refused' | 'unknown';

/** SQLSTATE classes that say the server could not take any statement now, whatever the data. */
const UNREACHABLE_CLASSES = new Set(['08', '53', '57', '58']);
const UNREACHABLE_TEXT = /connect|connection|terminated|timed? ?out|closed|shutting down|after calling end/i;

/**
 * Pure: what a failed ingest says about the store. `refused` only when the error says so (a
 * data-class SQLSTATE, a domain error from ingest, a JS error raised by the data itself); network
 * errors and connection-class SQLSTATEs are `unreachable`; anything else is `unknown`.
 */
export function classifyStoreError(err: unknown): StoreFailure {
  const e = err as { code?: unknown; status?: unknown; syscall?: unknown; message?: unknown; name?: unknown } | null;
  if (!e || typeof e !== 'object') return 'unknown';
  const code = typeof e.code === 'string' ? e.code : '';
  if (typeof e.syscall === 'string' || /^E[A-Z]{2,}$/.test(code)) return 'unreachable';
  if (typeof e.status === 'number') return e.status === 503 ? 'unreachable' : 'refused'; // ApiError
  if (/^[0-9A-Z]{5}$/.test(code)) {
    if (UNREACHABLE_CLASSES.has(code.slice(0, 2)) || code === '40001' || code === '40P01') return 'unreachable';
    return 'refused';
  }
  if (e.name === 'RangeError' || e.name === 'TypeError') return 'refused';
  return UNREACHABLE_TEXT.test(String(e.message ?? '')) ? 'unreachable' : 'unknown';
}

const errText = (err: unknown) => (err instanceof Error ? err.message : String(err));
const idOf = (e: Event) => (typeof e.id === 'string' ? e.id : undefined);
const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms).unref());

interface Writer {
  ingest: RecorderOptions['ingest'];
  logger?: Logger;
  drop(events: Event[], why: string, err?: unknown): void;
}

/** Ingest answered: events it rejected are not stored (they are kept in rejected_events). */
function noteRejected(w: Writer, batch: Event[], result: unknown) {
  const rejected = (result as { rejected?: Array<{ index: number; error: string }> } | undefined)?.rejected;
  if (!rejected?.length) return;
  w.drop(
    rejected.map((r) => batch[r.index]!).filter(Boolean),
    `ingest rejected them (first: ${rejected[0]!.error})`,
  );
}

/**
 * Writes a batch, splitting one the store refuses until the refused event stands alone.
 * Returns the events still to write when the store turned out to be unreachable; `stored` says
 * whether anything of this run was written (an `unknown` failure of one event alone is taken as
 * a refusal only then: the store is evidently up).
 */
async function writeBatch(w: Writer, batch: Event[], run: { stored: boolean }): Promise<Event[] | undefined> {
  let err: unknown;
  try {
    noteRejected(w, batch, await w.ingest(batch));
    run.stored = true;
    return undefined;
  } catch (e) {
    err = e;
  }
  const kind = classifyStoreError(err);
  const code = (err as { code?: unknown }).code;
  if (kind === 'unreachable') {
    w.logger?.warn({ err: errText(err), events: batch.length }, 'gateway could not reach the store; will retry');
    return batch;
  }
  if (code === 'ALL_REJECTED') {
    w.drop(batch, `ingest rejected them (${errText(err)})`);
    return undefined;
  }
  if (batch.length === 1) {
    if (kind === 'refused' || run.stored) {
      w.drop(batch, 'the store refused the event', err);
      return undefined;
    }
    w.logger?.warn({ err: errText(err), events: 1 }, 'gateway could not record an event; will retry');
    return batch;
  }
  const mid = batch.length >> 1;
  const left = await writeBatch(w, batch.slice(0, mid), run);
  if (left) return left.concat(batch.slice(mid));
  return writeBatch(w, batch.slice(mid), run);
}

export function createRecorder(o: RecorderOptions): Recorder {
  let buf: Event[] = [];
  let timer: NodeJS.Timeout | undefined;
  let inflight: Promise<void> = Promise.resolve();
  let closing = false;
  let closed = false;
  const maxHeld = o.maxHeld ?? 100_000;
  const maxBackoff = o.maxBackoffMs ?? 5_000;
  let queued = false;
  /** Consecutive runs that found the store unreachable (the retry pause doubles with each). */
  let outages = 0;

  const drop = (events: Event[], why: string, err?: unknown) => {
    if (!events.length) return;
    o.logger?.error({ err: err === undefined ? undefined : errText(err), events: events.length, ids: events.slice(0, 10).map(idOf) }, `gateway dropped events: ${why}`);
    o.onDrop?.(events.length);
  };

  const writer: Writer = { ingest: o.ingest, logger: o.logger, drop };

  // Writes what is buffered when the run starts, no more: events that arrive meanwhile wait for
  // the next tick. Draining until empty made a busy gateway write back-to-back transactions of a
  // few events each (~75/s at 500 req/s instead of 20), and every round trip to the database
  // costs CPU in this process and in PostgreSQL on the same cores as the requests.
  const run = async () => {
    let n = buf.length;
    const state = { stored: false };
    while (n > 0) {
      const batch = buf.splice(0, Math.min(n, o.maxEvents));
      n -= batch.length;
      const left = await writeBatch(writer, batch, state);
      if (!left) continue;
      buf = left.concat(buf);
      if (buf.length > maxHeld) drop(buf.splice(0, buf.length - maxHeld), `the store stayed unreachable and more than ${maxHeld} events were held`);
      if (closed) drop(buf.splice(0), 'the store was unreachable after shutdown');
      outages++;
      if (!closing) schedule(Math.min(maxBackoff, o.intervalMs * 2 ** outages));
      return;
    }
    outages = 0;
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
  const schedule = (ms = o.intervalMs) => {
    if (!timer) {
      timer = setTimeout(() => {
        timer = undefined;
        void flush();
      }, ms);
      timer.unref();
    }
  };
  return {
    add(event) {
      buf.push(event);
      // While the store is unreachable the retry timer decides when to try again.
      if (closed || (buf.length >= o.maxEvents && outages === 0)) void flush();
      else schedule();
    },
    flush,
    async close() {
      closing = true;
      const attempts = Math.max(1, o.closeAttempts ?? 5);
      for (let i = 0; i < attempts; i++) {
        await flush();
        if (!buf.length || i === attempts - 1) break;
        await sleep(Math.min(maxBackoff, o.intervalMs * 2 ** (i + 1)));
      }
      closed = true;
      if (timer) clearTimeout(timer);
      timer = undefined;
      drop(buf.splice(0), 'the store could not be reached before shutdown');
    },
    get pending() {
      return buf.length;
    },
  };
}
