import type { Dispatcher } from 'undici';

export type UpstreamHeaders = Record<string, string | string[] | undefined>;

/** Takes a response body's chunks in order, synchronously, as undici delivers them. */
export interface BodySink {
  /** `last`: the body had all arrived before the sink was attached and this is its final chunk (end() follows). */
  data(chunk: Buffer, last: boolean): void;
  end(): void;
  fail(err: unknown): void;
}

const EMPTY = Buffer.alloc(0);

/** Gathers a whole body (non-streaming responses, error bodies). */
class Collect implements BodySink {
  private chunks: Buffer[] = [];
  private size = 0;
  constructor(
    private readonly ok: (b: Buffer) => void,
    private readonly no: (e: unknown) => void,
  ) {}
  data(c: Buffer) {
    this.chunks.push(c);
    this.size += c.length;
  }
  end() {
    this.ok(this.chunks.length === 1 ? this.chunks[0]! : this.chunks.length ? Buffer.concat(this.chunks, this.size) : EMPTY);
  }
  fail(e: unknown) {
    this.no(e);
  }
}

/**
 * One upstream attempt, read in undici's dispatch callbacks. Undici's stream API (`request()`:
 * a Readable body read with `for await` or `arrayBuffer()`) put its stream machinery between a
 * chunk's arrival and the client's write: a bare pass-through added p50 +0.35 ms with it and
 * +0.26 ms with callbacks on the same machine (docs/gateway.md).
 *
 * `head` settles with the status and headers (true) or with the failure that came before them
 * (false). Chunks that arrive before a sink is attached are held and replayed to it, so nothing
 * is lost between the head and the caller's next step. `abort()` works at any point: before the
 * request is on a socket it settles `head` at once and the request is dropped when undici starts
 * it; after the head it ends the body with a failure.
 */
export class UpstreamCall implements Dispatcher.DispatchHandler {
  status = 0;
  headers: UpstreamHeaders = {};
  /** Set by abort(): why the attempt was given up (client gone, timeout). */
  aborted = false;
  reason: unknown;
  /** The failure (connection error, abort) once there was one. */
  error: unknown;
  failed = false;
  readonly head: Promise<boolean>;
  private settle!: (ok: boolean) => void;
  private headSettled = false;
  private controller: Dispatcher.DispatchController | undefined;
  private held: Buffer[] = [];
  private deadlineTimer: NodeJS.Timeout | undefined;
  private sink: BodySink | undefined;
  private ended = false;

  constructor() {
    this.head = new Promise<boolean>((ok) => (this.settle = ok));
  }

  abort(reason: Error) {
    if (this.aborted || this.ended || this.failed) return;
    this.aborted = true;
    this.reason = reason;
    if (this.controller) this.controller.abort(reason);
    else this.onResponseError(undefined, reason);
  }

  /**
   * Aborts with `reason()` unless the head has come within `ms`: it bounds the wait for an answer,
   * not a long stream (the timer ends when the head settles).
   */
  deadline(ms: number, reason: () => Error) {
    if (!this.headSettled) this.deadlineTimer = setTimeout(onDeadline, ms, this, reason);
  }

  pause() {
    this.controller?.pause();
  }

  resume() {
    this.controller?.resume();
  }

  /** Sends the body's chunks to `sink`: those held so far at once, then each as it arrives. */
  pipe(sink: BodySink) {
    this.sink = sink;
    if (this.held.length) {
      const held = this.held;
      this.held = [];
      const whole = this.ended;
      for (let i = 0; i < held.length; i++) sink.data(held[i]!, whole && i === held.length - 1);
    }
    if (this.failed) sink.fail(this.error);
    else if (this.ended) sink.end();
  }

  /** The whole body when it has all arrived already (small answers come with their head), else undefined. */
  bodyIfComplete(): Buffer | undefined {
    if (!this.ended || this.sink) return undefined;
    const held = this.held;
    this.held = [];
    return held.length === 1 ? held[0]! : held.length ? Buffer.concat(held) : EMPTY;
  }

  /** The whole body; rejects when the body fails part way. */
  body(): Promise<Buffer> {
    return new Promise<Buffer>((ok, no) => this.pipe(new Collect(ok, no)));
  }

  onRequestStart(controller: Dispatcher.DispatchController) {
    this.controller = controller;
    if (this.aborted) controller.abort(this.reason as Error);
  }

  onResponseStart(_c: Dispatcher.DispatchController, status: number, headers: UpstreamHeaders) {
    if (status < 200 || this.headSettled) return; // 1xx informational heads come before the real one
    this.status = status;
    this.headers = headers;
    this.settleHead(true);
  }

  onResponseData(_c: Dispatcher.DispatchController, chunk: Buffer) {
    if (this.sink) this.sink.data(chunk, false);
    else this.held.push(chunk);
  }

  onResponseEnd() {
    if (this.failed) return;
    this.ended = true;
    this.sink?.end();
  }

  onResponseError(_c: Dispatcher.DispatchController | undefined, err: unknown) {
    if (this.failed || this.ended) return;
    this.failed = true;
    this.error = err;
    if (!this.headSettled) this.settleHead(false);
    else this.sink?.fail(err);
  }

  private settleHead(ok: boolean) {
    this.headSettled = true;
    if (this.deadlineTimer) clearTimeout(this.deadlineTimer);
    this.settle(ok);
  }
}

// A module-level timer callback: the call and the reason travel as timer arguments (no closure per call).
function onDeadline(call: UpstreamCall, reason: () => Error) {
  call.abort(reason());
}
