import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { gatewayEnv, until, type GatewayEnv } from './helpers.ts';
import { allowAll, type QuotaActual, type QuotaDecision, type QuotaGate } from '../../src/gateway/quota.ts';

/**
 * The quota seam's "double-free" test (issue 14): every lease the gateway takes is settled or
 * released exactly once, whatever way the call ends.
 */
interface Held {
  n: number;
  settled: QuotaActual[];
  released: number;
}

function testGate(decide: () => QuotaDecision = () => ({ allowed: true, level: 'ok' })) {
  const leases: Held[] = [];
  const gate: QuotaGate = {
    reserve() {
      const h: Held = { n: leases.length, settled: [], released: 0 };
      leases.push(h);
      return { decision: decide(), lease: { settle: (a) => void h.settled.push(a), release: () => void h.released++ } };
    },
  };
  return { gate, leases };
}

const ended = (h: Held) => h.settled.length + h.released;

describe('quota seam: every lease is settled or released exactly once (double-free test)', () => {
  let env: GatewayEnv;
  const { gate, leases } = testGate();
  beforeAll(async () => {
    env = await gatewayEnv({
      'gateway.routes': {
        claude: { api: 'anthropic', targets: ['anthropic', 'bedrock'] },
        resilient: { api: 'openai', targets: ['down', 'openai'] },
        slowonly: { api: 'anthropic', targets: ['slow'] },
      },
    });
    env.app.tg.gateway.setQuotaGate(gate);
  });
  afterAll(async () => {
    env.app.tg.gateway.setQuotaGate(allowAll);
    await env.close();
  });

  const post = (path: string, body: unknown, mode = '', signal?: AbortSignal) =>
    fetch(`${env.base}${path}`, {
      method: 'POST',
      headers: { authorization: `Bearer ${env.key}`, 'content-type': 'application/json', ...(mode ? { 'x-fake-mode': mode } : {}) },
      body: JSON.stringify(body),
      signal,
    });
  const chat = (mode = '', stream = false) => post('/openai/v1/chat/completions', { model: 'gpt-4o', stream, messages: [{ role: 'user', content: 'Hello there' }] }, mode);
  const messages = (route: string, mode = '', stream = false) => post(`/${route}/v1/messages`, { model: 'claude-sonnet-4-5', max_tokens: 100, stream, messages: [{ role: 'user', content: 'Hi' }] }, mode);

  /** Runs one call, waits for its lease to end, and returns the lease. */
  async function one(run: () => Promise<void>): Promise<Held> {
    const before = leases.length;
    await run();
    expect(leases.length).toBe(before + 1);
    const h = leases[before]!;
    await until(() => ended(h) > 0);
    await new Promise((r) => setTimeout(r, 30)); // a second end would show by now
    expect(ended(h)).toBe(1);
    return h;
  }
  const drain = async (r: Response) => void (await r.arrayBuffer().catch(() => undefined));

  it('success, non-streaming and streaming: settled with the real usage', async () => {
    const a = await one(async () => drain(await chat()));
    expect(a.settled[0]).toEqual({ input_tokens: 86, output_tokens: 300, cache_read_tokens: 1920, cache_write_tokens: 0, cost: null });
    const b = await one(async () => drain(await chat('', true)));
    expect(b.settled[0]).toMatchObject({ input_tokens: 476, cache_read_tokens: 1024, output_tokens: 12 });
  });

  it('upstream 4xx and 5xx answered to the client: released', async () => {
    for (const mode of ['429', '500']) {
      const h = await one(async () => {
        const r = await chat(mode);
        expect(r.status).toBe(Number(mode));
        await drain(r);
      });
      expect(h.released).toBe(1);
    }
  });

  it('timeout (504) and a dropped connection (502): released', async () => {
    const t = await one(async () => {
      const r = await messages('slowonly', 'slow:600');
      expect(r.status).toBe(504);
      await drain(r);
    });
    expect(t.released).toBe(1);
    const c = await one(async () => {
      const r = await chat('cut');
      expect(r.status).toBe(502);
      await drain(r);
    });
    expect(c.released).toBe(1);
  });

  it('fallbacks: one lease for the call, settled once by the attempt that answered', async () => {
    // down (connection refused) → openai
    const a = await one(async () => {
      const r = await post('/resilient/v1/chat/completions', { model: 'gpt-4o', messages: [{ role: 'user', content: 'x' }] });
      expect(r.status).toBe(200);
      await drain(r);
    });
    expect(a.settled).toHaveLength(1);
    const f = await one(async () => {
      const r2 = await messages('claude', '429');
      expect(r2.status).toBe(200); // Anthropic 429 → Bedrock
      await drain(r2);
    });
    expect(f.settled).toHaveLength(1);
  });

  it('client disconnect mid-stream (estimated, 499) and an upstream failure mid-stream (estimated, 502): settled with the estimate', async () => {
    const gone = await one(async () => {
      const ac = new AbortController();
      const res = await post('/openai/v1/chat/completions', { model: 'gpt-4o-mini', stream: true, messages: [{ role: 'user', content: 'Tell me a story' }] }, 'hang', ac.signal);
      const reader = res.body!.getReader();
      let got = '';
      while (!got.includes('Hello')) got += new TextDecoder().decode((await reader.read()).value);
      ac.abort();
    });
    expect(gone.settled).toHaveLength(1);
    expect(gone.settled[0]!.output_tokens).toBeGreaterThan(0);
    const broken = await one(async () => drain(await chat('midstream-error', true)));
    expect(broken.settled).toHaveLength(1);
  });

  it('refused by the gate (429 quota_exceeded): released, and no upstream call', async () => {
    const blocking = testGate(() => ({ allowed: false, level: 'blocked', remaining_tokens: '0' }));
    env.app.tg.gateway.setQuotaGate(blocking.gate);
    try {
      const r = await chat();
      expect(r.status).toBe(429);
      await drain(r);
      expect(blocking.leases).toHaveLength(1);
      expect(blocking.leases[0]!.released).toBe(1);
      expect(blocking.leases[0]!.settled).toHaveLength(0);
    } finally {
      env.app.tg.gateway.setQuotaGate(gate);
    }
  });

  it('every lease taken in this file ended exactly once', () => {
    expect(leases.length).toBeGreaterThan(8);
    for (const h of leases) expect(ended(h), `lease ${h.n}`).toBe(1);
  });
});
