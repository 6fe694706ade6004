import { randomUUID } from 'node:crypto';
import pg from 'pg';
import type { ServerResponse } from 'node:http';
import type { App } from '../http/server.ts';
import { requireScope } from '../http/auth.ts';
import { isBound } from '../auth/keys.ts';
import type { KeyService } from '../auth/service.ts';
import type { Signals, UsageSignal } from '../shared/signals.ts';
import type { Logger } from '../shared/log.ts';
import type { StoredEvent } from '../events/types.ts';

/** The NOTIFY channel that carries `usage.ingested` between processes on one PostgreSQL. */
export const USAGE_CHANNEL = 'tollgate_usage';
/** Signals arriving within this many ms go out as one SSE event / one NOTIFY (the live view needs ≤ 2 s). */
export const COALESCE_MS = 250;
const HEARTBEAT_MS = 15_000;

/** The `usage.ingested` signal for a committed batch: how many events and which UTC hours they touched. */
export function usageSignalOf(rows: Pick<StoredEvent, 'time'>[], now: Date): UsageSignal {
  const hours = new Set<string>();
  for (const r of rows) hours.add(new Date(Math.floor(r.time.getTime() / 3_600_000) * 3_600_000).toISOString());
  return { type: 'usage.ingested', events: rows.length, hours: [...hours].sort(), occurred_at: now.toISOString() };
}

/** Merges signals into one (sum of events, union of hours, latest time). */
export function mergeUsage(a: UsageSignal, b: UsageSignal): UsageSignal {
  return {
    type: 'usage.ingested',
    events: a.events + b.events,
    hours: [...new Set([...a.hours, ...b.hours])].sort(),
    occurred_at: a.occurred_at > b.occurred_at ? a.occurred_at : b.occurred_at,
  };
}

/** Calls `flush` with the merge of what arrived in the last `ms` (one timer at a time). */
export function coalescer(ms: number, flush: (s: UsageSignal) => void) {
  let pending: UsageSignal | undefined;
  let timer: NodeJS.Timeout | undefined;
  return {
    push(s: UsageSignal) {
      pending = pending ? mergeUsage(pending, s) : s;
      timer ??= setTimeout(() => {
        timer = undefined;
        const out = pending!;
        pending = undefined;
        flush(out);
      }, ms);
    },
    stop() {
      if (timer) clearTimeout(timer);
    },
  };
}

interface Client {
  res: ServerResponse;
  bound: boolean;
}

/**
 * GET /v1/stream: server-sent events for the dashboard. `event: usage` carries a hint (events,
 * UTC hours touched) — never rows — so a team-bound key learns nothing of other teams' data: its
 * page re-reads only its own, scoped, "today" slice. Fed by this process's `usage.ingested`
 * signal and, on PostgreSQL, by the other processes' through LISTEN/NOTIFY.
 */
export function wireStream(d: { server: App; keys: KeyService; signals: Signals; logger: Logger; databaseUrl?: string; dbKind: 'pglite' | 'postgres' }) {
  const clients = new Set<Client>();
  const instance = randomUUID();
  const send = (s: UsageSignal) => {
    for (const c of clients) {
      const body = c.bound ? { hours: s.hours, occurred_at: s.occurred_at } : { events: s.events, hours: s.hours, occurred_at: s.occurred_at };
      c.res.write(`event: usage\ndata: ${JSON.stringify(body)}\n\n`);
    }
  };
  const local = coalescer(COALESCE_MS, (s) => {
    send(s);
    if (listener) listener.notify(s);
  });
  const off = d.signals.on('usage.ingested', (s) => local.push(s));

  // Other processes on the same PostgreSQL: one dedicated LISTEN connection, reconnecting.
  let listener: ReturnType<typeof pgListener> | undefined;
  if (d.dbKind === 'postgres' && d.databaseUrl) {
    listener = pgListener(d.databaseUrl, instance, d.logger, (s) => send(s));
  }

  d.server.get(
    '/v1/stream',
    {
      preHandler: requireScope(d.keys, 'read'),
      schema: {
        tags: ['dashboard'],
        summary: 'Server-sent events: `event: usage` within 2 s of committed usage (any process on the same PostgreSQL)',
        description: 'data: {events?, hours:[UTC hour starts], occurred_at}. A hint to re-read the affected windows; keys bound to a team, subject or project get no counts.',
      },
    },
    async (req, reply) => {
      reply.hijack();
      const res = reply.raw;
      res.writeHead(200, {
        'content-type': 'text/event-stream; charset=utf-8',
        'cache-control': 'no-store',
        connection: 'keep-alive',
        'x-accel-buffering': 'no',
      });
      res.write(`retry: 2000\nevent: ready\ndata: {}\n\n`);
      const client: Client = { res, bound: isBound(req.principal!) };
      clients.add(client);
      const beat = setInterval(() => res.write(': keep-alive\n\n'), HEARTBEAT_MS);
      beat.unref();
      const done = () => {
        clearInterval(beat);
        clients.delete(client);
      };
      req.raw.on('close', done);
      res.on('error', done);
    },
  );

  return {
    clients: () => clients.size,
    async close() {
      off();
      local.stop();
      for (const c of clients) c.res.end();
      clients.clear();
      await listener?.close();
    },
  };
}

/** LISTEN/NOTIFY on `USAGE_CHANNEL`; our own notifications (same instance id) are skipped. */
function pgListener(url: string, instance: string, logger: Logger, onRemote: (s: UsageSignal) => void) {
  let client: pg.Client | undefined;
  let closed = false;
  let retry: NodeJS.Timeout | undefined;
  const connect = async () => {
    const c = new pg.Client({ connectionString: url });
    c.on('error', (err) => {
      logger.warn({ err }, 'dashboard: live-usage listener lost its connection; reconnecting');
      c.end().catch(() => {});
      if (!closed) retry = setTimeout(() => void connect(), 2000);
    });
    c.on('notification', (n) => {
      if (n.channel !== USAGE_CHANNEL || !n.payload) return;
      try {
        const m = JSON.parse(n.payload) as { from: string; events: number; hours: string[]; occurred_at: string };
        if (m.from !== instance) onRemote({ type: 'usage.ingested', events: m.events, hours: m.hours, occurred_at: m.occurred_at });
      } catch {
        /* not ours */
      }
    });
    try {
      await c.connect();
      await c.query(`LISTEN ${USAGE_CHANNEL}`);
      client = c;
    } catch (err) {
      logger.warn({ err }, 'dashboard: cannot LISTEN for other processes\' usage; retrying');
      c.end().catch(() => {});
      if (!closed) retry = setTimeout(() => void connect(), 5000);
    }
  };
  void connect();
  return {
    notify(s: UsageSignal) {
      // NOTIFY payloads are capped at 8000 bytes: a huge backfill sends its hour count, not the list.
      const hours = s.hours.length > 200 ? s.hours.slice(-200) : s.hours;
      const payload = JSON.stringify({ from: instance, events: s.events, hours, occurred_at: s.occurred_at });
      client?.query('SELECT pg_notify($1, $2)', [USAGE_CHANNEL, payload]).catch((err) => logger.warn({ err }, 'dashboard: NOTIFY failed'));
    },
    async close() {
      closed = true;
      if (retry) clearTimeout(retry);
      await client?.end().catch(() => {});
    },
  };
}
