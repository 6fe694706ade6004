import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import Anthropic from '@anthropic-ai/sdk';
import { gatewayEnv, until, type GatewayEnv } from './helpers.ts';
import * as F from './upstream/fixtures.ts';

let env: GatewayEnv;
let client: Anthropic;
let seen = 0;
beforeAll(async () => {
  env = await gatewayEnv();
  client = new Anthropic({ apiKey: env.key, baseURL: `${env.base}/anthropic`, maxRetries: 0 });
});
afterAll(() => env.close());
beforeEach(async () => {
  seen = (await env.events()).length;
});
const newEvents = async (n = 1) => until(async () => {
  const all = await env.events();
  return all.length >= seen + n ? all.slice(seen) : undefined;
});
const params = { model: 'claude-sonnet-4-5', max_tokens: 1024, messages: [{ role: 'user' as const, content: 'Hello, Claude' }] };

describe('gateway: Anthropic messages through the official SDK', () => {
  it('non-streaming: verbatim answer, every cache class recorded', async () => {
    const m = await client.messages.create(params);
    expect(m).toEqual(F.ANTHROPIC_MESSAGE);
    const up = env.anthropic.seen.at(-1)!;
    expect(up.headers['x-api-key']).toBe('sk-ant-upstream');
    expect(up.headers['anthropic-version']).toMatch(/^\d{4}-\d{2}-\d{2}$/); // the SDK's own header, forwarded
    const [e] = await newEvents();
    expect(e).toMatchObject({ provider: 'anthropic', model: 'claude-sonnet-4-5-20250929', input_tokens: 2095, cache_read_tokens: 1800, cache_write_tokens: 2500, output_tokens: 503 });
    expect(e.data).toMatchObject({ cache_write_5m_tokens: 2000, cache_write_1h_tokens: 500, status: 200 });
  });

  it('streaming: bytes untouched; usage from message_start + cumulative message_delta', async () => {
    const res = await fetch(`${env.base}/anthropic/v1/messages`, {
      method: 'POST',
      headers: { 'x-api-key': env.key, 'content-type': 'application/json', 'anthropic-version': '2023-06-01' },
      body: JSON.stringify({ ...params, stream: true }),
    });
    expect(await res.text()).toBe(F.anthropicStream().join(''));
    const [e] = await newEvents();
    expect(e).toMatchObject({ input_tokens: 472, cache_read_tokens: 1200, cache_write_tokens: 300, output_tokens: 89, estimated: false });
    expect(e.data).toMatchObject({ cache_write_5m_tokens: 0, cache_write_1h_tokens: 300 });
    const final = await client.messages.stream(params).finalMessage();
    expect(final.usage.output_tokens).toBe(89);
    const [e2] = (await newEvents(2)).slice(1);
    expect(e2).toMatchObject({ input_tokens: 472, output_tokens: 89 });
  });

  it('a stream that arrives whole (one write with its end): bytes untouched, usage recorded', async () => {
    const res = await fetch(`${env.base}/anthropic/v1/messages`, {
      method: 'POST',
      headers: { 'x-api-key': env.key, 'content-type': 'application/json', 'anthropic-version': '2023-06-01', 'x-fake-mode': 'whole' },
      body: JSON.stringify({ ...params, stream: true }),
    });
    expect(await res.text()).toBe(F.anthropicStream().join(''));
    const [e] = await newEvents();
    expect(e).toMatchObject({ input_tokens: 472, cache_read_tokens: 1200, cache_write_tokens: 300, output_tokens: 89, estimated: false });
  });

  it('count_tokens is passed through and not recorded', async () => {
    const r = await client.messages.countTokens({ model: 'claude-sonnet-4-5', messages: params.messages });
    expect(r).toEqual({ input_tokens: 2095 });
    await env.app.tg.gateway.flush();
    expect((await env.events()).length).toBe(seen);
  });

  it('a client disconnect mid-stream keeps message_start usage and estimates output', async () => {
    const before = env.anthropic.aborted;
    const ac = new AbortController();
    const res = await fetch(`${env.base}/anthropic/v1/messages`, {
      method: 'POST',
      headers: { 'x-api-key': env.key, 'content-type': 'application/json', 'x-fake-mode': 'hang' },
      body: JSON.stringify({ ...params, stream: true }),
      signal: ac.signal,
    });
    const reader = res.body!.getReader();
    let got = '';
    while (!got.includes('ping')) got += new TextDecoder().decode((await reader.read()).value);
    ac.abort();
    await until(() => env.anthropic.aborted > before);
    const [e] = await newEvents();
    expect(e).toMatchObject({ input_tokens: 472, cache_read_tokens: 1200, cache_write_tokens: 300, estimated: true });
    expect(e.output_tokens).toBeGreaterThanOrEqual(2);
    expect(e.data.status).toBe(499);
  });
});

describe('gateway: fallbacks to Bedrock (SigV4)', () => {
  it('Anthropic 429 → Bedrock InvokeModel: answer from Bedrock, both attempts recorded, signature valid', async () => {
    const c = new Anthropic({ apiKey: env.key, baseURL: `${env.base}/claude`, maxRetries: 0 });
    const m = await c.messages.create(params, { headers: { 'x-fake-mode': '429' } });
    expect(m.usage.input_tokens).toBe(2095);
    const up = env.bedrock.seen.at(-1)!;
    expect(up.url).toBe('/model/anthropic.claude-sonnet-4-5-20250929-v1%3A0/invoke');
    expect(up.headers.authorization).toMatch(/^AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE\/\d{8}\/us-east-1\/bedrock\/aws4_request/);
    expect(JSON.parse(up.body)).toEqual({ anthropic_version: 'bedrock-2023-05-31', max_tokens: 1024, messages: params.messages });
    expect(env.bedrock.badSignatures).toBe(0);
    const evs = await newEvents(2); // one flush batch may store them in any order
    const failed = evs.find((x: any) => x.data.status !== 200)!;
    const ok = evs.find((x: any) => x.data.status === 200)!;
    expect(failed).toMatchObject({ provider: 'anthropic', input_tokens: 0, feature: 'chat-ui' });
    expect(failed.data.status).toBe(429);
    expect(ok).toMatchObject({ provider: 'bedrock', region: 'us-east-1', input_tokens: 2095, cache_write_tokens: 2500, output_tokens: 503, feature: 'chat-ui' });
    expect(ok.data.status).toBe(200);
  });

  it('streaming fallback: Bedrock event stream re-encoded as the Messages SSE stream', async () => {
    const c = new Anthropic({ apiKey: env.key, baseURL: `${env.base}/claude`, maxRetries: 0 });
    const final = await c.messages.stream(params, { headers: { 'x-fake-mode': '500' } }).finalMessage();
    expect(final.content).toEqual([{ type: 'text', text: "Okay, let's count to three." }]);
    const evs = await newEvents(2); // one flush batch may store them in any order
    const failed = evs.find((x: any) => x.data.status !== 200)!;
    const ok = evs.find((x: any) => x.data.status === 200)!;
    expect(failed.data.status).toBe(500);
    expect(ok).toMatchObject({ provider: 'bedrock', input_tokens: 472, cache_read_tokens: 1200, output_tokens: 89, estimated: false });
    expect(env.bedrock.badSignatures).toBe(0);
  });

  it('a Bedrock provider without AWS credentials answers 503 naming the setting; nothing is sent', async () => {
    const before = env.bedrock.seen.length;
    const c = new Anthropic({ apiKey: env.key, baseURL: `${env.base}/uncredentialed`, maxRetries: 0 });
    const err = await c.messages.create(params).catch((e) => e);
    expect(err.status).toBe(503);
    expect(err.error.error.code).toBe('UPSTREAM_CREDENTIAL_MISSING');
    expect(err.error.error.message).toContain('gateway.providers.uncredentialed.credential');
    expect(env.bedrock.seen.length).toBe(before);
  });

  it('per-attempt timeout moves on to the next provider', async () => {
    const c = new Anthropic({ apiKey: env.key, baseURL: `${env.base}/hedge`, maxRetries: 0 });
    const m = await c.messages.create(params, { headers: { 'x-fake-mode': 'slow:1000' } });
    expect(m.id).toBe(F.ANTHROPIC_MESSAGE.id);
    const evs = await newEvents(2); // one flush batch may store them in any order
    const failed = evs.find((x: any) => x.data.status !== 200)!;
    const ok = evs.find((x: any) => x.data.status === 200)!;
    expect(failed).toMatchObject({ provider: 'slow' });
    expect(failed.data.status).toBe(504);
    expect(ok).toMatchObject({ provider: 'bedrock' });
  });

  it('a native Bedrock Converse call is signed and recorded', async () => {
    const res = await fetch(`${env.base}/bedrock/model/${encodeURIComponent('anthropic.claude-3-haiku-20240307-v1:0')}/converse`, {
      method: 'POST',
      headers: { authorization: `Bearer ${env.key}`, 'content-type': 'application/json' },
      body: JSON.stringify({ messages: [{ role: 'user', content: [{ text: 'Hello' }] }] }),
    });
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual(F.BEDROCK_CONVERSE);
    expect(env.bedrock.badSignatures).toBe(0);
    const [e] = await newEvents();
    expect(e).toMatchObject({ provider: 'bedrock', model: 'anthropic.claude-3-haiku-20240307-v1:0', input_tokens: 125, output_tokens: 60, cache_read_tokens: 150, cache_write_tokens: 50 });
  });

  it('Bedrock ConverseStream: event stream passed through, usage from metadata', async () => {
    const res = await fetch(`${env.base}/bedrock/model/amazon.nova-lite-v1:0/converse-stream`, {
      method: 'POST',
      headers: { authorization: `Bearer ${env.key}`, 'content-type': 'application/json' },
      body: JSON.stringify({ messages: [{ role: 'user', content: [{ text: 'Hello' }] }] }),
    });
    expect(res.headers.get('content-type')).toBe('application/vnd.amazon.eventstream');
    expect((await res.arrayBuffer()).byteLength).toBeGreaterThan(100);
    const [e] = await newEvents();
    expect(e).toMatchObject({ provider: 'bedrock', input_tokens: 125, output_tokens: 60, estimated: false });
  });
});
