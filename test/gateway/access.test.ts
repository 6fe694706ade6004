import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import OpenAI from 'openai';
import { Agent, fetch as undiciFetch } from 'undici';
import { gatewayEnv, until, type GatewayEnv } from './helpers.ts';
import { allowAll, type QuotaDecision } from '../../src/gateway/quota.ts';

let env: GatewayEnv;
beforeAll(async () => {
  env = await gatewayEnv();
});
afterAll(() => env.close());
const chat = (headers: Record<string, string>, model = 'gpt-4o') =>
  fetch(`${env.base}/openai/v1/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify({ model, messages: [{ role: 'user', content: 'Hi' }] }) });
const last = async () => (await env.events()).at(-1);

describe('gateway keys, attribution, policies and the quota seam', () => {
  it('rejects missing, invalid and non-gateway keys with the error shape', async () => {
    const none = await chat({});
    expect(none.status).toBe(401);
    expect(((await none.json()) as any).error.code).toBe('MISSING_API_KEY');
    expect((await chat({ authorization: 'Bearer nope' })).status).toBe(401);
    const reader = await env.app.key(['read']);
    const r = await chat({ authorization: `Bearer ${reader}` });
    expect(r.status).toBe(403);
    expect(((await r.json()) as any).error.code).toBe('INSUFFICIENT_SCOPE');
  });

  it('validates the body, naming the field', async () => {
    const r = await fetch(`${env.base}/openai/v1/chat/completions`, { method: 'POST', headers: { authorization: `Bearer ${env.key}`, 'content-type': 'application/json' }, body: '{"messages":[]}' });
    expect(r.status).toBe(400);
    expect(((await r.json()) as any).error).toMatchObject({ type: 'invalid_request', param: 'model' });
  });

  it('bad bodies get the same error over the direct HTTP path as through the Fastify route', async () => {
    const url = '/openai/v1/chat/completions';
    const headers = { authorization: `Bearer ${env.key}`, 'content-type': 'application/json' };
    for (const [body, status, param] of [
      ['{"model":', 400, 'body'],
      ['[1,2]', 400, 'body'],
      ['{"model":"gpt-4o","stream":"yes"}', 400, 'stream'],
      ['{"model":""}', 400, 'model'],
    ] as const) {
      const direct = await fetch(env.base + url, { method: 'POST', headers, body });
      const viaFastify = await env.app.tg.server.inject({ method: 'POST', url, headers, payload: body });
      expect(direct.status, body).toBe(status);
      const b = (await direct.json()) as any;
      expect(b.error.param, body).toBe(param);
      expect(viaFastify.statusCode, body).toBe(status);
      expect(viaFastify.json(), body).toEqual(b);
      expect(direct.headers.get('content-type')).toBe('application/json; charset=utf-8');
    }
    const limit = env.app.tg.config.ingest.body_limit_bytes;
    // Their own connections: a refused upload ends its connection, which must not touch other tests'.
    const own = new Agent();
    const big = await undiciFetch(env.base + url, { method: 'POST', headers, body: '{"model":"gpt-4o","pad":"' + 'x'.repeat(limit) + '"}', dispatcher: own });
    expect(big.status).toBe(413);
    expect(((await big.json()) as any).error.code).toBe('BODY_TOO_LARGE');
    // A chunked body (no content-length) over the limit is refused as it arrives.
    const chunked = await undiciFetch(env.base + url, {
      method: 'POST',
      headers,
      dispatcher: own,
      duplex: 'half',
      body: new ReadableStream({
        start(c) {
          for (let i = 0; i < 3; i++) c.enqueue(new TextEncoder().encode('x'.repeat(Math.ceil(limit / 2))));
          c.close();
        },
      }),
    });
    expect(chunked.status).toBe(413);
    await own.close();
    expect((await chat({ authorization: `Bearer ${env.key}` })).status).toBe(200);
  });

  it('attribution headers: subject, feature and project; a subject-bound key cannot be re-attributed', async () => {
    expect((await chat({ authorization: `Bearer ${env.key}`, 'x-tollgate-subject': 'user-42', 'x-tollgate-feature': 'summarise', 'x-tollgate-project': 'p9' })).status).toBe(200);
    // Found by subject, not as the last row: events of one batch need not get their seqs in call order.
    const e = await until(async () => (await env.events()).find((x) => x.subject === 'user-42'));
    expect(e).toMatchObject({ subject: 'user-42', feature: 'summarise', project: 'p9', team: 't1' });
    const bound = await env.app.key(['gateway'], { subject: 'alice' });
    const r = await chat({ authorization: `Bearer ${bound}`, 'x-tollgate-subject': 'bob' });
    expect(r.status).toBe(403);
    expect(((await r.json()) as any).error).toMatchObject({ code: 'SUBJECT_BOUND', param: 'x-tollgate-subject' });
  });

  it('passthrough: the client’s own provider key goes upstream, the Tollgate key attributes', async () => {
    const c = new OpenAI({ apiKey: 'sk-client-own-key', baseURL: `${env.base}/openai/v1`, maxRetries: 0, defaultHeaders: { 'x-tollgate-key': env.key } });
    await c.chat.completions.create({ model: 'gpt-4o', messages: [{ role: 'user', content: 'Hi' }] });
    expect(env.openai.seen.at(-1)!.headers.authorization).toBe('Bearer sk-client-own-key');
    expect(env.openai.seen.at(-1)!.headers['x-tollgate-key']).toBeUndefined();
    const e = await until(async () => ((await last())?.api_key === env.keyId ? last() : undefined));
    expect(e.team).toBe('t1');
  });

  it('per-key policy: allowed models and routes', async () => {
    const key = await env.app.key(['gateway']);
    const id = (await env.app.request('GET', '/v1/keys')).body.data.at(-1).id;
    const put = await env.app.request('PUT', `/v1/gateway/keys/${id}/policy`, { body: { allowed_models: ['gpt-4o-mini*'], allowed_routes: ['openai'] } });
    expect(put.status).toBe(200);
    expect(put.body).toMatchObject({ key_id: id, allowed_models: ['gpt-4o-mini*'], allowed_routes: ['openai'] });
    const denied = await chat({ authorization: `Bearer ${key}` }, 'gpt-4o');
    expect(denied.status).toBe(403);
    expect(((await denied.json()) as any).error).toMatchObject({ code: 'MODEL_NOT_ALLOWED', param: 'model' });
    expect((await chat({ authorization: `Bearer ${key}` }, 'gpt-4o-mini')).status).toBe(200);
    const az = await fetch(`${env.base}/azure/v1/chat/completions`, { method: 'POST', headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' }, body: JSON.stringify({ model: 'gpt-4o-mini', messages: [] }) });
    expect(((await az.json()) as any).error.code).toBe('ROUTE_NOT_ALLOWED');
    const bad = await env.app.request('PUT', `/v1/gateway/keys/${id}/policy`, { body: { allowed_routes: ['nope'] } });
    expect(bad.body.error.param).toBe('allowed_routes');
    expect((await env.app.request('DELETE', `/v1/gateway/keys/${id}/policy`)).status).toBe(200);
    expect((await chat({ authorization: `Bearer ${key}` }, 'gpt-4o')).status).toBe(200);
  });

  it('quota seam: over quota → 429 TOKEN_EXHAUSTED before any upstream call; near it → headers', async () => {
    const gw = env.app.tg.gateway;
    let decision: QuotaDecision = { allowed: false, level: 'blocked', remaining_tokens: '0', purchase_url: 'https://buy.example/tokens', resets_at: '2026-02-01T00:00:00Z' };
    const seenCtx: unknown[] = [];
    const estimates: number[] = [];
    const lease = { settle() {}, release() {} };
    gw.setQuotaGate({ reserve: (ctx, est) => (seenCtx.push(ctx), estimates.push(est.tokens), { decision, lease }) });
    const calls = env.openai.seen.length;
    const r = await chat({ authorization: `Bearer ${env.key}`, 'x-tollgate-subject': 'u1' });
    expect(r.status).toBe(429);
    expect((await r.json()) as any).toEqual({
      error: {
        type: 'quota_exceeded', code: 'TOKEN_EXHAUSTED', message: 'the token quota is used up', remaining_tokens: '0', recommended_action: 'PURCHASE_TOKENS',
        purchase_url: 'https://buy.example/tokens', resets_at: '2026-02-01T00:00:00Z',
      },
    });
    expect(env.openai.seen.length).toBe(calls);
    expect(seenCtx[0]).toMatchObject({ subject: 'u1', team: 't1', model: 'gpt-4o', route: 'openai', provider: 'openai', api_key: env.keyId });
    // prompt tokens counted + the default output cap (no max_tokens in the body)
    expect(estimates[0]).toBeGreaterThan(4096);
    decision = { allowed: true, level: 'warning', remaining_tokens: '1234', remaining_percent: '8.5', estimated_turns: 3, purchase_url: 'https://buy.example/tokens' };
    const ok = await chat({ authorization: `Bearer ${env.key}` });
    expect(ok.status).toBe(200);
    expect(ok.headers.get('x-tollgate-quota-level')).toBe('warning');
    expect(ok.headers.get('x-tollgate-remaining-tokens')).toBe('1234');
    expect(ok.headers.get('x-tollgate-remaining-percent')).toBe('8.5');
    expect(ok.headers.get('x-tollgate-estimated-turns')).toBe('3');
    expect(ok.headers.get('x-tollgate-purchase-url')).toBe('https://buy.example/tokens');
    // A gate that answers asynchronously is awaited.
    gw.setQuotaGate({ reserve: async () => ({ decision: { allowed: false, level: 'blocked', remaining_tokens: '7' }, lease }) });
    const later = await chat({ authorization: `Bearer ${env.key}` });
    expect(later.status).toBe(429);
    expect(((await later.json()) as any).error.remaining_tokens).toBe('7');
    expect(env.openai.seen.length).toBe(calls + 1);
    gw.setQuotaGate(allowAll);
  });

  it('exposes bounded gateway metrics', async () => {
    const m = await env.app.request('GET', '/metrics', { key: null });
    expect(m.body).toMatch(/tollgate_gateway_requests_total\{route="openai",provider="openai",model="gpt-4o-2024-08-06",status="2xx"\}/);
    expect(m.body).toMatch(/tollgate_gateway_tokens_total/);
    expect(m.body).toMatch(/tollgate_gateway_overhead_seconds_bucket/);
    expect(m.body).not.toMatch(/user-42|u1/);
  });

  it('recorded cost equals what the same tokens cost through POST /v1/events', async () => {
    const e = (await env.events()).find((x) => x.model === 'gpt-4o-2024-08-06')!;
    const r = await env.app.request('POST', '/v1/events', {
      body: { specversion: '1.0', id: 'direct-1', source: 'test', type: 'llm.usage', time: new Date(e.time).toISOString(), data: { provider: 'openai', model: e.model, input_tokens: e.input_tokens, cache_read_tokens: e.cache_read_tokens, output_tokens: e.output_tokens, reasoning_tokens: e.reasoning_tokens } },
    });
    expect(r.status).toBe(202);
    const d = (await env.app.db.query(`SELECT cost, unpriced FROM events WHERE id = 'direct-1'`)).rows[0] as any;
    expect(e.cost === null ? null : String(e.cost)).toBe(d.cost === null ? null : String(d.cost));
    expect(e.unpriced).toBe(d.unpriced);
  });
});
