import { describe, expect, it } from 'vitest';
import { google, geminiUsage } from './index.ts';
import { newAcc } from '../usage.ts';
import { GEMINI_CACHED, GEMINI_THINKING, geminiStream } from '../../../../test/gateway/upstream/fixtures.ts';
import { SseSplitter } from '../../sse.ts';

describe('google usage', () => {
  it.each([
    ['plain', { promptTokenCount: 10, candidatesTokenCount: 5 }, { input_tokens: 10, output_tokens: 5, cache_read_tokens: 0, cache_write_tokens: 0, reasoning_tokens: 0 }],
    ['thoughts are output and reasoning', { promptTokenCount: 11, candidatesTokenCount: 12, thoughtsTokenCount: 998 }, { input_tokens: 11, output_tokens: 1010, cache_read_tokens: 0, cache_write_tokens: 0, reasoning_tokens: 998 }],
    ['cached is part of the prompt', { promptTokenCount: 100, cachedContentTokenCount: 60, candidatesTokenCount: 1 }, { input_tokens: 40, output_tokens: 1, cache_read_tokens: 60, cache_write_tokens: 0, reasoning_tokens: 0 }],
    ['tool-use prompt is input', { promptTokenCount: 10, toolUsePromptTokenCount: 7 }, { input_tokens: 17, output_tokens: 0, cache_read_tokens: 0, cache_write_tokens: 0, reasoning_tokens: 0 }],
    ['cached above prompt is capped', { promptTokenCount: 5, cachedContentTokenCount: 9 }, { input_tokens: 0, output_tokens: 0, cache_read_tokens: 5, cache_write_tokens: 0, reasoning_tokens: 0 }],
  ])('%s', (_n, u, want) => expect(geminiUsage(u)).toEqual(want));

  it('reads responses and the model version', () => {
    expect(google.usageFromResponse('generate_content', GEMINI_THINKING)).toMatchObject({ model: 'gemini-2.5-pro', usage: { output_tokens: 1010, reasoning_tokens: 998 } });
    expect(google.usageFromResponse('generate_content', GEMINI_CACHED).usage).toMatchObject({ input_tokens: 7405, cache_read_tokens: 32768 });
  });

  it('a stream: usage from the last chunk carrying it, final with finishReason', () => {
    const acc = newAcc();
    const sse = new SseSplitter();
    const chunks = geminiStream();
    for (const [i, c] of chunks.entries()) {
      for (const ev of sse.push(Buffer.from(c))) google.usageFromStreamEvent('generate_content', ev, acc);
      if (i < chunks.length - 1) expect(acc.usageFinal).toBeFalsy();
    }
    expect(acc.usageFinal).toBe(true);
    expect(acc.usage).toMatchObject({ input_tokens: 9, output_tokens: 28, reasoning_tokens: 24 });
    expect(acc.text).toBe('Hello from Gemini today.');
  });
});
