import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import OpenAI from 'openai';
import { gatewayEnv, until, type GatewayEnv } from './helpers.ts';
import * as F from './upstream/fixtures.ts';

let env: GatewayEnv;
let client: OpenAI;
let seen = 0;
beforeAll(async () => {
  env = await gatewayEnv();
  client = new OpenAI({ apiKey: env.key, baseURL: `${env.base}/openai/v1`, maxRetries: 0 });
});
afterAll(() => env.close());
beforeEach(async () => {
  seen = (await env.events()).length;
});
const newEvents = async (n = 1) => until(async () => {
  const all = await env.events();
  return all.length >= seen + n ? all.slice(seen) : undefined;
});

/** A chat call the local upstream answers in the given `x-fake-mode`; resolves to the SDK's error. */
const failingCall = (mode: string) =>
  client.chat.completions.create({ model: 'gpt-4o', messages: [{ role: 'user', content: 'x' }] }, { headers: { 'x-fake-mode': mode } }).catch((e) => e);

describe('gateway: OpenAI chat completions through the official SDK', () => {
  it('non-streaming: answers verbatim and records exact tokens', async () => {
    const r = await client.chat.completions.create({ model: 'gpt-4o', messages: [{ role: 'user', content: 'Hello' }] });
    expect(r).toEqual(F.OPENAI_CHAT);
    const up = env.openai.seen.at(-1)!;
    expect(up.url).toBe('/v1/chat/completions');
    expect(up.headers.authorization).toBe('Bearer sk-upstream-openai');
    expect(JSON.parse(up.body)).toEqual({ model: 'gpt-4o', messages: [{ role: 'user', content: 'Hello' }] });
    const [e] = await newEvents();
    expect(e).toMatchObject({
      type: 'llm.usage', provider: 'openai', model: 'gpt-4o-2024-08-06', team: 't1', api_key: env.keyId,
      input_tokens: 86, cache_read_tokens: 1920, cache_write_tokens: 0, output_tokens: 300, reasoning_tokens: 192, estimated: false,
    });
    expect(e.data).toMatchObject({ status: 200, route: 'openai', operation: 'chat', stream: false, requested_model: 'gpt-4o' });
    expect(e.data.latency_ms).toBeGreaterThanOrEqual(0);
    expect(e.id).toMatch(/^gw_[0-9a-f-]{36}$/);
  });

  it('streaming without include_usage: the client sees exactly the upstream stream; usage still recorded', async () => {
    const res = await fetch(`${env.base}/openai/v1/chat/completions`, {
      method: 'POST',
      headers: { authorization: `Bearer ${env.key}`, 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'gpt-4o-mini', stream: true, messages: [{ role: 'user', content: 'Hi' }] }),
    });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/text\/event-stream/);
    expect(await res.text()).toBe(F.openaiChatStream(false).join(''));
    expect(JSON.parse(env.openai.seen.at(-1)!.body).stream_options).toEqual({ include_usage: true });
    const [e] = await newEvents();
    expect(e).toMatchObject({ model: 'gpt-4o-mini-2024-07-18', input_tokens: 476, cache_read_tokens: 1024, output_tokens: 12, estimated: false });
    expect(e.data.ttft_ms).toBeGreaterThanOrEqual(0);
  });

  it('streaming through the SDK without usage: no chunk carries usage', async () => {
    const stream = await client.chat.completions.create({ model: 'gpt-4o-mini', stream: true, messages: [{ role: 'user', content: 'Hi' }] });
    const chunks = [];
    for await (const c of stream) chunks.push(c);
    expect(chunks.map((c) => c.choices[0]?.delta.content ?? '').join('')).toBe(F.OPENAI_STREAM_TEXT.join(''));
    expect(chunks.every((c) => !('usage' in c))).toBe(true);
    const [e] = await newEvents();
    expect(e).toMatchObject({ input_tokens: 476, cache_read_tokens: 1024, output_tokens: 12 });
  });

  it('streaming with include_usage: passed through untouched, usage chunk included', async () => {
    const body = JSON.stringify({ model: 'gpt-4o-mini', stream: true, stream_options: { include_usage: true }, messages: [{ role: 'user', content: 'Hi' }] });
    const res = await fetch(`${env.base}/openai/v1/chat/completions`, { method: 'POST', headers: { authorization: `Bearer ${env.key}`, 'content-type': 'application/json' }, body });
    expect(await res.text()).toBe(F.openaiChatStream(true).join(''));
    expect(env.openai.seen.at(-1)!.body).toBe(body); // raw bytes forwarded, not re-serialised
    const [e] = await newEvents();
    expect(e).toMatchObject({ input_tokens: 476, cache_read_tokens: 1024, output_tokens: 12 });
  });

  it('upstream errors reach the client verbatim and are recorded as failed requests', async () => {
    const err = await failingCall('429');
    expect(err).toBeInstanceOf(OpenAI.RateLimitError);
    expect(err.status).toBe(429);
    expect(err.error).toEqual({ message: 'Rate limit reached for gpt-4o', type: 'requests', param: null, code: 'rate_limit_exceeded' });
    expect(err.headers.get('x-request-id')).toBe('req_fake');
    const [e] = await newEvents();
    expect(e).toMatchObject({ provider: 'openai', model: 'gpt-4o', input_tokens: 0, output_tokens: 0 });
    expect(e.data.status).toBe(429);
  });

  it('an upstream that drops the connection after its head: 502 in the error shape, recorded as failed', async () => {
    const err = await failingCall('cut');
    expect(err).toBeInstanceOf(OpenAI.APIError);
    expect(err.status).toBe(502);
    expect(err.error).toMatchObject({ code: 'UPSTREAM_UNREACHABLE' });
    const [e] = await newEvents();
    expect(e.data.status).toBe(502);
    expect(e.data.error).toMatch(/^upstream response failed/);
    expect(e).toMatchObject({ input_tokens: 0, output_tokens: 0 });
  });

  it('a client disconnect aborts the upstream call and records what was generated (estimated)', async () => {
    const before = env.openai.aborted;
    const ac = new AbortController();
    const res = await fetch(`${env.base}/openai/v1/chat/completions`, {
      method: 'POST',
      headers: { authorization: `Bearer ${env.key}`, 'content-type': 'application/json', 'x-fake-mode': 'hang' },
      body: JSON.stringify({ model: 'gpt-4o-mini', stream: true, messages: [{ role: 'user', content: 'Tell me a long story please' }] }),
      signal: ac.signal,
    });
    const reader = res.body!.getReader();
    let got = '';
    while (!got.includes('Hello')) got += new TextDecoder().decode((await reader.read()).value);
    ac.abort();
    await until(() => env.openai.aborted > before);
    const [e] = await newEvents();
    expect(e.data.status).toBe(499);
    expect(e.data.error).toBe('client_disconnected');
    expect(e.estimated).toBe(true);
    expect(e.input_tokens).toBeGreaterThan(0);
    expect(e.output_tokens).toBeGreaterThan(0);
  });

  it('a stream that arrives whole (one write with its end) reaches the client exactly, with or without usage', async () => {
    for (const includeUsage of [false, true]) {
      seen = (await env.events()).length;
      const body = { model: 'gpt-4o-mini', stream: true, messages: [{ role: 'user', content: 'Hi' }], ...(includeUsage ? { stream_options: { include_usage: true } } : {}) };
      const res = await fetch(`${env.base}/openai/v1/chat/completions`, {
        method: 'POST',
        headers: { authorization: `Bearer ${env.key}`, 'content-type': 'application/json', 'x-fake-mode': 'whole' },
        body: JSON.stringify(body),
      });
      expect(await res.text()).toBe(F.openaiChatStream(includeUsage).join(''));
      const [e] = await newEvents();
      expect(e).toMatchObject({ model: 'gpt-4o-mini-2024-07-18', input_tokens: 476, cache_read_tokens: 1024, output_tokens: 12, estimated: false });
      expect(e.data.status).toBe(200);
    }
  });

  it('a slow client holds the upstream back and still gets every byte, usage hidden and recorded exactly', async () => {
    const res = await fetch(`${env.base}/openai/v1/chat/completions`, {
      method: 'POST',
      headers: { authorization: `Bearer ${env.key}`, 'content-type': 'application/json', 'x-fake-mode': 'long' },
      body: JSON.stringify({ model: 'gpt-4o-mini', stream: true, messages: [{ role: 'user', content: 'Hi' }] }),
    });
    const reader = res.body!.getReader();
    await new Promise((r) => setTimeout(r, 300)); // the gateway's socket to us fills up meanwhile
    const parts: Uint8Array[] = [];
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      parts.push(value);
    }
    expect(Buffer.concat(parts).toString('utf8')).toBe(F.openaiChatStream(false, undefined, F.OPENAI_LONG_TEXT).join(''));
    const [e] = await newEvents();
    expect(e).toMatchObject({ input_tokens: 476, cache_read_tokens: 1024, output_tokens: 12, estimated: false });
    expect(e.data.status).toBe(200);
  });

  it('an upstream failure mid-stream is recorded (estimated) and the client sees the stream break', async () => {
    const stream = await client.chat.completions.create(
      { model: 'gpt-4o-mini', stream: true, messages: [{ role: 'user', content: 'Hi' }] },
      { headers: { 'x-fake-mode': 'midstream-error' } },
    );
    const err = await (async () => {
      for await (const _ of stream);
    })().catch((e) => e);
    expect(err).toBeInstanceOf(Error);
    const [e] = await newEvents();
    expect(e.data.status).toBe(502);
    expect(e.estimated).toBe(true);
    expect(e.output_tokens).toBeGreaterThan(0);
  });
});

describe('gateway: Responses API and embeddings', () => {
  it('responses, non-streaming', async () => {
    const r = await client.responses.create({ model: 'gpt-4.1', input: 'Tell me a story' });
    expect(r.id).toBe(F.OPENAI_RESPONSE.id);
    const [e] = await newEvents();
    expect(e).toMatchObject({ model: 'gpt-4.1-2025-04-14', input_tokens: 26, cache_read_tokens: 10, output_tokens: 87, reasoning_tokens: 20 });
    expect(e.data.operation).toBe('responses');
  });

  it('responses, streaming: usage from response.completed, bytes untouched', async () => {
    const res = await fetch(`${env.base}/openai/v1/responses`, {
      method: 'POST',
      headers: { authorization: `Bearer ${env.key}`, 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'gpt-4.1', input: 'Tell me a story', stream: true }),
    });
    expect(await res.text()).toBe(F.openaiResponsesStream().join(''));
    const [e] = await newEvents();
    expect(e).toMatchObject({ input_tokens: 26, cache_read_tokens: 10, output_tokens: 87, reasoning_tokens: 20, estimated: false });
    const stream = await client.responses.create({ model: 'gpt-4.1', input: 'again', stream: true });
    const types = [];
    for await (const ev of stream) types.push(ev.type);
    expect(types.at(-1)).toBe('response.completed');
    const [, e2] = await newEvents(2); // wait for the second call's event too
    expect(e2).toMatchObject({ input_tokens: 26, output_tokens: 87 });
  });

  it('embeddings', async () => {
    const r = await client.embeddings.create({ model: 'text-embedding-3-small', input: 'The food was delicious' });
    expect(r.usage).toEqual(F.OPENAI_EMBEDDING.usage);
    const [e] = await newEvents();
    expect(e).toMatchObject({ model: 'text-embedding-3-small', input_tokens: 8, output_tokens: 0 });
  });

  it('Azure OpenAI: deployment path, api-version and api-key header', async () => {
    const az = new OpenAI({ apiKey: env.key, baseURL: `${env.base}/azure/v1`, maxRetries: 0 });
    await az.chat.completions.create({ model: 'gpt-4o', messages: [{ role: 'user', content: 'Hi' }] });
    const up = env.openai.seen.at(-1)!;
    expect(up.url).toBe('/openai/deployments/prod-4o/chat/completions?api-version=2024-10-21');
    expect(up.headers['api-key']).toBe('azure-upstream-key');
    expect(up.headers.authorization).toBeUndefined();
    const [e] = await newEvents();
    expect(e).toMatchObject({ provider: 'azure', input_tokens: 86 });
  });

  it('falls back on a connection error to the next provider; the failed attempt is recorded', async () => {
    const c = new OpenAI({ apiKey: env.key, baseURL: `${env.base}/resilient/v1`, maxRetries: 0 });
    const r = await c.chat.completions.create({ model: 'gpt-4o', messages: [{ role: 'user', content: 'Hi' }] });
    expect(r.id).toBe(F.OPENAI_CHAT.id);
    const evs = await newEvents(2); // one flush batch may store them in any order
    const failed = evs.find((x: any) => x.data.status !== 200)!;
    const ok = evs.find((x: any) => x.data.status === 200)!;
    expect(failed).toMatchObject({ provider: 'down', input_tokens: 0 });
    expect(failed.data.status).toBe(502);
    expect(ok).toMatchObject({ provider: 'openai', input_tokens: 86 });
    expect(ok.data.attempt).toBe(2);
  });
});
