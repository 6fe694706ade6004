import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { EntitlementSnapshot, EntitlementSource } from '../../src/alerts/types.ts';

export interface Received {
  headers: http.IncomingHttpHeaders;
  body: string;
  json: any;
  status: number;
}

/** A real webhook receiver on 127.0.0.1; `answers` is consumed one status per request (then 200). */
export async function webhookListener(answers: number[] = []) {
  const received: Received[] = [];
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString('utf8');
      const status = answers.shift() ?? 200;
      let json: unknown = null;
      try {
        json = JSON.parse(body);
      } catch {
        /* not JSON */
      }
      received.push({ headers: req.headers, body, json, status });
      res.writeHead(status, { 'content-type': 'text/plain' });
      res.end(status < 300 ? 'ok' : 'nope');
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}/hook`,
    received,
    /** Requests answered 2xx, per firing id. */
    okById() {
      const m = new Map<string, number>();
      for (const r of received) if (r.status < 300) m.set(r.json.id, (m.get(r.json.id) ?? 0) + 1);
      return m;
    },
    close: () => new Promise<void>((r) => server.close(() => r())),
  };
}

/** An in-memory entitlement source standing in for the quotas domain. */
export function fakeEntitlements(initial: EntitlementSnapshot[] = []) {
  const snaps = new Map(initial.map((s) => [s.id, s]));
  const daily = new Map<string, Array<{ day: string; usage: string }>>();
  const src: EntitlementSource & { set(s: EntitlementSnapshot): void; setDaily(id: string, rows: Array<{ day: string; usage: string }>): void } = {
    async list() {
      return [...snaps.values()];
    },
    async value(id) {
      return snaps.get(id) ?? null;
    },
    async dailyUsage(id, from, to) {
      return (daily.get(id) ?? []).filter((r) => r.day >= from.toISOString().slice(0, 10) && r.day < to.toISOString().slice(0, 10));
    },
    set(s) {
      snaps.set(s.id, s);
    },
    setDaily(id, rows) {
      daily.set(id, rows);
    },
  };
  return src;
}

export function snapshot(over: Partial<EntitlementSnapshot> = {}): EntitlementSnapshot {
  return {
    id: 'ent_1',
    meter: 'llm_tokens',
    subject: 'user-1',
    team: null,
    api_key: null,
    usage: '90500',
    available: '100000',
    balance: '9500',
    percent: '0.905',
    level: 'warning',
    block_threshold: '1.05',
    period_start: '2026-01-01T00:00:00.000Z',
    resets_at: '2026-02-01T00:00:00.000Z',
    purchase_url: 'https://shop.example/buy',
    ...over,
  };
}

/** The entitlement.level signal the quotas domain publishes. */
export function levelSignal(over: Record<string, unknown> = {}) {
  return {
    type: 'entitlement.level' as const,
    entitlement_id: 'ent_1',
    meter: 'llm_tokens',
    subject: 'user-1',
    team: null,
    api_key: null,
    level: 'warning' as const,
    previous_level: 'ok' as const,
    usage: '90500',
    available: '100000',
    balance: '9500',
    percent: '0.905',
    period_start: '2026-01-01T00:00:00.000Z',
    resets_at: '2026-02-01T00:00:00.000Z',
    purchase_url: 'https://shop.example/buy',
    occurred_at: '2026-01-15T10:00:00.000Z',
    ...over,
  };
}

export const ALERT_ENV = { TOLLGATE_WEBHOOK_ALLOWED_HOSTS: '127.0.0.1' };
/** Fast retries in tests; the outbox sends only when a test says so. */
export const ALERT_CONFIG = { 'alerts.delivery.min_timeout_ms': 5, 'alerts.delivery.on_decide': false, 'alerts.rules_cache_ms': 0 };
