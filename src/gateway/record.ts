import { randomUUID } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import type { Logger } from '../shared/log.ts';
import type { ResolvedProvider } from './config.ts';
import type { Recorder } from './recorder.ts';
import type { GatewayMetrics } from './metrics.ts';
import type { QuotaLease } from './quota.ts';
import { estimateInput, estimateText } from './providers/estimate.ts';
import type { StreamAcc, Usage } from './providers/usage.ts';
import type { Call } from './call.ts';

export const EVENT_SOURCE = 'tollgate-gateway';

/** How an attempt (or the call) came out: the status it ended with, its usage and event fields. */
export interface Outcome {
  status: number;
  usage?: Usage;
  fields: Record<string, unknown>;
}

/** What a finished stream knows (record estimates what it lacks). */
export interface StreamEnd {
  acc: StreamAcc;
  status: number;
  failure: string | undefined;
  latencyMs: number;
  ttftMs: number | undefined;
  attempt: number;
}

const NO_USAGE: Usage = Object.freeze({ input_tokens: 0, output_tokens: 0, cache_read_tokens: 0, cache_write_tokens: 0, reasoning_tokens: 0 });
const used = (u: Usage | undefined): u is Usage => !!u && u.input_tokens + u.output_tokens + u.cache_read_tokens + u.cache_write_tokens > 0;

/**
 * The record stage: every attempt's `llm.usage` event, and `end()`, the single place a call ends —
 * its final event, its metrics, and its quota lease settled (tokens were used) or released
 * (none were), exactly once whatever the outcome. count_tokens calls record no event.
 */
export function createRecord(d: { recorder: Recorder; metrics: GatewayMetrics; logger: Logger }) {
  /** One attempt's event, handed to the recorder. `suffix`: '' for the call's own id, `_a<n>` for failed earlier attempts. */
  function event(call: Call, provider: ResolvedProvider, suffix: string, o: Outcome) {
    if (call.op === 'count_tokens') return;
    const u = o.usage ?? NO_USAGE;
    const data: Record<string, unknown> = { provider: provider.provider_name, model: call.model };
    if (provider.family.eventFields) Object.assign(data, provider.family.eventFields(provider));
    if (call.team) data.team = call.team;
    if (call.project) data.project = call.project;
    data.api_key = call.keyId;
    if (call.feature) data.feature = call.feature;
    data.route = call.route.name;
    data.operation = call.op;
    data.stream = call.stream;
    Object.assign(data, u, o.fields);
    data.status = o.status;
    const ev: Record<string, unknown> = { specversion: '1.0', source: EVENT_SOURCE, type: 'llm.usage', time: call.at.toISOString() };
    if (call.subject) ev.subject = call.subject;
    ev.data = data;
    ev.id = (call.id ??= `gw_${randomUUID()}`) + suffix;
    d.recorder.add(ev);
    const model = String(data.model);
    d.metrics.request(call.route.name, provider.provider_name, model, o.status);
    d.metrics.tokens(provider.provider_name, model, u);
  }

  function closeLease(lease: QuotaLease, usage: Usage | undefined) {
    try {
      if (used(usage)) lease.settle({ input_tokens: usage.input_tokens, output_tokens: usage.output_tokens, cache_read_tokens: usage.cache_read_tokens, cache_write_tokens: usage.cache_write_tokens, cost: null });
      else lease.release();
    } catch (err) {
      d.logger.error({ err }, 'gateway: the quota gate failed to settle or release a lease');
    }
  }

  /** The call ends: its final event (when an upstream was tried) and its lease, once. */
  function end(call: Call, provider: ResolvedProvider | undefined, o?: Outcome, suffix = '') {
    if (call.ended) return;
    call.ended = true;
    if (provider && o) event(call, provider, suffix, o);
    closeLease(call.lease, o?.usage);
  }

  return {
    end,
    /** A failed attempt the call goes on from (the next target is tried): no tokens, its status and why. */
    attemptFailed(call: Call, provider: ResolvedProvider, attempt: number, error: string, status: number) {
      event(call, provider, `_a${attempt}`, { status, fields: { latency_ms: Math.round(performance.now() - call.t0), attempt, error } });
    },
    /** A call that ended without an upstream answer to record (refused after reservation, no credential…). */
    abandon(call: Call) {
      end(call, undefined);
    },
    /**
     * A stream's end: usage as the stream told it, or estimated (and marked) when it never came.
     * Never rejects: a failure here is logged and the lost event counted, and the lease is still released.
     */
    async endStream(call: Call, provider: ResolvedProvider, s: StreamEnd): Promise<void> {
      try {
        const { acc } = s;
        let usage = acc.usage;
        let estimated = false;
        if (!acc.usageFinal) {
          estimated = true;
          const out = await estimateText(acc.text);
          usage = usage
            ? { ...usage, output_tokens: Math.max(usage.output_tokens, out) }
            : { input_tokens: await estimateInput(call.body), output_tokens: out, cache_read_tokens: 0, cache_write_tokens: 0, reasoning_tokens: 0 };
        }
        const fields: Record<string, unknown> = { latency_ms: s.latencyMs, ...(s.ttftMs !== undefined ? { ttft_ms: s.ttftMs } : {}) };
        if (estimated) fields.estimated = true;
        if (s.failure || acc.error) fields.error = s.failure ?? `upstream error event: ${acc.error}`;
        if (acc.model) fields.model = acc.model;
        if (acc.model && acc.model !== call.model) fields.requested_model = call.model;
        fields.attempt = s.attempt;
        end(call, provider, { status: s.status, usage, fields });
      } catch (err) {
        d.logger.error({ err, route: call.route.name }, 'gateway could not record a streamed call; its event is lost');
        d.metrics.dropped(1);
        end(call, undefined);
      }
    },
  };
}
export type RecordStage = ReturnType<typeof createRecord>;
