import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { BUILT_IN_DATA, FAST, validateEvent } from './validate.ts';
import { parseRfc3339 } from '../shared/time.ts';
import { toEventRow } from './rows.ts';

describe('parseRfc3339', () => {
  it.each([
    ['2026-01-09T12:00:00Z', '2026-01-09T12:00:00.000Z'],
    ['2026-01-09T12:00:00.5+05:30', '2026-01-09T06:30:00.500Z'],
    ['2026-01-09t12:00:00+05:45', '2026-01-09T06:15:00.000Z'],
    ['2024-02-29T00:00:00-05:00', '2024-02-29T05:00:00.000Z'],
  ])('%s', (s, iso) => expect(parseRfc3339(s)?.toISOString()).toBe(iso));

  it.each(['2026-01-09', '2026-01-09 12:00:00Z', '2026-01-09T12:00:00', '2025-02-29T00:00:00Z', '2026-01-09T24:00:00Z', '1700000000', ''])('rejects %j', (s) =>
    expect(parseRfc3339(s)).toBeUndefined(),
  );

  it('round-trips every instant written as ISO', () => {
    fc.assert(
      fc.property(fc.date({ min: new Date('1970-01-01'), max: new Date('2999-12-31'), noInvalidDate: true }), (d) => {
        expect(parseRfc3339(d.toISOString())?.getTime()).toBe(d.getTime());
      }),
    );
  });
});

describe('validateEvent', () => {
  it('keeps unknown data fields of built-in types', () => {
    const v = validateEvent({ specversion: '1.0', id: '1', source: 's', type: 'llm.usage', time: '2026-01-01T00:00:00Z', data: { provider: 'p', model: 'm', input_tokens: 1, output_tokens: 2, trace_id: 'abc' } });
    expect(v.ok && v.event.data.trace_id).toBe('abc');
  });
  it('normalises a numeric cost to a decimal string', () => {
    const v = validateEvent({ specversion: '1.0', id: '1', source: 's', type: 'llm.usage', time: '2026-01-01T00:00:00Z', data: { provider: 'p', model: 'm', input_tokens: 1, output_tokens: 2, cost: 0.0015 } });
    expect(v.ok && toEventRow(v.event).cost).toBe('0.0015');
  });
});

describe('the fast validator agrees with the zod schema it is compiled from', () => {
  const value = fc.oneof(
    fc.constant(undefined),
    fc.integer({ min: -5, max: 1e6 }),
    fc.double({ noNaN: true }),
    fc.string({ maxLength: 6 }),
    fc.constantFrom('0.001', '12', '-1', '1e-7', 'abc', '', 'video', 'screen_share', 'audio', '123456789012345678901'),
    fc.boolean(),
    fc.constant(null),
  );
  const fields = ['provider', 'model', 'input_tokens', 'output_tokens', 'cache_read_tokens', 'cache_write_tokens', 'reasoning_tokens', 'region', 'cost', 'latency_ms', 'status', 'estimated',
    'room', 'participant', 'track', 'kind', 'host', 'cpu_percent', 'traffic_bytes_total', 'concurrent_users'];
  it.each(Object.keys(BUILT_IN_DATA))('%s', (type) => {
    fc.assert(
      fc.property(fc.dictionary(fc.constantFrom(...fields), value, { maxKeys: 12 }), (raw) => {
        const data = JSON.parse(JSON.stringify(raw));
        expect(FAST[type]!(data)).toBe(BUILT_IN_DATA[type]!.safeParse(data).success);
      }),
      { numRuns: 2000 },
    );
  });
});
