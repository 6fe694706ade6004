import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { SignatureV4 } from '@smithy/signature-v4';
import { HttpRequest } from '@smithy/protocol-http';
import { Sha256 } from '@aws-crypto/sha256-js';
import { encodeAwsEvent } from '../../../src/gateway/providers/bedrock/index.ts';
import * as F from './fixtures.ts';

/**
 * Local upstream servers answering like OpenAI, Anthropic and Bedrock (byte for byte for the
 * documented payloads). `x-fake-mode` picks a behaviour: 429, 500, midstream-error, hang, slow:<ms>,
 * whole (a stream's events in one write with its end), long (OpenAI chat streams: ~6 MB of events in one write), cut (OpenAI chat: the connection drops
 * after the head).
 */
export interface Seen {
  method: string;
  url: string;
  headers: http.IncomingHttpHeaders;
  body: string;
}

export interface Upstream {
  url: string;
  seen: Seen[];
  /** Requests whose connection the gateway closed before the response ended. */
  aborted: number;
  /** Bytes of every streamed response, as sent. */
  sent: string[];
  close(): Promise<void>;
}

type Handler = (req: Seen, res: http.ServerResponse, u: Upstream, mode: string) => void | Promise<void>;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function start(handler: Handler): Promise<Upstream> {
  const u: Upstream = { url: '', seen: [], aborted: 0, sent: [], close: async () => {} };
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', async () => {
      const seen: Seen = { method: req.method!, url: req.url!, headers: req.headers, body: Buffer.concat(chunks).toString('utf8') };
      u.seen.push(seen);
      res.on('close', () => {
        if (!res.writableFinished) u.aborted++;
      });
      const mode = String(req.headers['x-fake-mode'] ?? '');
      if (mode.startsWith('slow:')) await sleep(Number(mode.slice(5)));
      try {
        await handler(seen, res, u, mode);
      } catch (e) {
        res.destroy(e as Error);
      }
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

function json(res: http.ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}) {
  const s = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(s), ...headers });
  res.end(s);
}

/** Streams events one by one (the first split across two writes, as TCP may), honouring the mode. */
async function sse(res: http.ServerResponse, u: Upstream, events: string[], mode: string, headers: Record<string, string> = {}) {
  res.writeHead(200, { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-cache', ...headers });
  u.sent.push(events.join(''));
  if (mode === 'whole') return void res.end(events.join(''));
  for (let i = 0; i < events.length; i++) {
    const e = events[i]!;
    if (i === 0) {
      res.write(e.slice(0, 7));
      await sleep(1);
      res.write(e.slice(7));
    } else res.write(e);
    await sleep(1);
    if (i === 2 && mode === 'midstream-error') return void res.destroy();
    if (i === 2 && mode === 'hang') return void (await sleep(60_000));
  }
  res.end();
}

const modeError = (res: http.ServerResponse, mode: string, kind: 'openai' | 'anthropic'): boolean => {
  if (mode !== '429' && mode !== '500') return false;
  const status = Number(mode);
  if (kind === 'openai') json(res, status, { error: { message: status === 429 ? 'Rate limit reached for gpt-4o' : 'The server had an error', type: status === 429 ? 'requests' : 'server_error', param: null, code: status === 429 ? 'rate_limit_exceeded' : null } }, { 'x-request-id': 'req_fake' });
  else json(res, status, { type: 'error', error: { type: status === 429 ? 'rate_limit_error' : 'api_error', message: status === 429 ? 'Number of request tokens has exceeded your per-minute rate limit' : 'Internal server error' } }, { 'request-id': 'req_fake' });
  return true;
};

export function startOpenAI(): Promise<Upstream> {
  return start(async (req, res, u, mode) => {
    if (modeError(res, mode, 'openai')) return;
    const body = JSON.parse(req.body || '{}');
    const path = req.url.replace(/\?.*$/, '');
    if (path.endsWith('/chat/completions')) {
      if (body.stream && mode === 'long') {
        // All at once: the upstream is fast, the client is the slow party.
        const all = F.openaiChatStream(body.stream_options?.include_usage === true, undefined, F.OPENAI_LONG_TEXT).join('');
        u.sent.push(all);
        res.writeHead(200, { 'content-type': 'text/event-stream; charset=utf-8' });
        return void res.end(all);
      }
      if (body.stream) return sse(res, u, F.openaiChatStream(body.stream_options?.include_usage === true), mode);
      if (mode === 'cut') {
        // The head and the start of the body, then the connection drops.
        res.writeHead(200, { 'content-type': 'application/json', 'content-length': '1000' });
        res.write('{"id":"chatcmpl-');
        return void setTimeout(() => res.destroy(), 5);
      }
      return json(res, 200, F.OPENAI_CHAT, { 'x-request-id': 'req_chat' });
    }
    if (path.endsWith('/responses')) {
      if (body.stream) return sse(res, u, F.openaiResponsesStream(), mode);
      return json(res, 200, F.OPENAI_RESPONSE);
    }
    if (path.endsWith('/embeddings')) return json(res, 200, F.OPENAI_EMBEDDING);
    json(res, 404, { error: { message: `Invalid URL (POST ${path})`, type: 'invalid_request_error', param: null, code: null } });
  });
}

export function startAnthropic(): Promise<Upstream> {
  return start(async (req, res, u, mode) => {
    if (modeError(res, mode, 'anthropic')) return;
    const body = JSON.parse(req.body || '{}');
    if (req.url === '/v1/messages/count_tokens') return json(res, 200, { input_tokens: 2095 });
    if (req.url === '/v1/messages') {
      if (body.stream) return sse(res, u, F.anthropicStream(), mode, { 'request-id': 'req_stream' });
      return json(res, 200, F.ANTHROPIC_MESSAGE, { 'request-id': 'req_msg' });
    }
    json(res, 404, { type: 'error', error: { type: 'not_found_error', message: 'Not found' } });
  });
}

/** Bedrock Runtime: checks each request's SigV4 signature with the same algorithm, 403 if wrong. */
export function startBedrock(creds: { accessKeyId: string; secretAccessKey: string }, region = 'us-east-1'): Promise<Upstream & { badSignatures: number }> {
  const state = { badSignatures: 0 };
  const up = start(async (req, res, u, mode) => {
    const auth = String(req.headers.authorization ?? '');
    const m = /Credential=([^/]+)\/(\d{8})\/([^/]+)\/([^/]+)\/aws4_request, SignedHeaders=([^,]+), Signature=([0-9a-f]+)/.exec(auth);
    let ok = false;
    if (m && m[1] === creds.accessKeyId && m[3] === region && m[4] === 'bedrock') {
      const signedHeaders = m[5]!.split(';');
      const headers: Record<string, string> = {};
      for (const h of signedHeaders) headers[h] = String(req.headers[h] ?? '');
      const amzDate = String(req.headers['x-amz-date']);
      const date = new Date(`${amzDate.slice(0, 4)}-${amzDate.slice(4, 6)}-${amzDate.slice(6, 8)}T${amzDate.slice(9, 11)}:${amzDate.slice(11, 13)}:${amzDate.slice(13, 15)}Z`);
      const [path] = req.url.split('?');
      const signer = new SignatureV4({ service: 'bedrock', region, credentials: creds, sha256: Sha256, uriEscapePath: true });
      const again = await signer.sign(new HttpRequest({ method: req.method, protocol: 'http:', hostname: String(req.headers.host).split(':')[0], path: path!, headers, body: req.body }), { signingDate: date });
      ok = again.headers.authorization === auth;
    }
    if (!ok) {
      state.badSignatures++;
      return json(res, 403, { message: 'The request signature we calculated does not match the signature you provided.' });
    }
    if (mode === '429') return json(res, 429, { message: 'Too many requests, please wait before trying again.' });
    const mm = /^\/model\/([^/]+)\/(converse|converse-stream|invoke|invoke-with-response-stream)$/.exec(req.url);
    if (!mm) return json(res, 404, { message: 'not found' });
    const [, , op] = mm;
    if (op === 'converse') return json(res, 200, F.BEDROCK_CONVERSE);
    if (op === 'invoke') return json(res, 200, { ...F.ANTHROPIC_MESSAGE, model: 'claude-sonnet-4-5-20250929' }, { 'x-amzn-bedrock-input-token-count': '2095', 'x-amzn-bedrock-output-token-count': '503' });
    res.writeHead(200, { 'content-type': 'application/vnd.amazon.eventstream' });
    if (op === 'invoke-with-response-stream') {
      for (const e of F.anthropicStream()) {
        const data = /data: (.*)\n/.exec(e)![1]!;
        res.write(encodeAwsEvent('chunk', { bytes: Buffer.from(data).toString('base64'), p: 'abcd' }));
        await sleep(1);
      }
    } else {
      res.write(encodeAwsEvent('messageStart', { role: 'assistant', p: 'ab' }));
      res.write(encodeAwsEvent('contentBlockDelta', { contentBlockIndex: 0, delta: { text: 'Hello from Bedrock.' }, p: 'ab' }));
      res.write(encodeAwsEvent('contentBlockStop', { contentBlockIndex: 0, p: 'ab' }));
      res.write(encodeAwsEvent('messageStop', { stopReason: 'end_turn', p: 'ab' }));
      res.write(encodeAwsEvent('metadata', { usage: F.BEDROCK_CONVERSE.usage, metrics: { latencyMs: 300 }, p: 'ab' }));
    }
    res.end();
  });
  return up.then((u) => Object.assign(u, { get badSignatures() { return state.badSignatures; } }));
}

/** The Gemini API (and Vertex AI's publisher path): generateContent (pretty JSON, as Google sends it), streamGenerateContent?alt=sse, countTokens. */
export function startGoogle(): Promise<Upstream> {
  return start(async (req, res, u, mode) => {
    if (mode === '429' || mode === '500') {
      const status = Number(mode);
      const body = { error: { code: status, message: status === 429 ? 'Resource has been exhausted (e.g. check quota).' : 'Internal error encountered.', status: status === 429 ? 'RESOURCE_EXHAUSTED' : 'INTERNAL' } };
      return json(res, status, body);
    }
    // Gemini's OpenAI-compatible endpoint (/v1beta/openai/chat/completions)
    if (req.url.endsWith('/openai/chat/completions')) return json(res, 200, { ...F.OPENAI_CHAT, model: 'gemini-2.5-flash' });
    const m = /\/models\/([^/:?]+):(generateContent|streamGenerateContent|countTokens)/.exec(req.url);
    if (!m) return json(res, 404, { error: { code: 404, message: 'not found', status: 'NOT_FOUND' } });
    const [, model, method] = m;
    if (method === 'countTokens') return json(res, 200, { totalTokens: 31, promptTokensDetails: [{ modality: 'TEXT', tokenCount: 31 }] });
    if (method === 'streamGenerateContent') return sse(res, u, F.geminiStream(), mode);
    const body = model!.startsWith('gemini-2.5-pro') ? (mode === 'long' ? F.GEMINI_LONG : F.GEMINI_THINKING) : F.GEMINI_CACHED;
    const text = JSON.stringify(body, null, 2) + '\n';
    u.sent.push(text);
    res.writeHead(200, { 'content-type': 'application/json; charset=UTF-8', 'content-length': Buffer.byteLength(text) });
    res.end(text);
  });
}
