import { EventStreamCodec } from '@smithy/eventstream-codec';
import { fromUtf8, toUtf8 } from '@smithy/util-utf8';
import { n, obj, parseJson, type Observed, type Operation, type ProviderSpec, type SseEvent, type StreamAcc, type Usage } from '../../usage.ts';

/**
 * AWS Bedrock Runtime: Converse (usage.inputTokens/outputTokens/cacheReadInputTokens/
 * cacheWriteInputTokens) and InvokeModel (Anthropic models answer in the Messages format and are
 * read by the anthropic provider; other models report tokens in x-amzn-bedrock-* headers).
 * Requests are SigV4-signed (src/secrets/aws.ts) for the regional endpoint
 * https://bedrock-runtime.<region>.amazonaws.com.
 */
export function bedrockPath(modelId: string, op: 'converse' | 'converse-stream' | 'invoke' | 'invoke-with-response-stream'): string {
  return `/model/${encodeURIComponent(modelId)}/${op}`;
}

export function converseUsage(u: Record<string, any>): Usage {
  const output = n(u.outputTokens);
  return {
    input_tokens: n(u.inputTokens),
    output_tokens: output,
    cache_read_tokens: n(u.cacheReadInputTokens),
    cache_write_tokens: n(u.cacheWriteInputTokens),
    reasoning_tokens: 0,
  };
}

/** InvokeModel for non-Anthropic models: token counts come in response headers. */
export function usageFromHeaders(h: Record<string, string | string[] | undefined>): Usage | undefined {
  const i = h['x-amzn-bedrock-input-token-count'];
  const o = h['x-amzn-bedrock-output-token-count'];
  if (i === undefined && o === undefined) return undefined;
  return { input_tokens: n(Number(i)), output_tokens: n(Number(o)), cache_read_tokens: 0, cache_write_tokens: 0, reasoning_tokens: 0 };
}

function usageFromResponse(_op: Operation, body: unknown): Observed {
  const u = obj(obj(body)?.usage);
  return u ? { usage: converseUsage(u) } : {};
}

function usageFromStreamEvent(_op: Operation, ev: SseEvent, acc: StreamAcc): void {
  const j = obj(parseJson(ev.data));
  if (!j) return;
  switch (ev.event) {
    case 'contentBlockDelta': {
      const d = obj(j.delta);
      if (typeof d?.text === 'string') acc.text += d.text;
      else if (typeof obj(d?.toolUse)?.input === 'string') acc.text += obj(d?.toolUse)!.input;
      break;
    }
    case 'metadata': {
      const u = obj(j.usage);
      if (u) {
        acc.usage = converseUsage(u);
        acc.usageFinal = true;
      }
      acc.done = true;
      break;
    }
    default:
      if (ev.event && /Exception$/.test(ev.event)) acc.error = String(j.message ?? ev.event);
  }
}

export const bedrock: ProviderSpec = { name: 'bedrock', usageFromResponse, usageFromStreamEvent };
export default bedrock;

export const eventStreamCodec = new EventStreamCodec(toUtf8, fromUtf8);

/** One decoded AWS event-stream message: its :event-type (or :exception-type) and its JSON payload. */
export interface AwsEvent {
  type: string;
  messageType: string;
  payload: string;
}

/**
 * Splits an AWS binary event stream into messages as bytes arrive (each message states its total
 * length in its first 4 bytes) and decodes them with the maintained codec.
 */
export class AwsEventStreamSplitter {
  private buf = Buffer.alloc(0);
  push(chunk: Uint8Array): AwsEvent[] {
    this.buf = this.buf.length ? Buffer.concat([this.buf, chunk]) : Buffer.from(chunk);
    const out: AwsEvent[] = [];
    while (this.buf.length >= 4) {
      const total = this.buf.readUInt32BE(0);
      if (this.buf.length < total) break;
      const msg = eventStreamCodec.decode(this.buf.subarray(0, total));
      this.buf = this.buf.subarray(total);
      const hv = (k: string) => (msg.headers[k]?.value as string | undefined) ?? '';
      out.push({ type: hv(':event-type') || hv(':exception-type'), messageType: hv(':message-type'), payload: toUtf8(msg.body) });
    }
    return out;
  }
}

/** Encodes one event-stream message (the test upstream uses it to answer like Bedrock). */
export function encodeAwsEvent(type: string, payload: unknown, messageType: 'event' | 'exception' = 'event'): Uint8Array {
  const headers: Record<string, { type: 'string'; value: string }> = {
    ':message-type': { type: 'string', value: messageType },
    [messageType === 'event' ? ':event-type' : ':exception-type']: { type: 'string', value: type },
    ':content-type': { type: 'string', value: 'application/json' },
  };
  return eventStreamCodec.encode({ headers, body: fromUtf8(JSON.stringify(payload)) });
}

/** InvokeModelWithResponseStream chunk → the Anthropic SSE event it carries (for Messages clients). */
export function chunkToSse(ev: AwsEvent): { event: string; data: string } | undefined {
  if (ev.type !== 'chunk') return undefined;
  const b = obj(parseJson(ev.payload))?.bytes;
  if (typeof b !== 'string') return undefined;
  const data = Buffer.from(b, 'base64').toString('utf8');
  const type = obj(parseJson(data))?.type;
  return { event: typeof type === 'string' ? type : 'message', data };
}
