import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { ApiError } from '../shared/errors.ts';
import { errorBody } from '../http/errors.ts';
import { bodyShape, readBody } from './proxy.ts';

/** What readBody answers for a parsed body: its fields, or the error it throws. */
function outcome(parsed: unknown) {
  try {
    const r = readBody(parsed);
    return { model: r.model, stream: r.stream };
  } catch (e) {
    expect(e).toBeInstanceOf(ApiError);
    return { error: errorBody(e as ApiError) };
  }
}

describe('readBody', () => {
  it('accepts exactly what the zod schema accepts, with the same model and stream', () => {
    const model = fc.oneof(fc.string({ maxLength: 300 }), fc.constant(''), fc.constant('x'.repeat(256)), fc.constant('x'.repeat(257)), fc.integer(), fc.constant(null));
    const stream = fc.oneof(fc.constant(undefined), fc.boolean(), fc.constant('true'), fc.constant(null), fc.integer());
    const body = fc.oneof(
      fc.record({ model, stream, messages: fc.constant([{ role: 'user', content: 'hi' }]) }, { requiredKeys: [] }),
      fc.jsonValue(),
    );
    fc.assert(
      fc.property(body, (b) => {
        // JSON has no undefined: a body comes out of JSON.parse.
        const parsed = JSON.parse(JSON.stringify(b) ?? 'null');
        const got = outcome(parsed);
        const z = bodyShape.safeParse(parsed);
        expect('error' in got).toBe(!z.success);
        if (z.success) expect(got).toMatchObject({ model: z.data.model, stream: z.data.stream === true });
      }),
      { numRuns: 2000 },
    );
  });

  it('names the field in its errors', () => {
    expect(outcome({ model: '' })).toMatchObject({ error: { error: { param: 'model' } } });
    expect(outcome({ model: 'gpt-4o', stream: 'yes' })).toMatchObject({ error: { error: { param: 'stream' } } });
    expect(outcome([1])).toMatchObject({ error: { error: { param: 'body' } } });
  });
});
