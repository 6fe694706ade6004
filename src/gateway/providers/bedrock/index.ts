import { EventStreamCodec } from '@smithy/eventstream-codec';
import { fromUtf8, toUtf8 } from '@smithy/util-utf8';
import { n, obj, parseJson, type Observed, type Operation, type ProviderSpec, type SseEvent, type StreamAcc, type Usage } from '../usage.ts';
import { ApiError } from '../../../shared/errors.ts';
import { parseAwsCredentials, signAws, type AwsCredentials } from '../../../secrets/aws.ts';
import type { ResolvedProvider } from '../../config.ts';
import { anthropic } from '../anthropic/index.ts';
import { baseOf } from '../request.ts';
import type { ApiSpec, BuildInput, ProviderFamily, UpstreamRequest } from '../types.ts';

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

/** The native Bedrock client API: `/<route>/model/:modelId/converse|converse-stream|invoke|invoke-with-response-stream`. */
export const bedrockApi: ApiSpec = {
  name: 'bedrock',
  endpoints: (
    [
      ['converse', 'converse', false],
      ['converse', 'converse-stream', true],
      ['invoke', 'invoke', false],
      ['invoke', 'invoke-with-response-stream', true],
    ] as const
  ).map(([op, sub, stream]) => ({
    path: `/model/:modelId/${sub}`,
    summary: `Bedrock ${sub} (SigV4-signed upstream)`,
    shape: (params: Record<string, string>) => ({ op, subpath: sub, pathModel: params.modelId ?? '', pathStream: stream }),
  })),
};

const regionOf = (p: ResolvedProvider) => p.region ?? /bedrock-runtime\.([a-z0-9-]+)\./.exec(baseOf(p).u.hostname)?.[1] ?? 'us-east-1';

function awsCredentials(p: ResolvedProvider, secret: string | undefined): AwsCredentials {
  if (secret) return parseAwsCredentials(secret);
  if (p.access_key_id && p.secret_access_key) return { accessKeyId: p.access_key_id, secretAccessKey: p.secret_access_key, ...(p.session_token ? { sessionToken: p.session_token } : {}) };
  throw new ApiError({ type: 'unavailable', code: 'UPSTREAM_CREDENTIAL_MISSING', message: `provider "${p.name}" has no AWS credentials: set gateway.providers.${p.name}.credential to a secret holding them` });
}

/** Only content headers are forwarded (they are signed too). */
function build(i: BuildInput): UpstreamRequest {
  const p = i.provider;
  const { u, basePath } = baseOf(p);
  const mapped = p.model_map?.[i.model];
  const sigv4 = { region: regionOf(p) };
  const headers: Record<string, string> = { 'content-type': 'application/json', accept: i.stream ? 'application/vnd.amazon.eventstream' : 'application/json' };
  const format = i.stream ? 'aws-eventstream' : 'json';
  if (i.api === 'anthropic') {
    // Anthropic Messages body → Bedrock InvokeModel (same body, model in the path, version in the body).
    const { model: _m, stream: _s, ...rest } = i.body;
    const beta = i.clientHeaders['anthropic-beta'];
    const body: Record<string, any> = { anthropic_version: 'bedrock-2023-05-31', ...rest };
    if (beta) body.anthropic_beta = String(beta).split(',').map((s) => s.trim());
    const path = basePath + bedrockPath(mapped ?? i.model, i.stream ? 'invoke-with-response-stream' : 'invoke');
    return { origin: u.origin, path, headers, body: JSON.stringify(body), spec: anthropic, op: 'messages', format, reencode: 'anthropic-sse', sigv4 };
  }
  // Native Bedrock routes: the client's body as is, to the operation it named.
  const spec = i.op === 'invoke' && /anthropic\./.test(i.model) ? anthropic : bedrock;
  return { origin: u.origin, path: basePath + bedrockPath(mapped ?? i.model, i.subpath as 'converse'), headers, body: i.raw, spec, op: i.op, format, sigv4 };
}

export const bedrockProvider: ProviderFamily = {
  type: 'bedrock',
  serves: ['anthropic', 'bedrock'],
  operations: ['messages', 'converse', 'invoke'],
  api: bedrockApi,
  defaultBaseUrl: (p) => `https://bedrock-runtime.${p.region ?? 'us-east-1'}.amazonaws.com`,
  env: [
    ['TOLLGATE_BEDROCK_BASE_URL', 'base_url'],
    ['TOLLGATE_BEDROCK_REGION', 'region'],
  ],
  credential: 'aws',
  build,
  sign: async (up, p, secret) =>
    signAws({ service: 'bedrock', region: up.sigv4!.region, credentials: awsCredentials(p, secret), method: 'POST', url: new URL(up.origin + up.path), headers: up.headers, body: up.body }),
  usageFromHeaders,
  eventFields: (p) => ({ region: p.region ?? 'us-east-1' }),
};
