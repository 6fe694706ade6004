import { describe, expect, it } from 'vitest';
import { anthropic } from './index.ts';
import { newAcc } from '../usage.ts';
import { SseSplitter } from '../../sse.ts';
import { ANTHROPIC_MESSAGE, anthropicStream } from '../../../../test/gateway/upstream/fixtures.ts';

describe('anthropic usage mapping', () => {
  it.each([
    ['documented message', ANTHROPIC_MESSAGE, { input_tokens: 2095, cache_read_tokens: 1800, cache_write_tokens: 2500, cache_write_5m_tokens: 2000, cache_write_1h_tokens: 500, output_tokens: 503, reasoning_tokens: 0 }],
    ['no cache fields', { usage: { input_tokens: 10, output_tokens: 3 } }, { input_tokens: 10, cache_read_tokens: 0, cache_write_tokens: 0, output_tokens: 3, reasoning_tokens: 0 }],
    ['split that does not add up is dropped', { usage: { input_tokens: 1, output_tokens: 1, cache_creation_input_tokens: 10, cache_creation: { ephemeral_5m_input_tokens: 3, ephemeral_1h_input_tokens: 3 } } }, { input_tokens: 1, cache_read_tokens: 0, cache_write_tokens: 10, output_tokens: 1, reasoning_tokens: 0 }],
  ])('%s', (_n, body, usage) => {
    expect(anthropic.usageFromResponse('messages', body).usage).toEqual(usage);
  });

  it('stream: message_start then cumulative message_delta', () => {
    const acc = newAcc();
    for (const e of new SseSplitter().push(Buffer.from(anthropicStream().join('')))) anthropic.usageFromStreamEvent('messages', e, acc);
    expect(acc.usage).toEqual({ input_tokens: 472, cache_read_tokens: 1200, cache_write_tokens: 300, cache_write_5m_tokens: 0, cache_write_1h_tokens: 300, output_tokens: 89, reasoning_tokens: 0 });
    expect(acc.usageFinal && acc.done).toBe(true);
    expect(acc.text).toBe("Okay, let's count to three.");
  });

  it('a stream cut after message_start keeps input usage but is not final', () => {
    const acc = newAcc();
    for (const e of new SseSplitter().push(Buffer.from(anthropicStream().slice(0, 4).join('')))) anthropic.usageFromStreamEvent('messages', e, acc);
    expect(acc.usage?.input_tokens).toBe(472);
    expect(acc.usageFinal).toBeUndefined();
  });
});
