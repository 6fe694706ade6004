import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import OpenAI from 'openai';
import Anthropic from '@anthropic-ai/sdk';
import { gatewayEnv, until, type GatewayEnv } from '../gateway/helpers.ts';
import { createIngestClient, wrapOpenAI, wrapAnthropic, type IngestClient } from '../../src/client/index.ts';

let env: GatewayEnv;
let ingest: IngestClient;
beforeAll(async () => {
  env = await gatewayEnv();
  const key = await env.app.key(['ingest'], { team: 't1' });
  ingest = createIngestClient({ baseUrl: env.base, apiKey: key, flushIntervalMs: 5, flushOnExit: false });
});
afterAll(async () => {
  await ingest.close();
  await env.close();
});

const TOKENS = ['provider', 'model', 'input_tokens', 'output_tokens', 'cache_read_tokens', 'cache_write_tokens', 'reasoning_tokens', 'estimated'] as const;
const sorted = (xs: any[]) => xs.map(pick).map((x) => JSON.stringify(x)).sort(); // one batch may store events in any order
const pick = (e: any) => ({ ...Object.fromEntries(TOKENS.map((k) => [k, e[k]])), status: e.data.status, split: [e.data.cache_write_5m_tokens, e.data.cache_write_1h_tokens] });
async function sdkEvents(n: number) {
  await ingest.flush();
  return until(async () => {
    const r = await env.app.db.query(`SELECT * FROM events WHERE source = 'tollgate-sdk' ORDER BY seq`);
    return r.rows.length >= n
      ? r.rows.map((x: any) => ({ ...x, ...Object.fromEntries(['input_tokens', 'output_tokens', 'cache_read_tokens', 'cache_write_tokens', 'reasoning_tokens'].map((k) => [k, Number(x[k])])), data: typeof x.data === 'string' ? JSON.parse(x.data) : x.data }))
      : undefined;
  });
}

describe('SDK wrappers record the same events as the gateway', () => {
  it('openai: chat (plain and streamed), responses, embeddings', async () => {
    const direct = wrapOpenAI(new OpenAI({ apiKey: 'sk-direct', baseURL: `${env.openai.url}/v1`, maxRetries: 0 }), { ingest, team: 't1' });
    const viaGw = new OpenAI({ apiKey: env.key, baseURL: `${env.base}/openai/v1`, maxRetries: 0 });
    const calls = async (c: OpenAI) => {
      await c.chat.completions.create({ model: 'gpt-4o', messages: [{ role: 'user', content: 'Hi' }] });
      const s = await c.chat.completions.create({ model: 'gpt-4o-mini', stream: true, messages: [{ role: 'user', content: 'Hi' }] });
      const chunks = [];
      for await (const ch of s) chunks.push(ch);
      expect(chunks.some((ch) => 'usage' in ch)).toBe(false);
      await c.responses.create({ model: 'gpt-4.1', input: 'story' });
      await c.embeddings.create({ model: 'text-embedding-3-small', input: 'x' });
    };
    const before = (await env.events()).length;
    await calls(direct);
    await calls(viaGw);
    const sdk = await sdkEvents(4);
    const gw = await until(async () => {
      const all = await env.events();
      return all.length >= before + 4 ? all.slice(before) : undefined;
    });
    expect(sorted(sdk.slice(0, 4))).toEqual(sorted(gw));
    expect(sdk.slice(0, 4).every((e: any) => e.team === 't1')).toBe(true);
  });

  it('anthropic: create and stream()', async () => {
    const direct = wrapAnthropic(new Anthropic({ apiKey: 'sk-ant-direct', baseURL: env.anthropic.url, maxRetries: 0 }), { ingest });
    const viaGw = new Anthropic({ apiKey: env.key, baseURL: `${env.base}/anthropic`, maxRetries: 0 });
    const params = { model: 'claude-sonnet-4-5', max_tokens: 100, messages: [{ role: 'user' as const, content: 'Hi' }] };
    const before = (await env.events()).length;
    for (const c of [direct, viaGw]) {
      await c.messages.create(params);
      await c.messages.stream(params).finalMessage();
    }
    const sdk = (await sdkEvents(6)).slice(4);
    const gw = await until(async () => {
      const all = await env.events();
      return all.length >= before + 2 ? all.slice(before) : undefined;
    });
    expect(sorted(sdk)).toEqual(sorted(gw));
  });
});
