// The bench's stand-in provider, on its own thread: its latency must not depend on the load
// generator's event loop, or "direct" and "gateway" would both measure the bench itself.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { parentPort } from 'node:worker_threads';
import { OPENAI_CHAT, geminiStream, openaiChatStream } from '../test/gateway/upstream/fixtures.ts';

const chatBody = Buffer.from(JSON.stringify(OPENAI_CHAT));
const streamed = openaiChatStream(true).join('');
const geminiStreamed = geminiStream().join('');
const upstream = http.createServer((req, res) => {
  let body = '';
  req.on('data', (c) => (body += c));
  req.on('end', () => {
    if (req.url!.includes(':streamGenerateContent')) {
      // Gemini API streamGenerateContent?alt=sse (usage in every chunk, final with finishReason)
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      res.end(geminiStreamed);
    } else if (body.includes('"stream":true')) {
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      res.end(streamed);
    } else {
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': chatBody.length });
      res.end(chatBody);
    }
  });
});
upstream.keepAliveTimeout = 60_000;
upstream.listen(0, '127.0.0.1', () => parentPort!.postMessage((upstream.address() as AddressInfo).port));
