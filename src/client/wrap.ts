import { performance } from 'node:perf_hooks';
import { openai as openaiSpec, asksForUsage } from '../gateway/providers/openai/index.ts';
import { anthropic as anthropicSpec } from '../gateway/providers/anthropic/index.ts';
import { newAcc, type Operation, type ProviderSpec, type Usage } from '../gateway/providers/usage.ts';
import { estimateInput, estimateText } from '../gateway/providers/estimate.ts';
import type { IngestClient } from './ingest.ts';

/** Attribution for every call a wrapped client makes (the same fields the gateway records). */
export interface WrapOptions {
  ingest: IngestClient;
  subject?: string;
  team?: string;
  project?: string;
  feature?: string;
  /** Provider name on the events (default "openai" / "anthropic"; e.g. "azure"). */
  provider?: string;
  region?: string;
}

type AnyFn = (...a: any[]) => any;
const ZERO: Usage = { input_tokens: 0, output_tokens: 0, cache_read_tokens: 0, cache_write_tokens: 0, reasoning_tokens: 0 };

function instrument(resource: any, op: Operation, spec: ProviderSpec, o: WrapOptions, providerName: string) {
  if (!resource || typeof resource.create !== 'function' || resource.__tollgate) return;
  const orig: AnyFn = resource.create.bind(resource);
  resource.__tollgate = true;
  resource.create = (body: Record<string, any>, options?: unknown) => {
    const t0 = performance.now();
    const at = new Date();
    const stream = body?.stream === true;
    const hide = op === 'chat' && stream && !asksForUsage(body);
    const sent = hide ? { ...body, stream_options: { ...(body.stream_options ?? {}), include_usage: true } } : body;
    const record = (usage: Usage, fields: Record<string, unknown>, status: number) => {
      o.ingest.record({
        time: at,
        subject: o.subject ?? null,
        data: {
          provider: providerName,
          model: body?.model,
          ...(o.region ? { region: o.region } : {}),
          ...(o.team ? { team: o.team } : {}),
          ...(o.project ? { project: o.project } : {}),
          ...(o.feature ? { feature: o.feature } : {}),
          operation: op,
          stream,
          ...usage,
          ...fields,
          ...(fields.model && fields.model !== body?.model ? { requested_model: body?.model } : {}),
          status,
        },
      });
    };
    const p = orig(sent, options);
    const onError = (e: any) => record(ZERO, { latency_ms: Math.round(performance.now() - t0), error: String(e?.message ?? e).slice(0, 500) }, typeof e?.status === 'number' ? e.status : 502);
    const transform = (data: any) => {
      if (!stream) {
        const obs = spec.usageFromResponse(op, data);
        record(obs.usage ?? ZERO, { latency_ms: Math.round(performance.now() - t0), ...(obs.model ? { model: obs.model } : {}) }, 200);
        return data;
      }
      const inner: () => AsyncIterator<any> = data.iterator;
      data.iterator = async function* () {
        const acc = newAcc();
        let ttft: number | undefined;
        let failed: unknown;
        try {
          for await (const ev of { [Symbol.asyncIterator]: inner } as AsyncIterable<any>) {
            ttft ??= performance.now() - t0;
            spec.usageFromStreamEvent(op, { event: ev?.type, data: JSON.stringify(ev) }, acc);
            if (hide) {
              if (Array.isArray(ev?.choices) && ev.choices.length === 0 && ev.usage) continue;
              if (ev && ev.usage === null) delete ev.usage;
            }
            yield ev;
          }
        } catch (e) {
          failed = e;
          throw e;
        } finally {
          let usage = acc.usage;
          const fields: Record<string, unknown> = { latency_ms: Math.round(performance.now() - t0), ...(ttft !== undefined ? { ttft_ms: Math.round(ttft) } : {}), ...(acc.model ? { model: acc.model } : {}) };
          if (!acc.usageFinal) {
            const out = await estimateText(acc.text);
            usage = usage ? { ...usage, output_tokens: Math.max(usage.output_tokens, out) } : { ...ZERO, input_tokens: await estimateInput(body), output_tokens: out };
            fields.estimated = true;
          }
          const status = failed ? 502 : acc.done || acc.usageFinal ? 200 : 499;
          if (failed) fields.error = String((failed as Error)?.message ?? failed).slice(0, 500);
          else if (status === 499) fields.error = 'client_disconnected';
          record(usage ?? ZERO, fields, status);
        }
      };
      return data;
    };
    // _thenUnwrap keeps the SDK's APIPromise (withResponse(), MessageStream) intact; its parse is cached, so observing errors here does not read the body twice.
    const q = typeof p._thenUnwrap === 'function' ? p._thenUnwrap(transform) : p.then(transform);
    q.then(undefined, onError);
    return q;
  };
}

/** Records every chat completion, response and embedding an `openai` client makes (streams included). */
export function wrapOpenAI<T>(client: T, o: WrapOptions): T {
  const c = client as any;
  const name = o.provider ?? 'openai';
  instrument(c.chat?.completions, 'chat', openaiSpec, o, name);
  instrument(c.responses, 'responses', openaiSpec, o, name);
  instrument(c.embeddings, 'embeddings', openaiSpec, o, name);
  return client;
}

/** Records every message an `@anthropic-ai/sdk` client creates (create and stream()). */
export function wrapAnthropic<T>(client: T, o: WrapOptions): T {
  instrument((client as any).messages, 'messages', anthropicSpec, o, o.provider ?? 'anthropic');
  return client;
}
