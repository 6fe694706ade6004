import { createTollgate, type Tollgate } from '../../src/app.ts';
import { loadConfig } from '../../src/config.ts';
import { createLogger } from '../../src/shared/log.ts';
import type { Clock } from '../../src/shared/clock.ts';
import type { Db } from '../../src/shared/db/index.ts';
import { freshDb } from './db.ts';

export const ADMIN_KEY = 'tg_test_admin_key_0123456789abcdef';

export interface TestApp {
  tg: Tollgate;
  db: Db;
  /** Calls the API in-process (no socket) with the admin key unless another is given. */
  request(method: string, url: string, opts?: { body?: unknown; key?: string | null; headers?: Record<string, string>; rawBody?: string }): Promise<{ status: number; body: any; headers: Record<string, unknown> }>;
  /** Creates a key and returns its secret. */
  key(scopes: string[], bind?: { subject?: string; team?: string; project?: string }): Promise<string>;
  close(): Promise<void>;
}

export async function testApp(opts: { clock?: Clock; config?: Record<string, unknown>; env?: Record<string, string>; db?: Db } = {}): Promise<TestApp> {
  const db = opts.db ?? (await freshDb());
  const config = loadConfig({ env: { ...opts.env }, cwd: '/nonexistent', overrides: { bootstrap_key: ADMIN_KEY, log_level: 'silent', ...opts.config } });
  const tg = await createTollgate(config, { db, clock: opts.clock, logger: createLogger('silent', false), migrated: true });
  await tg.keys.bootstrap(ADMIN_KEY);
  await tg.server.ready();
  const request: TestApp['request'] = async (method, url, o = {}) => {
    const headers: Record<string, string> = { ...(o.headers ?? {}) };
    const key = o.key === undefined ? ADMIN_KEY : o.key;
    if (key) headers.authorization = `Bearer ${key}`;
    let payload: string | undefined = o.rawBody;
    if (o.body !== undefined) {
      payload = JSON.stringify(o.body);
      headers['content-type'] ??= 'application/json';
    }
    const res = await tg.server.inject({ method: method as any, url, headers, payload });
    let body: any = res.body;
    try {
      body = JSON.parse(res.body);
    } catch {
      /* not JSON */
    }
    return { status: res.statusCode, body, headers: res.headers as Record<string, unknown> };
  };
  return {
    tg,
    db,
    request,
    async key(scopes, bind = {}) {
      const r = await request('POST', '/v1/keys', { body: { name: `test ${scopes.join(',')}`, scopes, ...bind } });
      if (r.status !== 201) throw new Error(`key creation failed: ${JSON.stringify(r.body)}`);
      return r.body.key as string;
    },
    async close() {
      await tg.close();
      if (!opts.db) await db.close();
    },
  };
}

/** A valid llm.usage CloudEvent; override any field. */
export function llmEvent(id: string, over: { data?: Record<string, unknown>; [k: string]: unknown } = {}) {
  const { data, ...rest } = over;
  return {
    specversion: '1.0',
    id,
    source: 'test',
    type: 'llm.usage',
    time: '2026-01-09T10:00:00Z',
    subject: 'user-1',
    ...rest,
    data: { provider: 'openai', model: 'gpt-4o', input_tokens: 100, output_tokens: 50, ...data },
  };
}
