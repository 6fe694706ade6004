import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import OpenAI from 'openai';
import Anthropic from '@anthropic-ai/sdk';
import { GoogleGenAI, type GenerateContentParameters } from '@google/genai';
import { Decimal } from 'decimal.js';
import { gatewayEnv, until, type GatewayEnv } from '../gateway/helpers.ts';
import { createIngestClient, wrapOpenAI, wrapAnthropic, wrapGemini, type IngestClient } from '../../src/client/index.ts';
import { geminiPromptBody } from '../../src/client/gemini.ts';
import { requestText } from '../../src/gateway/providers/estimate.ts';

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
const pick = (e: any) => ({ ...Object.fromEntries(TOKENS.map((k) => [k, e[k]])), status: e.data.status, split: [e.data.cache_write_5m_tokens, e.data.cache_write_1h_tokens], cost: e.cost == null ? null : new Decimal(e.cost).toString() });
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

describe('Gemini: wrapGemini records the same events as the gateway', () => {
  /** The same calls, made by one client: thinking, cached content, > 200k tier, streams (whole, failed mid-way, left early), an upstream 429. */
  async function calls(ai: GoogleGenAI) {
    const mode = (m: string) => ({ httpOptions: { headers: { 'x-fake-mode': m } } });
    expect((await ai.models.generateContent({ model: 'gemini-2.5-pro', contents: 'Why is the sky blue?' })).text).toBe('The sky is blue because of Rayleigh scattering.');
    await ai.models.generateContent({ model: 'models/gemini-2.5-flash', contents: 'Summarise', config: { cachedContent: 'cachedContents/abc' } });
    await ai.models.generateContent({ model: 'gemini-2.5-pro', contents: 'long…', config: mode('long') });
    let text = '';
    for await (const c of await ai.models.generateContentStream({ model: 'gemini-2.5-flash', contents: 'Hi', config: { systemInstruction: 'Be brief' } })) text += c.text ?? '';
    expect(text).toBe('Hello from Gemini today.');
    await expect(
      (async () => {
        for await (const _ of await ai.models.generateContentStream({ model: 'gemini-2.5-flash', contents: 'Tell me a story', config: mode('midstream-error') }));
      })(),
    ).rejects.toThrow();
    // the caller stops reading after the third chunk (the upstream then hangs) and aborts the request
    const ac = new AbortController();
    let seenText = '';
    for await (const c of await ai.models.generateContentStream({ model: 'gemini-2.5-flash', contents: 'Tell me a story', config: { ...mode('hang'), abortSignal: ac.signal } })) {
      seenText += c.text ?? '';
      if (seenText.endsWith(' Gemini')) break;
    }
    ac.abort();
    await expect(ai.models.generateContent({ model: 'gemini-2.5-flash', contents: 'x', config: mode('429') })).rejects.toMatchObject({ status: 429 });
  }
  const N = 7;

  it('tokens by class, cost, model, provider and status match call for call', async () => {
    const direct = wrapGemini(new GoogleGenAI({ apiKey: 'AIza-direct', httpOptions: { baseUrl: env.google.url } }), { ingest, team: 't1' });
    const viaGw = new GoogleGenAI({ apiKey: env.key, httpOptions: { baseUrl: `${env.base}/google` } });
    const sdkBefore = (await sdkEvents(0)).length;
    const before = (await env.events()).length;
    await calls(direct);
    await calls(viaGw);
    const sdk = (await sdkEvents(sdkBefore + N)).slice(sdkBefore);
    const gw = await until(async () => {
      const all = await env.events();
      return all.length >= before + N ? all.slice(before) : undefined;
    });
    expect(sdk).toHaveLength(N);
    expect(sorted(sdk)).toEqual(sorted(gw));
    // spot checks: the classes are the gateway's (not merely equal to each other)
    const picked = (xs: any[]) => xs.map(pick);
    expect(picked(sdk)).toContainEqual(expect.objectContaining({ model: 'gemini-2.5-pro', input_tokens: 11, output_tokens: 1010, reasoning_tokens: 998, cost: '0.01011375' }));
    expect(picked(sdk)).toContainEqual(expect.objectContaining({ input_tokens: 7405, cache_read_tokens: 32768, output_tokens: 260, cost: '0.00385454' }));
    expect(picked(sdk)).toContainEqual(expect.objectContaining({ input_tokens: 250000, output_tokens: 1000, cost: '0.64' }));
    expect(sdk.map((e: any) => e.data.status).sort()).toEqual([200, 200, 200, 200, 429, 499, 502]);
    expect(sdk.filter((e: any) => e.estimated).map((e: any) => e.data.status).sort()).toEqual([499, 502]);
    expect(sdk.every((e: any) => e.provider === 'google' && e.data.operation === 'generate_content' && e.team === 't1')).toBe(true);
    expect(sdk.find((e: any) => e.data.stream && e.data.status === 200).data.ttft_ms).toBeGreaterThanOrEqual(0);
  });

  it('a stream without usage is estimated from the prompt the SDK actually sent', async () => {
    const params: GenerateContentParameters[] = [
      { model: 'gemini-2.5-flash', contents: 'Hi there' },
      { model: 'gemini-2.5-flash', contents: ['one', { text: 'two' }], config: { systemInstruction: 'Be brief' } },
      { model: 'gemini-2.5-flash', contents: [{ role: 'user', parts: [{ text: 'a' }] }, { role: 'model', parts: [{ text: 'b' }] }], config: { systemInstruction: { parts: [{ text: 'sys' }] } } },
    ];
    const ai = new GoogleGenAI({ apiKey: 'AIza-direct', httpOptions: { baseUrl: env.google.url } });
    for (const p of params) {
      await ai.models.generateContent(p);
      const wire = JSON.parse(env.google.seen.at(-1)!.body);
      expect(requestText(geminiPromptBody(p))).toEqual(requestText(wire));
    }
  });
});
