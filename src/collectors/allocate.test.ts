import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { Money } from '../shared/money.ts';
import { allocateCosts, type AllocLine, type AllocRow, type TokenClass } from './allocate.ts';

/**
 * The spread of a reported cost line over the usage rows it matches: the parts add up to the line
 * exactly, none is negative, each is the row's proportional share (to 10^-12 per row), and a line
 * is unmatched exactly when no row matches it.
 */

const CLASSES: TokenClass[] = ['input', 'cache_read', 'cache_write', 'cache_write_5m', 'cache_write_1h', 'output'];
const DAYS = ['2026-01-09', '2026-01-10'];
const MODELS = ['gpt-4o', 'gpt-4o-mini', null];
const SCOPES = ['proj_a', 'proj_b', null];

const tokenCount = fc.oneof(fc.constant(0), fc.integer({ min: 0, max: 50 }), fc.integer({ min: 0, max: 2_000_000_000 }));
const rowArb: fc.Arbitrary<AllocRow> = fc.record({
  day: fc.constantFrom(...DAYS),
  dims: fc.record({ model: fc.constantFrom(...MODELS), scope: fc.constantFrom(...SCOPES) }),
  tokens: fc.record(Object.fromEntries(CLASSES.map((c) => [c, tokenCount])) as Record<TokenClass, fc.Arbitrary<number>>),
});
// Amounts as the providers send them: dollars with up to 10 decimals (OpenAI), cents (Anthropic).
const amountArb = fc
  .tuple(fc.bigInt({ min: 0n, max: 10n ** 16n }), fc.integer({ min: 0, max: 10 }))
  .map(([n, scale]) => new Money(n.toString()).div(new Money(10).pow(scale)).toFixed());
const lineArb: fc.Arbitrary<AllocLine> = fc.record({
  day: fc.constantFrom(...DAYS),
  // A line names some of the dimensions (model, scope), or none.
  dims: fc.record({ model: fc.constantFrom(...MODELS), scope: fc.constantFrom(...SCOPES) }, { requiredKeys: [] }),
  cls: fc.constantFrom<TokenClass | null>(...CLASSES, null),
  amount: amountArb,
});

const weightOf = (r: AllocRow, cls: TokenClass | null) => {
  const t = r.tokens;
  if (cls === null) return CLASSES.reduce((s, c) => s + t[c], 0);
  if (cls === 'cache_write') return t.cache_write + t.cache_write_5m + t.cache_write_1h;
  return t[cls];
};
const matches = (r: AllocRow, l: AllocLine) => r.day === l.day && Object.entries(l.dims).every(([k, v]) => (r.dims[k] ?? null) === v);

describe('allocateCosts', () => {
  it('one line: parts sum to the amount exactly, are never negative, and are proportional', () => {
    fc.assert(
      fc.property(fc.array(rowArb, { maxLength: 30 }), lineArb, (rows, line) => {
        const { costs, unmatched } = allocateCosts(rows, [line]);
        const matched = rows.map((r, i) => [r, i] as const).filter(([r]) => matches(r, line));
        expect(unmatched.length).toBe(matched.length === 0 ? 1 : 0);
        rows.forEach((r, i) => expect(costs[i] === null).toBe(!matches(r, line)));
        if (!matched.length) return;
        const parts = matched.map(([, i]) => costs[i]!);
        for (const p of parts) expect(p.gte(0)).toBe(true);
        expect(parts.reduce((s, p) => s.plus(p), new Money(0)).eq(line.amount)).toBe(true);
        // The weights: the billed class, else all tokens, else equal shares.
        let w = matched.map(([r]) => weightOf(r, line.cls));
        if (w.every((x) => x === 0)) w = matched.map(([r]) => weightOf(r, null));
        if (w.every((x) => x === 0)) w = matched.map(() => 1);
        const sum = w.reduce((a, b) => a + b, 0);
        const tolerance = new Money(matched.length).times('1e-12');
        parts.forEach((p, k) => {
          const exact = new Money(line.amount).times(w[k]!).div(sum);
          expect(p.minus(exact).abs().lte(tolerance), `${p} vs ${exact}`).toBe(true);
        });
      }),
      { numRuns: 300 },
    );
  });

  it('many lines: allocated + unmatched is every line, to the last digit', () => {
    fc.assert(
      fc.property(fc.array(rowArb, { maxLength: 30 }), fc.array(lineArb, { maxLength: 12 }), (rows, lines) => {
        const { costs, unmatched } = allocateCosts(rows, lines);
        const allocated = costs.reduce<Money>((s, c) => (c === null ? s : s.plus(c)), new Money(0));
        const left = unmatched.reduce((s, l) => s.plus(l.amount), new Money(0));
        const all = lines.reduce((s, l) => s.plus(l.amount), new Money(0));
        expect(allocated.plus(left).eq(all)).toBe(true);
        for (const c of costs) if (c !== null) expect(c.gte(0)).toBe(true);
        expect(unmatched).toEqual(lines.filter((l) => !rows.some((r) => matches(r, l))));
      }),
      { numRuns: 300 },
    );
  });
});
