import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { bearerToken } from './auth.ts';

/** The rule as first written: a regex over the trimmed header. */
const reference = (h: string) => /^Bearer\s+(.+)$/i.exec(h.trim())?.[1]!.trim();

describe('bearerToken', () => {
  it('reads the token the regex reads, for any Authorization header', () => {
    const piece = fc.oneof(fc.constantFrom('Bearer', 'bearer', 'BEARER', ' ', '  ', '\t', '\u00a0', '\ufeff', 'tg_', 'x'), fc.string({ maxLength: 12 }));
    fc.assert(
      fc.property(fc.array(piece, { maxLength: 6 }), (parts) => {
        const h = parts.join('');
        expect(bearerToken({ headers: { authorization: h } })).toBe(reference(h) ?? undefined);
      }),
      { numRuns: 5000 },
    );
    expect(bearerToken({ headers: { authorization: 'Bearer tg_abc' } })).toBe('tg_abc');
    expect(bearerToken({ headers: { authorization: 'Bearer  tg_abc ' } })).toBe('tg_abc');
  });

  it('falls back to x-api-key', () => {
    expect(bearerToken({ headers: { 'x-api-key': 'tg_k' } })).toBe('tg_k');
    expect(bearerToken({ headers: { authorization: 'Basic x', 'x-api-key': 'tg_k' } })).toBe('tg_k');
  });
});
