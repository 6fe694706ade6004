import { performance } from 'node:perf_hooks';
import type { ServerResponse } from 'node:http';
import type { ResolvedProvider } from './config.ts';
import type { GatewayMetrics } from './metrics.ts';
import type { UpstreamRequest } from './providers/types.ts';
import { hideUsage } from './providers/openai/index.ts';
import { AwsEventStreamSplitter, chunkToSse } from './providers/bedrock/index.ts';
import { SseSplitter, type RawSse } from './sse.ts';
import { newAcc, type StreamAcc } from './providers/usage.ts';
import type { BodySink, UpstreamCall } from './upstream.ts';
import type { RecordStage } from './record.ts';
import { errorText, responseHeaders, type Call, type ClientSide } from './call.ts';

/** Everything one streamed answer needs, in one object. */
export interface RelayContext {
  call: Call;
  upstream: UpstreamCall;
  res: ServerResponse;
  up: UpstreamRequest;
  provider: ResolvedProvider;
  /** OpenAI chat stream whose client did not ask for usage: the usage chunk is hidden from it. */
  hide: boolean;
  client: ClientSide;
  /** performance.now() when the request was dispatched, and the gateway's time before that. */
  tSend: number;
  preOverhead: number;
  attempt: number;
  metrics: GatewayMetrics;
  record: RecordStage;
}

/** Headers go out with the first body chunk when it is already here; otherwise on the next turn. */
function flushHeadersIfIdle(res: ServerResponse) {
  if (!res.headersSent && !res.destroyed) res.flushHeaders();
}
/**
 * Writes a relayed chunk and sends it now. `res.write()` corks the socket until the next tick, so
 * without the uncork the bytes would wait for everything else done in this tick (reading the
 * chunk for usage, the end of the stream, recording the call) before leaving.
 */
function writeNow(res: ServerResponse, chunk: string | Buffer): boolean {
  const flowing = res.write(chunk);
  if (res.socket?.writableCorked) res.socket.uncork();
  return flowing;
}
/** What the client sees of these events when it did not ask for usage (hideUsage on each). */
function withoutUsage(events: RawSse[]): string {
  let out = '';
  for (const ev of events) {
    const kept = hideUsage(ev.raw);
    if (kept !== null) out += kept;
  }
  return out;
}

/**
 * A streamed answer, relayed chunk by chunk in undici's data callbacks: each chunk's bytes are
 * written to the client first, then read for usage. A full client socket pauses the upstream
 * until it drains. `done` settles once the call is recorded (record.endStream never rejects).
 */
export class StreamRelay implements BodySink {
  readonly done: Promise<void>;
  private ok!: () => void;
  private readonly acc: StreamAcc = newAcc();
  private readonly sse = new SseSplitter();
  private readonly aws: AwsEventStreamSplitter | undefined;
  private readonly toSse: boolean;
  private ttft: number | undefined;
  private finished = false;
  /** The response was ended with the last chunk (see data()). */
  private clientEnded = false;

  constructor(private readonly c: RelayContext) {
    this.done = new Promise<void>((ok) => (this.ok = ok));
    const { upstream, res, up } = c;
    this.aws = up.format === 'aws-eventstream' ? new AwsEventStreamSplitter() : undefined;
    this.toSse = !!this.aws && up.reencode === 'anthropic-sse';
    const headers = responseHeaders(upstream.headers, c.call.extraHeaders);
    if (this.toSse) headers['content-type'] = 'text/event-stream; charset=utf-8';
    const tHeaders = performance.now();
    res.writeHead(upstream.status, headers);
    // The first body chunk usually arrived with the headers: it carries them out in one write.
    setImmediate(flushHeadersIfIdle, res);
    const overhead = c.preOverhead + (performance.now() - tHeaders);
    upstream.pipe(this);
    // Metrics after the chunks held so far went out: they are not the client's business.
    c.metrics.overhead(c.call.route.name, overhead / 1000);
  }

  /**
   * `last`: the whole answer was here before the relay started (a short answer, or a fast
   * upstream): what the client gets of it goes out with the response's end in one write (one
   * syscall, one wake-up of the client), as a plain pass-through would send it.
   */
  data(chunk: Buffer, last: boolean) {
    if (this.finished) return;
    const { up } = this.c;
    const acc = this.acc;
    const first = this.ttft === undefined;
    if (first) this.ttft = performance.now() - this.c.call.t0;
    let flowing = true;
    if (this.aws) {
      // What one upstream chunk completes goes out as one write (one syscall, one client wake-up).
      let out = '';
      for (const ev of this.aws.push(chunk)) {
        if (this.toSse) {
          const s = chunkToSse(ev);
          if (s) {
            up.spec.usageFromStreamEvent(up.op, s, acc);
            out += `event: ${s.event}\ndata: ${s.data}\n\n`;
          } else if (ev.messageType === 'exception') {
            acc.error = ev.type;
            out += `event: error\ndata: ${JSON.stringify({ type: 'error', error: { type: 'api_error', message: ev.type } })}\n\n`;
          }
        } else up.spec.usageFromStreamEvent(up.op, { event: ev.type, data: ev.payload }, acc);
      }
      flowing = this.toClient(this.toSse ? out : chunk, last);
    } else if (this.c.hide) {
      const events = this.events(chunk, last);
      // The client's bytes go out first; reading usage from them (JSON) comes after the write.
      flowing = this.toClient(withoutUsage(events), last);
      for (const ev of events) up.spec.usageFromStreamEvent(up.op, ev, acc);
    } else {
      flowing = this.toClient(chunk, last);
      for (const ev of this.events(chunk, last)) up.spec.usageFromStreamEvent(up.op, ev, acc);
    }
    if (first) this.c.metrics.ttft(this.c.provider.provider_name, this.ttft! / 1000);
    if (!flowing) {
      // A slow client: hold the upstream until its socket drains (or it leaves, which aborts).
      this.c.upstream.pause();
      this.c.res.once('drain', () => this.c.upstream.resume());
    }
  }

  /** The SSE events a chunk completes; with the last chunk, whatever the stream left unterminated too. */
  private events(chunk: Buffer, last: boolean): RawSse[] {
    const events = this.sse.push(chunk);
    if (last) for (const ev of this.sse.end()) events.push(ev);
    return events;
  }

  /** Sends the client its part of a chunk; with the last one, ends the response in the same write. */
  private toClient(out: string | Buffer, last: boolean): boolean {
    if (last) {
      this.clientEnded = true;
      this.c.res.end(out);
      return true;
    }
    return out.length ? writeNow(this.c.res, out) : true;
  }

  end() {
    if (this.finished) return;
    if (!this.aws && !this.clientEnded) {
      const events = this.sse.end();
      const out = this.c.hide ? withoutUsage(events) : '';
      if (out) this.c.res.write(out);
      for (const ev of events) this.c.up.spec.usageFromStreamEvent(this.c.up.op, ev, this.acc);
    }
    this.finish(undefined);
  }

  fail(err: unknown) {
    this.finish(this.c.client.gone ? 'client_disconnected' : `upstream stream failed: ${errorText(err)}`);
  }

  private finish(failure: string | undefined) {
    if (this.finished) return;
    this.finished = true;
    const { c, acc } = this;
    const gone = c.client.gone;
    if (gone) failure = 'client_disconnected';
    const tEnd = performance.now();
    c.metrics.upstream(c.provider.provider_name, (tEnd - c.tSend) / 1000);
    // An upstream failure closes the client's connection, so it sees an error, not a clean end.
    if (failure && !gone) c.res.destroy();
    else if (!gone && !this.clientEnded) c.res.end();
    const status = gone ? 499 : failure || acc.error ? 502 : c.upstream.status;
    const ttftMs = this.ttft !== undefined ? Math.round(this.ttft) : undefined;
    c.record.endStream(c.call, c.provider, { acc, status, failure, latencyMs: Math.round(tEnd - c.call.t0), ttftMs, attempt: c.attempt }).then(this.ok);
  }
}
