import { describe, expect, it } from 'vitest';
import { bedrock, AwsEventStreamSplitter, encodeAwsEvent, chunkToSse, usageFromHeaders, bedrockPath } from './index.ts';
import { newAcc } from '../usage.ts';
import { BEDROCK_CONVERSE } from '../../../../test/gateway/upstream/fixtures.ts';

describe('bedrock', () => {
  it('Converse usage', () => {
    expect(bedrock.usageFromResponse('converse', BEDROCK_CONVERSE).usage).toEqual({ input_tokens: 125, output_tokens: 60, cache_read_tokens: 150, cache_write_tokens: 50, reasoning_tokens: 0 });
  });
  it('InvokeModel header counts', () => {
    expect(usageFromHeaders({ 'x-amzn-bedrock-input-token-count': '12', 'x-amzn-bedrock-output-token-count': '7' })).toMatchObject({ input_tokens: 12, output_tokens: 7 });
    expect(usageFromHeaders({})).toBeUndefined();
  });
  it('event stream split at any byte, decoded, usage from metadata', () => {
    const bytes = Buffer.concat([encodeAwsEvent('contentBlockDelta', { delta: { text: 'Hi' } }), encodeAwsEvent('metadata', { usage: BEDROCK_CONVERSE.usage })]);
    for (let cut = 1; cut < bytes.length; cut += 7) {
      const s = new AwsEventStreamSplitter();
      const evs = [...s.push(bytes.subarray(0, cut)), ...s.push(bytes.subarray(cut))];
      const acc = newAcc();
      for (const e of evs) bedrock.usageFromStreamEvent('converse', { event: e.type, data: e.payload }, acc);
      expect(acc.text).toBe('Hi');
      expect(acc.usage?.input_tokens).toBe(125);
    }
  });
  it('InvokeModelWithResponseStream chunk → Anthropic SSE event', () => {
    const data = '{"type":"message_stop"}';
    const [ev] = new AwsEventStreamSplitter().push(encodeAwsEvent('chunk', { bytes: Buffer.from(data).toString('base64') }));
    expect(chunkToSse(ev!)).toEqual({ event: 'message_stop', data });
  });
  it('model ids are path-encoded', () => {
    expect(bedrockPath('anthropic.claude-3-haiku-20240307-v1:0', 'invoke')).toBe('/model/anthropic.claude-3-haiku-20240307-v1%3A0/invoke');
  });
});
