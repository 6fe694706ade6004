import { openai as openaiSpec, asksForUsage } from '../gateway/providers/openai/index.ts';
import { anthropic as anthropicSpec } from '../gateway/providers/anthropic/index.ts';
import type { Operation, ProviderSpec } from '../gateway/providers/usage.ts';
import { capture, elapsed, observeStream, recordCall, recordFailure, ZERO, type WrapOptions } from './capture.ts';

export type { WrapOptions } from './capture.ts';

type AnyFn = (...a: any[]) => any;

/** Patches `resource.create` (an openai / @anthropic-ai/sdk resource) to record each call. */
function instrument(resource: any, op: Operation, spec: ProviderSpec, o: WrapOptions, providerName: string) {
  if (!resource || typeof resource.create !== 'function' || resource.__tollgate) return;
  const orig: AnyFn = resource.create.bind(resource);
  resource.__tollgate = true;
  resource.create = (body: Record<string, any>, options?: unknown) => {
    const stream = body?.stream === true;
    const c = capture(o, providerName, op, stream, body?.model);
    const hide = op === 'chat' && stream && !asksForUsage(body);
    const sent = hide ? { ...body, stream_options: { ...(body.stream_options ?? {}), include_usage: true } } : body;
    const p = orig(sent, options);
    const transform = (data: any) => {
      if (!stream) {
        const obs = spec.usageFromResponse(op, data);
        recordCall(c, obs.usage ?? ZERO, { latency_ms: elapsed(c), ...(obs.model ? { model: obs.model } : {}) }, 200);
        return data;
      }
      const inner: () => AsyncIterator<any> = data.iterator;
      const source = { [Symbol.asyncIterator]: inner } as AsyncIterable<any>;
      data.iterator = () =>
        observeStream(
          c,
          source,
          (ev, acc) => {
            spec.usageFromStreamEvent(op, { event: ev?.type, data: JSON.stringify(ev) }, acc);
            if (hide) {
              // the usage-only chunk the caller did not ask for stays hidden, as through the gateway
              if (Array.isArray(ev?.choices) && ev.choices.length === 0 && ev.usage) return false;
              if (ev && ev.usage === null) delete ev.usage;
            }
            return true;
          },
          () => body,
        );
      return data;
    };
    // _thenUnwrap keeps the SDK's APIPromise (withResponse(), MessageStream) intact; its parse is cached, so observing errors here does not read the body twice.
    const q = typeof p._thenUnwrap === 'function' ? p._thenUnwrap(transform) : p.then(transform);
    q.then(undefined, (e: unknown) => recordFailure(c, e));
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
