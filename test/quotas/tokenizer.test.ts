import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AddressInfo } from 'node:net';
import { testApp, type TestApp } from '../helpers/app.ts';
import { freshDb } from '../helpers/db.ts';
import type { Db } from '../../src/shared/db/index.ts';
import { loadedCounter } from '../../src/gateway/providers/estimate.ts';
import { startOpenAI, type Upstream } from '../gateway/upstream/server.ts';

/**
 * A deployment without entitlements never loads the tokenizer (gpt-tokenizer, ~55 MB RSS): the
 * gate knows no entitlement is enabled, so the gateway estimates no call. Once one is created,
 * this process enforces it at once and another process within the gate's ttl. This file's module
 * graph is its own (vitest forks per file), so `loadedCounter()` sees only what these apps load.
 * The upstream answers with usage, so no stream estimate loads it either.
 */
const TTL_MS = 200;
let db: Db;
let up: Upstream;
const inst: Array<{ app: TestApp; base: string }> = [];
let key = '';

async function instance() {
  const app = await testApp({
    db,
    config: {
      'gateway.flush_interval_ms': 5,
      'quotas.snapshot_ttl_ms': TTL_MS,
      'gateway.providers': { openai: { type: 'openai', base_url: `${up.url}/v1`, api_key: 'sk-upstream' } },
    },
  });
  await app.tg.server.listen({ port: 0, host: '127.0.0.1' });
  return { app, base: `http://127.0.0.1:${(app.tg.server.server.address() as AddressInfo).port}` };
}

beforeAll(async () => {
  up = await startOpenAI();
  db = await freshDb();
  inst.push(await instance(), await instance());
  key = (await inst[0]!.app.request('POST', '/v1/keys', { body: { name: 'app', scopes: ['gateway'], team: 'acme' } })).body.key;
});

afterAll(async () => {
  for (const i of inst) await i.app.close();
  await db?.close();
  await up?.close();
});

const chat = (i: number, subject: string) =>
  fetch(`${inst[i]!.base}/openai/v1/chat/completions`, {
    method: 'POST',
    headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json', 'x-tollgate-subject': subject },
    body: JSON.stringify({ model: 'gpt-4o', max_tokens: 40, messages: [{ role: 'user', content: 'Count to three.' }] }),
  });

/** An entitlement with no grant: nothing available, so every call of `subject` is refused. */
const noRoom = (subject: string) =>
  inst[0]!.app.request('POST', '/v1/entitlements', { body: { subject, meter: 'llm_tokens', period: 'month', tz: 'UTC', thresholds: { warning: 0.9, critical: 0.95, block: 1.05 } } });

describe('the quota gate without entitlements', () => {
  it('serves calls without loading the tokenizer; a created entitlement is enforced at once here and within the ttl in another instance', async () => {
    // The gate asks "any enabled?" when it is made; its answer is in before the first call.
    for (const i of [0, 1, 0, 1]) {
      const r = await chat(i, `user-${i}`);
      expect(r.status).toBe(200);
      await r.arrayBuffer();
    }
    expect(up.seen.length).toBe(4);
    expect(loadedCounter()).toBeUndefined();

    expect((await noRoom('capped')).status).toBe(201);
    // This instance made it: its next call enforces it (the tokenizer is loaded for the estimate).
    const refused = await chat(0, 'capped');
    expect(refused.status).toBe(429);
    expect(((await refused.json()) as { error: { type: string } }).error.type).toBe('quota_exceeded');
    expect(loadedCounter()).toBeDefined();
    // The other instance: no "none" answer older than the ttl is trusted.
    await new Promise((r) => setTimeout(r, TTL_MS + 50));
    expect((await chat(1, 'capped')).status).toBe(429);
    // A caller without an entitlement is still served, on both.
    for (const i of [0, 1]) expect((await chat(i, 'someone-else')).status).toBe(200);
    expect(up.seen.length).toBe(6);
  });
});
