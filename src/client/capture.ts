import { performance } from 'node:perf_hooks';
import { newAcc, type Operation, type StreamAcc, type Usage } from '../gateway/providers/usage.ts';
import { estimateInput, estimateText } from '../gateway/providers/estimate.ts';
import type { IngestClient } from './ingest.ts';

/** Attribution for every call a wrapped client makes (the same fields the gateway records). */
export interface WrapOptions {
  ingest: IngestClient;
  subject?: string;
  team?: string;
  project?: string;
  feature?: string;
  /** Provider name on the events (default "openai" / "anthropic" / "google"; e.g. "azure"). */
  provider?: string;
  region?: string;
}

export const ZERO: Usage = Object.freeze({ input_tokens: 0, output_tokens: 0, cache_read_tokens: 0, cache_write_tokens: 0, reasoning_tokens: 0 });

/** One wrapped provider call: what its event says besides the outcome. */
export interface Capture {
  o: WrapOptions;
  provider: string;
  op: Operation;
  stream: boolean;
  /** The model the caller asked for (the event's `model` unless the answer names another). */
  model: unknown;
  at: Date;
  t0: number;
}

export const capture = (o: WrapOptions, provider: string, op: Operation, stream: boolean, model: unknown): Capture => ({ o, provider, op, stream, model, at: new Date(), t0: performance.now() });

export const elapsed = (c: Capture) => Math.round(performance.now() - c.t0);

/** Hands the call's llm.usage event to the ingest client, shaped as the gateway shapes its own. */
export function recordCall(c: Capture, usage: Usage, fields: Record<string, unknown>, status: number): void {
  const { o } = c;
  c.o.ingest.record({
    time: c.at,
    subject: o.subject ?? null,
    data: {
      provider: c.provider,
      model: c.model,
      ...(o.region ? { region: o.region } : {}),
      ...(o.team ? { team: o.team } : {}),
      ...(o.project ? { project: o.project } : {}),
      ...(o.feature ? { feature: o.feature } : {}),
      operation: c.op,
      stream: c.stream,
      ...usage,
      ...fields,
      ...(fields.model && fields.model !== c.model ? { requested_model: c.model } : {}),
      status,
    },
  });
}

/** A call that threw before it had an answer to read: no tokens, the SDK's HTTP status (else 502) and why. */
export function recordFailure(c: Capture, e: any): void {
  recordCall(c, ZERO, { latency_ms: elapsed(c), error: String(e?.message ?? e).slice(0, 500) }, typeof e?.status === 'number' ? e.status : 502);
}

/**
 * Re-yields a provider SDK's stream, reading usage from each chunk with `observe` (which returns
 * false to hide a chunk from the caller), and records the call when the stream ends however it
 * ends: usage as the stream told it, or estimated (and marked) when its final usage never came —
 * the same rules as the gateway's record stage. `prompt` is the request body an estimate of the
 * input is counted from.
 */
export async function* observeStream<T>(c: Capture, source: AsyncIterable<T>, observe: (chunk: T, acc: StreamAcc) => boolean, prompt: () => unknown): AsyncGenerator<T> {
  const acc = newAcc();
  let ttft: number | undefined;
  let failed: unknown;
  try {
    for await (const chunk of source) {
      ttft ??= performance.now() - c.t0;
      if (observe(chunk, acc)) yield chunk;
    }
  } catch (e) {
    failed = e;
    throw e;
  } finally {
    let usage = acc.usage;
    const fields: Record<string, unknown> = { latency_ms: elapsed(c), ...(ttft !== undefined ? { ttft_ms: Math.round(ttft) } : {}), ...(acc.model ? { model: acc.model } : {}) };
    if (!acc.usageFinal) {
      const out = await estimateText(acc.text);
      usage = usage ? { ...usage, output_tokens: Math.max(usage.output_tokens, out) } : { ...ZERO, input_tokens: await estimateInput(prompt()), output_tokens: out };
      fields.estimated = true;
    }
    const status = failed || acc.error ? 502 : acc.done || acc.usageFinal ? 200 : 499;
    if (failed) fields.error = String((failed as Error)?.message ?? failed).slice(0, 500);
    else if (acc.error) fields.error = `upstream error event: ${acc.error}`;
    else if (status === 499) fields.error = 'client_disconnected';
    recordCall(c, usage ?? ZERO, fields, status);
  }
}
