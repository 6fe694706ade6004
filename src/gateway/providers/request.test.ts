import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { withUsageOption } from './request.ts';

describe('withUsageOption', () => {
  it('splices the usage option into the client bytes as the first member', () => {
    expect(String(withUsageOption(Buffer.from('{"model":"gpt-4o","stream":true}')))).toBe('{"stream_options":{"include_usage":true},"model":"gpt-4o","stream":true}');
    expect(String(withUsageOption(Buffer.from(' \n{ "model": "m" }')))).toBe(' \n{"stream_options":{"include_usage":true}, "model": "m" }');
  });

  it('declines what is not a non-empty object', () => {
    for (const s of ['{}', ' { } ', '[1]', '"x"', '', 'null']) expect(withUsageOption(Buffer.from(s)), s).toBeUndefined();
  });

  it('any object without stream_options, however it is spaced, parses back with the option added', () => {
    fc.assert(
      fc.property(
        fc.dictionary(fc.string().filter((k) => k !== 'stream_options' && k !== '__proto__'), fc.jsonValue(), { minKeys: 1 }),
        fc.constantFrom(undefined, 0, 1, 2, '\t'),
        (o, indent) => {
          const text = JSON.stringify(o, null, indent);
          const out = withUsageOption(Buffer.from(text));
          expect(JSON.parse(String(out))).toEqual({ ...JSON.parse(text), stream_options: { include_usage: true } });
        },
      ),
      { numRuns: 500 },
    );
  });
});
