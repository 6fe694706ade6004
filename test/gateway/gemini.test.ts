import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { GoogleGenAI } from '@google/genai';
import OpenAI from 'openai';
import { Decimal } from 'decimal.js';
import { gatewayEnv, until, type GatewayEnv } from './helpers.ts';
import * as F from './upstream/fixtures.ts';

let env: GatewayEnv;
let ai: GoogleGenAI;
let seen = 0;
beforeAll(async () => {
  env = await gatewayEnv();
  ai = new GoogleGenAI({ apiKey: env.key, httpOptions: { baseUrl: `${env.base}/google` } });
});
afterAll(() => env.close());
beforeEach(async () => {
  seen = (await env.events()).length;
});
const newEvents = async (n = 1) =>
  until(async () => {
    const all = await env.events();
    return all.length >= seen + n ? all.slice(seen) : undefined;
  });
const costOf = (e: any) => new Decimal(e.cost).toString();

describe('gateway: Gemini through the official @google/genai SDK', () => {
  it('thinking model: thoughts billed as output and reported as reasoning; the SDK sees the upstream answer', async () => {
    const r = await ai.models.generateContent({ model: 'gemini-2.5-pro', contents: 'Why is the sky blue?' });
    expect(r.text).toBe('The sky is blue because of Rayleigh scattering.');
    expect(r.usageMetadata).toEqual(F.GEMINI_THINKING.usageMetadata);
    const up = env.google.seen.at(-1)!;
    expect(up.url).toBe('/v1beta/models/gemini-2.5-pro:generateContent');
    expect(up.headers['x-goog-api-key']).toBe('AIza-upstream-gemini');
    const [e] = await newEvents();
    expect(e).toMatchObject({ provider: 'google', model: 'gemini-2.5-pro', input_tokens: 11, output_tokens: 1010, reasoning_tokens: 998, cache_read_tokens: 0, estimated: false });
    expect(e.data).toMatchObject({ status: 200, route: 'google', operation: 'generate_content', stream: false });
    // 11 × $1.25/M + 1010 × $10/M
    expect(costOf(e)).toBe('0.01011375');
  });

  it('cached content and tool-use prompt: input = prompt − cached + tool use, cache read = cached', async () => {
    const r = await ai.models.generateContent({ model: 'gemini-2.5-flash', contents: 'Summarise', config: { cachedContent: 'cachedContents/abc' } });
    expect(r.usageMetadata?.cachedContentTokenCount).toBe(32768);
    const [e] = await newEvents();
    expect(e).toMatchObject({ model: 'gemini-2.5-flash', input_tokens: 7405, cache_read_tokens: 32768, output_tokens: 260, reasoning_tokens: 50 });
    // 7405 × 0.3 + 32768 × 0.03 + 260 × 2.5, per million
    expect(costOf(e)).toBe('0.00385454');
  });

  it('a long-context call over 200k prompt tokens is priced at the upper tier', async () => {
    const res = await fetch(`${env.base}/google/v1beta/models/gemini-2.5-pro:generateContent`, {
      method: 'POST',
      headers: { 'x-goog-api-key': env.key, 'content-type': 'application/json', 'x-fake-mode': 'long' },
      body: JSON.stringify({ contents: [{ role: 'user', parts: [{ text: 'long…' }] }] }),
    });
    // the client sees exactly the upstream's bytes
    expect(await res.text()).toBe(env.google.sent.at(-1));
    const [e] = await newEvents();
    expect(e).toMatchObject({ input_tokens: 250000, output_tokens: 1000 });
    // 250000 × $2.5/M + 1000 × $15/M
    expect(costOf(e)).toBe('0.64');
  });

  it('streaming: chunks passed through byte for byte; usage from the last chunk carrying it', async () => {
    const chunks: string[] = [];
    for await (const c of await ai.models.generateContentStream({ model: 'gemini-2.5-flash', contents: 'Hi' })) chunks.push(c.text ?? '');
    expect(chunks.join('')).toBe('Hello from Gemini today.');
    const raw = await fetch(`${env.base}/google/v1beta/models/gemini-2.5-flash:streamGenerateContent?alt=sse&key=${env.key}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ contents: [{ role: 'user', parts: [{ text: 'Hi' }] }] }),
    });
    expect(await raw.text()).toBe(F.geminiStream().join(''));
    // the caller's key= never goes upstream; the upstream key does
    expect(env.google.seen.at(-1)!.url).toBe('/v1beta/models/gemini-2.5-flash:streamGenerateContent?alt=sse');
    expect(env.google.seen.at(-1)!.headers['x-goog-api-key']).toBe('AIza-upstream-gemini');
    const events = await newEvents(2);
    for (const e of events) {
      expect(e).toMatchObject({ model: 'gemini-2.5-flash', input_tokens: 9, output_tokens: 28, reasoning_tokens: 24, estimated: false });
      expect(e.data.stream).toBe(true);
      expect(costOf(e)).toBe('0.0000727');
    }
  });

  it('an error mid-stream: the client connection is closed; the call is estimated and recorded as 502', async () => {
    const res = await fetch(`${env.base}/google/v1beta/models/gemini-2.5-flash:streamGenerateContent?alt=sse`, {
      method: 'POST',
      headers: { 'x-goog-api-key': env.key, 'content-type': 'application/json', 'x-fake-mode': 'midstream-error' },
      body: JSON.stringify({ contents: [{ role: 'user', parts: [{ text: 'Tell me a story' }] }] }),
    });
    await res.text().catch(() => undefined);
    const [e] = await newEvents();
    expect(e.data.status).toBe(502);
    expect(e.estimated).toBe(true);
    // the stream had told the prompt tokens: they are kept, the output is estimated from the text
    expect(e.input_tokens).toBe(9);
    expect(e.output_tokens).toBeGreaterThan(0);
  });

  it('a client disconnect aborts the upstream and records what was generated (estimated, 499)', async () => {
    const before = env.google.aborted;
    const ac = new AbortController();
    const res = await fetch(`${env.base}/google/v1beta/models/gemini-2.5-flash:streamGenerateContent?alt=sse`, {
      method: 'POST',
      headers: { 'x-goog-api-key': env.key, 'content-type': 'application/json', 'x-fake-mode': 'hang' },
      body: JSON.stringify({ contents: [{ role: 'user', parts: [{ text: 'Tell me a story' }] }] }),
      signal: ac.signal,
    });
    const reader = res.body!.getReader();
    let got = '';
    while (!got.includes('from')) got += new TextDecoder().decode((await reader.read()).value);
    ac.abort();
    await until(() => env.google.aborted > before);
    const [e] = await newEvents();
    expect(e.data).toMatchObject({ status: 499, error: 'client_disconnected' });
    expect(e.estimated).toBe(true);
    expect(e.output_tokens).toBeGreaterThan(0);
  });

  it('countTokens is passed through and not recorded; Vertex AI form uses a bearer token; fallbacks work', async () => {
    const ct = await ai.models.countTokens({ model: 'gemini-2.5-flash', contents: 'Hello' });
    expect(ct.totalTokens).toBe(31);
    const vertex = await fetch(`${env.base}/google/v1/projects/p1/locations/us-central1/publishers/google/models/gemini-2.5-pro:generateContent`, {
      method: 'POST',
      headers: { authorization: `Bearer ${env.key}`, 'content-type': 'application/json' },
      body: JSON.stringify({ contents: [{ role: 'user', parts: [{ text: 'x' }] }] }),
    });
    expect(vertex.status).toBe(200);
    await vertex.arrayBuffer();
    expect(env.google.seen.at(-1)!.url).toBe('/v1/projects/p1/locations/us-central1/publishers/google/models/gemini-2.5-pro:generateContent');
    expect(env.google.seen.at(-1)!.headers.authorization).toBe('Bearer AIza-upstream-gemini');
    const fb = await fetch(`${env.base}/gemini/v1beta/models/gemini-2.5-pro:generateContent`, {
      method: 'POST',
      headers: { 'x-goog-api-key': env.key, 'content-type': 'application/json', 'x-fake-mode': '429' },
      body: JSON.stringify({ contents: [{ role: 'user', parts: [{ text: 'x' }] }] }),
    });
    // both targets answer 429 here (one local upstream): the last one's answer reaches the client verbatim
    expect(fb.status).toBe(429);
    expect(((await fb.json()) as any).error.status).toBe('RESOURCE_EXHAUSTED');
    // Two calls' events: the recorder keeps each call's order, not the order between calls.
    const events = (await newEvents(3)).sort((a, b) => a.data.status - b.data.status || a.provider.localeCompare(b.provider));
    expect(events.map((e) => [e.data.operation, e.data.status, e.provider])).toEqual([
      ['generate_content', 200, 'google'],
      ['generate_content', 429, 'google'],
      ['generate_content', 429, 'google_backup'],
    ]);
    expect(events[1].id).toMatch(/_a1$/);
  });

  it('an openai-type route pointed at Gemini’s OpenAI-compatible endpoint works with the openai SDK', async () => {
    const client = new OpenAI({ apiKey: env.key, baseURL: `${env.base}/geminioa/v1`, maxRetries: 0 });
    const r = await client.chat.completions.create({ model: 'gemini-2.5-flash', messages: [{ role: 'user', content: 'Hi' }] });
    expect(r.model).toBe('gemini-2.5-flash');
    expect(env.google.seen.at(-1)!.url).toBe('/v1beta/openai/chat/completions');
    expect(env.google.seen.at(-1)!.headers.authorization).toBe('Bearer AIza-upstream-gemini');
    const [e] = await newEvents();
    expect(e).toMatchObject({ provider: 'gemini_openai', model: 'gemini-2.5-flash', input_tokens: 86, cache_read_tokens: 1920, output_tokens: 300 });
  });
});
