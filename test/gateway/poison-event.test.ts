import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { gatewayEnv, until, type GatewayEnv } from './helpers.ts';

/**
 * Issue 13 item 1, "one gateway call stops usage recording for everyone": a call whose model held
 * a NUL was answered, then its event made every recorder flush fail (the store refuses NUL in
 * jsonb), every later event joined the stuck batch, and shutdown dropped them all silently.
 */
const chat = (env: GatewayEnv, model: string) =>
  fetch(`${env.base}/openai/v1/chat/completions`, {
    method: 'POST',
    headers: { authorization: `Bearer ${env.key}`, 'content-type': 'application/json' },
    // JSON.stringify writes the NUL as the escape \u0000, as the curl did
    body: JSON.stringify({ model, messages: [{ role: 'user', content: 'Hello' }] }),
  });

const droppedCount = async (env: GatewayEnv) => {
  const m = (await env.app.tg.metrics.getSingleMetric('tollgate_gateway_events_dropped_total')!.get()) as { values: Array<{ value: number }> };
  return m.values.reduce((a, v) => a + v.value, 0);
};

describe('one gateway call with a NUL in its model stops usage recording for everyone (issue 13)', () => {
  let env: GatewayEnv;
  beforeAll(async () => {
    env = await gatewayEnv();
  });
  afterAll(() => env.close());

  it('the poison event is dropped on its own, logged and counted; the calls around it are recorded', async () => {
    const before = (await env.events()).length;
    const first = await chat(env, 'gpt-4o');
    const poison = await chat(env, 'gpt\u0000x');
    expect(poison.status).toBe(200);
    await poison.arrayBuffer();
    await first.arrayBuffer();
    const after = await chat(env, 'gpt-4o-mini');
    await after.arrayBuffer();
    const stored = await until(async () => {
      const all = (await env.events()).slice(before);
      return all.length >= 2 ? all : undefined;
    });
    expect(stored.map((e) => e.data.requested_model ?? e.model).sort()).toEqual(['gpt-4o', 'gpt-4o-mini']);
    expect(env.app.tg.gateway.recorder.pending).toBe(0);
    expect(await droppedCount(env)).toBe(1);
    // Recording goes on: a later call is stored too.
    await (await chat(env, 'gpt-4o')).arrayBuffer();
    await until(async () => (await env.events()).length >= before + 3);
  });
});

describe('a clean shutdown flushes what is buffered and counts what it cannot store (issue 13)', () => {
  it('SIGTERM path (tg.close): buffered events are written, the poison one is counted as dropped', async () => {
    const env = await gatewayEnv({ 'gateway.flush_interval_ms': 60_000 });
    try {
      for (const model of ['gpt-4o', 'gpt\u0000x', 'gpt-4o-mini']) {
        const r = await chat(env, model);
        expect(r.status).toBe(200);
        await r.arrayBuffer();
      }
      expect(env.app.tg.gateway.recorder.pending).toBe(3);
      await env.app.tg.close();
      const rows = await env.app.db.query(`SELECT data FROM events WHERE source = 'tollgate-gateway'`);
      expect(rows.rows).toHaveLength(2);
      expect(await droppedCount(env)).toBe(1);
      expect(env.app.tg.gateway.recorder.pending).toBe(0);
    } finally {
      await env.app.db.close();
      await Promise.all([env.openai.close(), env.anthropic.close(), env.bedrock.close(), env.google.close()]);
    }
  });
});
