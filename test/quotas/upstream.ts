import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { estimateCallTokens } from '../../src/gateway/estimate.ts';

/**
 * A local OpenAI chat-completions server for the quota tests. Each answer's usage is exactly the
 * gateway's own reservation estimate of the request (prompt counted with the same tokenizer + the
 * full max_tokens), so a call's overrun (actual − estimate) is 0 and "never past the block
 * threshold by more than one request's own overrun" is checkable to the token. `failEvery = n`
 * answers 500 to every n-th call; streams send their chunks `chunkDelayMs` apart, so a client can
 * leave mid-stream. While `hold` is set every call waits for it before answering, so a test can have
 * every admission decided before any call ends.
 */
export interface FakeOpenAI {
  url: string;
  calls: number;
  failed: number;
  /** Streams whose client (the gateway) went away before the end. */
  aborted: number;
  failEvery: number;
  chunkDelayMs: number;
  hold: Promise<void> | null;
  close(): Promise<void>;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export async function startFakeOpenAI(): Promise<FakeOpenAI> {
  const u: FakeOpenAI = { url: '', calls: 0, failed: 0, aborted: 0, failEvery: 0, chunkDelayMs: 15, hold: null, close: async () => {} };
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', async () => {
      const n = ++u.calls;
      if (u.hold) await u.hold;
      const body = JSON.parse(Buffer.concat(chunks).toString('utf8') || '{}');
      if (u.failEvery && n % u.failEvery === 0) {
        u.failed++;
        const s = JSON.stringify({ error: { message: 'The server had an error while processing your request.', type: 'server_error', param: null, code: null } });
        res.writeHead(500, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(s) });
        return void res.end(s);
      }
      const est = await estimateCallTokens(body, body.model);
      const completion = Number(body.max_tokens ?? body.max_completion_tokens);
      const usage = { prompt_tokens: est - completion, completion_tokens: completion, total_tokens: est, prompt_tokens_details: { cached_tokens: 0, audio_tokens: 0 }, completion_tokens_details: { reasoning_tokens: 0, audio_tokens: 0, accepted_prediction_tokens: 0, rejected_prediction_tokens: 0 } };
      const head = { id: `chatcmpl-${n}`, created: 1741570283, model: 'gpt-4o-2024-08-06', system_fingerprint: 'fp_fc9f1d7035' };
      if (!body.stream) {
        const s = JSON.stringify({ ...head, object: 'chat.completion', choices: [{ index: 0, message: { role: 'assistant', content: 'One, two, three.', refusal: null }, logprobs: null, finish_reason: 'stop' }], usage });
        res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(s) });
        return void res.end(s);
      }
      res.on('close', () => {
        if (!res.writableFinished) u.aborted++;
      });
      res.writeHead(200, { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-cache' });
      const withUsage = body.stream_options?.include_usage === true;
      const chunk = (o: object) => `data: ${JSON.stringify({ ...head, object: 'chat.completion.chunk', ...o, ...(withUsage ? { usage: null } : {}) })}\n\n`;
      const parts = [chunk({ choices: [{ index: 0, delta: { role: 'assistant', content: '' }, logprobs: null, finish_reason: null }] })];
      for (const t of ['One', ',', ' two', ',', ' three', '.']) parts.push(chunk({ choices: [{ index: 0, delta: { content: t }, logprobs: null, finish_reason: null }] }));
      parts.push(chunk({ choices: [{ index: 0, delta: {}, logprobs: null, finish_reason: 'stop' }] }));
      if (withUsage) parts.push(`data: ${JSON.stringify({ ...head, object: 'chat.completion.chunk', choices: [], usage })}\n\n`);
      parts.push('data: [DONE]\n\n');
      for (const p of parts) {
        if (res.destroyed) return;
        res.write(p);
        await sleep(u.chunkDelayMs);
      }
      res.end();
    });
  });
  server.keepAliveTimeout = 60_000;
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  u.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  u.close = () =>
    new Promise<void>((r) => {
      server.closeAllConnections();
      server.close(() => r());
    });
  return u;
}
