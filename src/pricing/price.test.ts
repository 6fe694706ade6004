import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { Money } from '../shared/money.ts';
import { compilePrice, priceUsage, priceUsageDecimal, unitsToString } from './price.ts';
import type { Usage } from './types.ts';

const sum = (o: Record<string, string | undefined>) => Object.values(o).reduce((a, v) => (v === undefined ? a : a.plus(v)), new Money(0));

describe('unitsToString', () => {
  it.each([
    [0, '0'],
    [1, '0.000000000000001'],
    [2_500_000_000, '0.0000025'],
    [1e15, '1'],
    [1e15 + 1, '1.000000000000001'],
    [12e15, '12'],
    [Number.MAX_SAFE_INTEGER, '9.007199254740991'],
    [123456789012345678901234n, '123456789.012345678901234'],
  ])('%s → %s', (u, s) => expect(unitsToString(u)).toBe(s));
});

describe('unitsToString property', () => {
  it('equals Decimal division for every safe integer and BigInt', () => {
    fc.assert(
      fc.property(
        fc.oneof(
          fc.integer({ min: 0, max: Number.MAX_SAFE_INTEGER }),
          fc.integer({ min: 0, max: 1e9 }),
          fc.bigInt({ min: 0n, max: 10n ** 30n }),
          // Costs as rates make them: few significant digits, many trailing zeros, with or without whole
          // dollars (below 2^53 units, i.e. $9; larger costs take the BigInt path).
          fc.tuple(fc.integer({ min: 0, max: 8 }), fc.integer({ min: 0, max: 99_999_999 }), fc.integer({ min: 0, max: 14 })).map(([d, m, k]) => d * 1e15 + ((m * 10 ** k) % 1e15)),
        ),
        (u) => {
          expect(unitsToString(u)).toBe(new Money(u.toString()).div(new Money('1e15')).toFixed());
        },
      ),
      { numRuns: 20_000 },
    );
  });
});

describe('priceUsage', () => {
  const sonnet = compilePrice({ input: '3', output: '15', cache_read: '0.3', cache_write: '3.75', cache_write_1h: '6' });

  it('prices each class at its own rate; reasoning stays in output unless priced apart', () => {
    const r = priceUsage(sonnet, { input_tokens: 50, output_tokens: 800, reasoning_tokens: 500, cache_read_tokens: 100_000, cache_write_tokens: 20_000, cache_write_1h_tokens: 5_000 })!;
    expect(r.breakdown).toEqual({ input: '0.00015', cache_read: '0.03', cache_write: '0.05625', cache_write_1h: '0.03', output: '0.012' });
    expect(r.cost).toBe('0.1284');
    expect(r.prices).toEqual({ input: '3', cache_read: '0.3', cache_write: '3.75', cache_write_1h: '6', output: '15' });
  });

  it('falls back: cache read/write at the input rate, 1-hour writes at the 5-minute rate', () => {
    const p = compilePrice({ input: '2', output: '8', cache_write: '2.5' });
    const r = priceUsage(p, { input_tokens: 1000, output_tokens: 0, cache_read_tokens: 1000, cache_write_tokens: 2000, cache_write_1h_tokens: 1000 })!;
    expect(r.prices).toEqual({ input: '2', cache_read: '2', cache_write: '2.5', cache_write_1h: '2.5' });
    expect(r.cost).toBe('0.009');
  });

  it('prices reasoning and audio apart only where a rate exists', () => {
    const p = compilePrice({ input: '1', output: '2', reasoning: '3', input_audio: '10', output_audio: '20' });
    const r = priceUsage(p, { input_tokens: 1_000_000, input_audio_tokens: 100_000, output_tokens: 1_000_000, reasoning_tokens: 500_000, output_audio_tokens: 100_000 })!;
    expect(r.breakdown).toEqual({ input: '0.9', input_audio: '1', output: '0.8', reasoning: '1.5', output_audio: '2' });
  });

  it('applies a context tier to the whole request when the prompt (input + cache) is above it', () => {
    const gemini = compilePrice({ input: '1.25', output: '10', cache_read: '0.125', tiers: [{ above: 200_000, input: '2.5', output: '15', cache_read: '0.25' }] });
    expect(priceUsage(gemini, { input_tokens: 200_000, output_tokens: 1000 })!).toMatchObject({ cost: '0.26', tier_above: null });
    expect(priceUsage(gemini, { input_tokens: 190_000, cache_read_tokens: 10_001, output_tokens: 1000 })!).toMatchObject({
      tier_above: 200_000,
      breakdown: { input: '0.475', cache_read: '0.00250025', output: '0.015' },
    });
  });

  it('returns null (unpriced) when a class with tokens has no rate — never free', () => {
    expect(priceUsage(compilePrice({ output: '1' }), { input_tokens: 1, output_tokens: 0 })).toBeNull();
    expect(priceUsage(compilePrice({ input: '1' }), { input_tokens: 1, output_tokens: 1 })).toBeNull();
    expect(priceUsage(compilePrice({}), { input_tokens: 5, output_tokens: 5 })!.cost).toBe('0'); // listed as free
  });

  it('adds a per-request fee', () => {
    expect(priceUsage(compilePrice({ input: '1', output: '1', per_request: '0.005' }), { input_tokens: 1000, output_tokens: 0 })!).toMatchObject({
      cost: '0.006',
      breakdown: { input: '0.001', request: '0.005' },
    });
  });

  it('uses Decimal for rates the integer path cannot hold, with the same result', () => {
    const p = compilePrice({ input: '0.18000000000000002', output: '1' });
    expect(p.exact).toBe(false);
    expect(priceUsage(p, { input_tokens: 1_000_000, output_tokens: 0 })!.cost).toBe('0.18000000000000002');
  });
});

const rate = fc
  .tuple(fc.integer({ min: 0, max: 200 }), fc.integer({ min: 0, max: 999_999_999 }))
  .map(([i, f]) => new Money(`${i}.${String(f).padStart(9, '0')}`).toFixed());
const maybeRate = fc.option(rate, { nil: undefined });
const spec = fc.record({
  input: rate,
  output: rate,
  cache_read: maybeRate,
  cache_write: maybeRate,
  cache_write_1h: maybeRate,
  reasoning: maybeRate,
  input_audio: maybeRate,
  output_audio: maybeRate,
});
const tok = (max: number) => fc.integer({ min: 0, max });
const usage = (max: number): fc.Arbitrary<Usage> =>
  fc
    .record({ input: tok(max), output: tok(max), cr: tok(max), cw: tok(max), f1: fc.double({ min: 0, max: 1, noNaN: true }), f2: fc.double({ min: 0, max: 1, noNaN: true }), f3: fc.double({ min: 0, max: 1, noNaN: true }), f4: fc.double({ min: 0, max: 1, noNaN: true }) })
    .map(({ input, output, cr, cw, f1, f2, f3, f4 }) => {
      const reasoning = Math.floor(output * f1);
      return {
        input_tokens: input,
        output_tokens: output,
        cache_read_tokens: cr,
        cache_write_tokens: cw,
        cache_write_1h_tokens: Math.floor(cw * f2),
        reasoning_tokens: reasoning,
        input_audio_tokens: Math.floor(input * f3),
        output_audio_tokens: Math.floor((output - reasoning) * f4),
      };
    });

describe('cost properties', () => {
  it('is additive over token classes: the breakdown sums to the cost', () => {
    fc.assert(
      fc.property(spec, usage(10_000_000), (s, u) => {
        const r = priceUsage(compilePrice(s), u)!;
        expect(sum(r.breakdown).toFixed()).toBe(r.cost);
      }),
      { numRuns: 500 },
    );
  });

  it('is additive over events: pricing a + b equals price(a) + price(b) (no tier, no per-request fee)', () => {
    fc.assert(
      fc.property(spec, usage(1_000_000), usage(1_000_000), (s, a, b) => {
        const p = compilePrice(s);
        const both: Usage = {
          input_tokens: a.input_tokens + b.input_tokens,
          output_tokens: a.output_tokens + b.output_tokens,
          cache_read_tokens: a.cache_read_tokens! + b.cache_read_tokens!,
          cache_write_tokens: a.cache_write_tokens! + b.cache_write_tokens!,
          cache_write_1h_tokens: a.cache_write_1h_tokens! + b.cache_write_1h_tokens!,
          reasoning_tokens: a.reasoning_tokens! + b.reasoning_tokens!,
          input_audio_tokens: a.input_audio_tokens! + b.input_audio_tokens!,
          output_audio_tokens: a.output_audio_tokens! + b.output_audio_tokens!,
        };
        expect(new Money(priceUsage(p, a)!.cost).plus(priceUsage(p, b)!.cost).toFixed()).toBe(priceUsage(p, both)!.cost);
      }),
      { numRuns: 500 },
    );
  });

  it('the integer fast path equals the Decimal reference, including past 2^53 (BigInt)', () => {
    fc.assert(
      fc.property(spec, fc.oneof(usage(100_000), usage(1e12)), (s, u) => {
        const p = compilePrice(s);
        expect(p.exact).toBe(true);
        expect(priceUsage(p, u)).toEqual(priceUsageDecimal(p, u));
      }),
      { numRuns: 1000 },
    );
  });

  it('the sum of 1,000,000 tiny costs is exact', () => {
    // One input token of gpt-4o-mini ($0.15 per 1M) is $0.00000015.
    const p = compilePrice({ input: '0.15', output: '0.6' });
    let total = new Money(0);
    let floats = 0;
    for (let i = 0; i < 1_000_000; i++) {
      const c = priceUsage(p, { input_tokens: 1, output_tokens: 0 })!.cost;
      total = total.plus(c);
      floats += Number(c);
    }
    expect(total.toFixed()).toBe('0.15');
    expect(floats).not.toBe(0.15); // what float accumulation would have reported
  });
});
