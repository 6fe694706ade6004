import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { openai, hideUsage } from './index.ts';
import { newAcc } from '../usage.ts';
import { SseSplitter } from '../../sse.ts';
import { OPENAI_CHAT, OPENAI_EMBEDDING, OPENAI_RESPONSE, openaiChatStream, openaiResponsesStream } from '../../../../test/gateway/upstream/fixtures.ts';

describe('openai usage mapping', () => {
  it.each([
    ['chat', OPENAI_CHAT, { input_tokens: 86, cache_read_tokens: 1920, cache_write_tokens: 0, output_tokens: 300, reasoning_tokens: 192 }],
    ['responses', OPENAI_RESPONSE, { input_tokens: 26, cache_read_tokens: 10, cache_write_tokens: 0, output_tokens: 87, reasoning_tokens: 20 }],
    ['embeddings', OPENAI_EMBEDDING, { input_tokens: 8, cache_read_tokens: 0, cache_write_tokens: 0, output_tokens: 0, reasoning_tokens: 0 }],
    ['chat', { usage: { prompt_tokens: 5, completion_tokens: 0 } }, { input_tokens: 5, cache_read_tokens: 0, cache_write_tokens: 0, output_tokens: 0, reasoning_tokens: 0 }],
  ] as const)('%s response', (op, body, usage) => {
    expect(openai.usageFromResponse(op, body).usage).toEqual(usage);
  });

  it('no usage, no tokens', () => {
    expect(openai.usageFromResponse('chat', { error: {} }).usage).toBeUndefined();
  });

  const feed = (op: 'chat' | 'responses', events: string[]) => {
    const acc = newAcc();
    const s = new SseSplitter();
    for (const e of s.push(Buffer.from(events.join('')))) openai.usageFromStreamEvent(op, e, acc);
    return acc;
  };
  it('chat stream with the usage chunk', () => {
    const acc = feed('chat', openaiChatStream(true));
    expect(acc.usage).toEqual({ input_tokens: 476, cache_read_tokens: 1024, cache_write_tokens: 0, output_tokens: 12, reasoning_tokens: 0 });
    expect(acc.usageFinal && acc.done).toBe(true);
    expect(acc.text).toBe('Hello! How can I help you today?');
  });
  it('chat stream without usage leaves it to estimation', () => {
    const acc = feed('chat', openaiChatStream(false));
    expect(acc.usageFinal).toBeUndefined();
  });
  it('responses stream: usage from response.completed', () => {
    const acc = feed('responses', openaiResponsesStream());
    expect(acc.usage).toMatchObject({ input_tokens: 26, output_tokens: 87, reasoning_tokens: 20 });
    expect(acc.model).toBe('gpt-4.1-2025-04-14');
  });

  it('hideUsage turns the include_usage stream into exactly the plain stream', () => {
    const out = openaiChatStream(true).map(hideUsage).filter((x) => x !== null).join('');
    expect(out).toBe(openaiChatStream(false).join(''));
  });

  it('the splitter yields the same events however the bytes are cut (property)', () => {
    const bytes = Buffer.from(openaiChatStream(true).join('') + 'event: x\r\ndata: {"a":"é"}\r\n\r\n');
    const whole = new SseSplitter().push(bytes).map((e) => e.raw);
    fc.assert(
      fc.property(fc.uniqueArray(fc.integer({ min: 1, max: bytes.length - 1 }), { maxLength: 20 }), (cuts) => {
        const s = new SseSplitter();
        const got: string[] = [];
        let prev = 0;
        for (const c of [...cuts.sort((a, b) => a - b), bytes.length]) {
          got.push(...s.push(bytes.subarray(prev, c)).map((e) => e.raw));
          prev = c;
        }
        expect(got).toEqual(whole);
      }),
    );
  });
});
