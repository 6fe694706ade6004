import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { formatInZone, offsetMs, startOf, startOfNext, wallOf, wallToInstant, windowsOf } from './time.ts';

const H = 3_600_000;
const fmt = (tz: string, ws: Array<{ start: Date; end: Date }>) => ws.map((w) => `${formatInZone(tz, w.start)}/${(w.end.getTime() - w.start.getTime()) / H}h`);

describe('zone math', () => {
  it('formats with the zone offset, including +05:30 and +05:45', () => {
    expect(formatInZone('Asia/Kolkata', new Date('2026-03-01T18:30:00Z'))).toBe('2026-03-02T00:00:00+05:30');
    expect(formatInZone('Asia/Kathmandu', new Date('2026-03-01T18:15:00Z'))).toBe('2026-03-02T00:00:00+05:45');
    expect(formatInZone('UTC', new Date('2026-03-01T18:15:00Z'))).toBe('2026-03-01T18:15:00Z');
    expect(formatInZone('America/New_York', new Date('2026-03-08T07:00:00Z'))).toBe('2026-03-08T03:00:00-04:00');
  });

  it('DST days are 23 and 25 hours', () => {
    const ny = 'America/New_York';
    expect(fmt(ny, windowsOf(ny, 'day', new Date('2026-03-07T05:00:00Z'), new Date('2026-03-10T04:00:00Z')))).toEqual([
      '2026-03-07T00:00:00-05:00/24h',
      '2026-03-08T00:00:00-05:00/23h',
      '2026-03-09T00:00:00-04:00/24h',
    ]);
    expect(fmt(ny, windowsOf(ny, 'day', new Date('2026-11-01T04:00:00Z'), new Date('2026-11-02T05:00:00Z')))).toEqual(['2026-11-01T00:00:00-04:00/25h']);
  });

  it('the repeated fall-back hour is two hour windows', () => {
    const ny = 'America/New_York';
    expect(fmt(ny, windowsOf(ny, 'hour', new Date('2026-11-01T04:00:00Z'), new Date('2026-11-01T08:00:00Z')))).toEqual([
      '2026-11-01T00:00:00-04:00/1h',
      '2026-11-01T01:00:00-04:00/1h',
      '2026-11-01T01:00:00-05:00/1h',
      '2026-11-01T02:00:00-05:00/1h',
    ]);
  });

  it('weeks start on Monday, months on the 1st, windows are clipped to the range', () => {
    const tz = 'Asia/Seoul';
    expect(fmt(tz, windowsOf(tz, 'week', new Date('2026-02-26T03:00:00Z'), new Date('2026-03-10T15:00:00Z')))).toEqual([
      '2026-02-26T12:00:00+09:00/84h',
      '2026-03-02T00:00:00+09:00/168h',
      '2026-03-09T00:00:00+09:00/48h',
    ]);
    expect(fmt(tz, windowsOf(tz, 'month', new Date('2026-01-31T15:00:00Z'), new Date('2026-03-31T15:00:00Z')))).toEqual([
      '2026-02-01T00:00:00+09:00/672h',
      '2026-03-01T00:00:00+09:00/744h',
    ]);
  });

  it('a wall time in a gap resolves forward, an ambiguous one to the earlier instant', () => {
    const ny = 'America/New_York';
    expect(wallToInstant(ny, { year: 2026, month: 3, day: 8, hour: 2, minute: 30, second: 0 }).toISOString()).toBe('2026-03-08T07:30:00.000Z');
    expect(wallToInstant(ny, { year: 2026, month: 11, day: 1, hour: 1, minute: 30, second: 0 }).toISOString()).toBe('2026-11-01T05:30:00.000Z');
  });

  it('window boundaries are local unit starts, contiguous, and cover the range (property)', () => {
    const zones = ['UTC', 'Asia/Seoul', 'Asia/Kolkata', 'Asia/Kathmandu', 'America/New_York', 'Europe/London', 'America/Sao_Paulo', 'Asia/Tehran'];
    fc.assert(
      fc.property(fc.constantFrom(...zones), fc.constantFrom('hour', 'day', 'week', 'month') as fc.Arbitrary<'hour' | 'day' | 'week' | 'month'>, fc.integer({ min: 0, max: 365 * 24 * 4 }), fc.integer({ min: 1, max: 24 * 4 * 40 }), (tz, unit, a, len) => {
        const from = new Date(Date.parse('2026-01-01T00:00:00Z') + a * 900_000);
        const to = new Date(from.getTime() + len * 900_000);
        const ws = windowsOf(tz, unit, from, to);
        expect(ws[0]!.start).toEqual(from);
        expect(ws[ws.length - 1]!.end).toEqual(to);
        for (let i = 0; i < ws.length; i++) {
          if (i > 0) {
            expect(ws[i]!.start).toEqual(ws[i - 1]!.end);
            const w = wallOf(tz, ws[i]!.start);
            expect(w.minute).toBe(0);
            if (unit !== 'hour') expect(ws[i]!.start).toEqual(startOf(tz, unit, ws[i]!.start));
            if (unit === 'month') expect(w.day).toBe(1);
          }
          if (unit !== 'hour' && i < ws.length - 1) expect(ws[i]!.end).toEqual(startOfNext(tz, unit, ws[i]!.start));
          expect(Math.abs(offsetMs(tz, ws[i]!.start) % 900_000)).toBe(0);
        }
      }),
      { numRuns: 300 },
    );
  });
});

describe('memoised offsets', () => {
  // Straight from Intl, as wallOf did before offsets were memoised per 15-minute slot.
  const intlWall = (tz: string, ms: number) => {
    const f = new Intl.DateTimeFormat('en-US', { timeZone: tz, hourCycle: 'h23', year: 'numeric', month: 'numeric', day: 'numeric', hour: 'numeric', minute: 'numeric', second: 'numeric' });
    const p = Object.fromEntries(f.formatToParts(new Date(ms)).map((x) => [x.type, Number(x.value)]));
    return { year: p.year, month: p.month, day: p.day, hour: p.hour, minute: p.minute, second: p.second };
  };
  const zones = ['Asia/Seoul', 'Asia/Kolkata', 'Asia/Kathmandu', 'America/New_York', 'Europe/London', 'Australia/Lord_Howe', 'America/St_Johns', 'Asia/Shanghai', 'Africa/Monrovia'];

  it('wallOf equals Intl at any second, across DST changes and local-mean-time offsets (property)', () => {
    fc.assert(
      fc.property(
        fc.constantFrom(...zones),
        // 1880–2040 (LMT offsets such as Monrovia's −0:43:08 and Kathmandu's +5:41:16 included), and
        // seconds either side of 15-minute slot edges, where a memoised slot could go wrong.
        fc.oneof(fc.integer({ min: -2_840_000_000, max: 2_210_000_000 }).map((s) => s * 1000), fc.integer({ min: -10_000_000, max: 2_400_000 }).chain((q) => fc.integer({ min: -2, max: 2 }).map((d) => q * 900_000 + d * 1000))),
        (tz, ms) => {
          expect(wallOf(tz, ms)).toEqual(intlWall(tz, ms));
        },
      ),
      { numRuns: 10_000 },
    );
  });

  it('DST transitions in New York and Lord Howe (30-minute step) give the right offsets on both sides', () => {
    const ny = Date.parse('2026-03-08T07:00:00Z'); // 02:00 EST → 03:00 EDT
    expect(offsetMs('America/New_York', ny - 1000)).toBe(-5 * 3_600_000);
    expect(offsetMs('America/New_York', ny)).toBe(-4 * 3_600_000);
    const lh = Date.parse('2026-04-04T15:00:00Z'); // 02:00 +11 → 01:30 +10:30
    expect(offsetMs('Australia/Lord_Howe', lh - 1000)).toBe(11 * 3_600_000);
    expect(offsetMs('Australia/Lord_Howe', lh)).toBe(10.5 * 3_600_000);
  });
});
