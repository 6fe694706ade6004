import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { CUBES, chooseCube, decompose, decomposeSigned, floorGrain, nextGrain, queryGrains } from './cubes.ts';

describe('decompose', () => {
  it('covers the range exactly with aligned buckets, in UTC and in a report zone (property)', () => {
    const zones = [null, 'Asia/Seoul', 'Asia/Kolkata', 'Asia/Kathmandu', 'America/New_York'];
    fc.assert(
      fc.property(fc.constantFrom(...CUBES), fc.constantFrom(...zones), fc.integer({ min: 0, max: 4 * 24 * 800 }), fc.integer({ min: 1, max: 4 * 24 * 200 }), (cube, zone, a, len) => {
        const start = Date.parse('2025-06-01T00:00:00Z') + a * 900_000;
        const end = start + len * 900_000;
        const grains = zone ? queryGrains(cube, zone, zone) : queryGrains(cube, 'UTC', null);
        const pieces = decompose(start, end, grains, zone);
        let cur = start;
        for (const p of pieces) {
          expect(p.start).toBe(cur);
          expect(grains).toContain(p.grain);
          for (let b = p.start; b < p.end; b = nextGrain(b, p.grain, zone)) expect(floorGrain(b, p.grain, zone)).toBe(b);
          cur = p.end;
        }
        expect(cur).toBe(end);
      }),
    );
  });

  it("reads a report zone's own days and months for a query in that zone, UTC ones otherwise", () => {
    const cube = CUBES[0]!;
    // 2026-01-01 .. 2026-03-31 in Seoul: January and February as zone months, March days as zone days.
    const seoul = decompose(Date.parse('2025-12-31T15:00:00Z'), Date.parse('2026-03-30T15:00:00Z'), queryGrains(cube, 'Asia/Seoul', 'Asia/Seoul'), 'Asia/Seoul');
    expect(seoul.map((p) => p.grain)).toEqual([6, 5]);
    // The same range for a deployment whose report zone is elsewhere: UTC buckets and hour edges.
    const other = decompose(Date.parse('2025-12-31T15:00:00Z'), Date.parse('2026-03-30T15:00:00Z'), queryGrains(cube, 'Asia/Seoul', 'Asia/Kolkata'), 'Asia/Kolkata');
    expect(other.map((p) => p.grain)).toEqual([2, 4, 3, 2]);
  });

  it('signed pieces cover every 15-minute slot of the range exactly once and nothing else (property)', () => {
    const zones = [null, 'Asia/Seoul', 'Asia/Kolkata', 'Asia/Kathmandu', 'America/New_York'];
    const Q = 900_000;
    fc.assert(
      fc.property(fc.constantFrom(...CUBES), fc.constantFrom(...zones), fc.integer({ min: 0, max: 4 * 24 * 400 }), fc.integer({ min: 1, max: 4 * 24 * 70 }), (cube, zone, a, len) => {
        const start = Date.parse('2025-06-01T00:00:00Z') + a * Q;
        const end = start + len * Q;
        const grains = zone ? queryGrains(cube, zone, zone) : queryGrains(cube, 'UTC', null);
        const pieces = decomposeSigned(start, end, grains, zone);
        // The cover is constant between piece boundaries, so checking it at every boundary (and at
        // the range's own ends) checks every 15-minute slot, once boundaries lie on the slot grid.
        const lo = Math.min(...pieces.map((p) => p.start));
        for (const p of pieces) expect([(p.start - lo) % Q, (p.end - lo) % Q]).toEqual([0, 0]);
        const points = new Set([start, end, ...pieces.flatMap((p) => [p.start, p.end])]);
        for (const t of points) {
          const cover = pieces.reduce((n, p) => n + (p.start <= t && t < p.end ? p.sign : 0), 0);
          expect(cover).toBe(t >= start && t < end ? 1 : 0);
        }
        for (const p of pieces) for (let b = p.start; b < p.end; b = nextGrain(b, p.grain, zone)) expect(floorGrain(b, p.grain, zone)).toBe(b);
      }),
      { numRuns: 300 },
    );
  });

  it('reads a Kolkata day as 15 buckets (7 + a UTC day − 7) instead of 27', () => {
    const day = decomposeSigned(Date.parse('2026-02-28T18:30:00Z'), Date.parse('2026-03-01T18:30:00Z'), queryGrains(CUBES[0]!, 'UTC', null));
    const n = day.reduce((k, p) => k + (p.grain === 1 ? (p.end - p.start) / 900_000 : p.grain === 2 ? (p.end - p.start) / 3_600_000 : 1), 0);
    expect(n).toBe(15);
    expect(day.filter((p) => p.sign === -1).map((p) => [p.grain, new Date(p.start).toISOString()])).toEqual([
      [1, '2026-03-01T18:30:00.000Z'],
      [2, '2026-03-01T19:00:00.000Z'],
    ]);
  });

  it('uses month, day and hour buckets in the middle of a long range', () => {
    const p = decompose(Date.parse('2026-01-10T05:45:00Z'), Date.parse('2026-04-10T00:00:00Z'), queryGrains(CUBES[0]!, 'UTC', null));
    expect(p.map((x) => x.grain)).toEqual([1, 2, 3, 4, 3]);
  });

  it('chooses the smallest cube covering the dimensions', () => {
    expect(chooseCube(['model']).name).toBe('model');
    expect(chooseCube(['subject']).name).toBe('subject');
    expect(chooseCube(['team', 'model']).name).toBe('org');
    expect(chooseCube(['subject', 'model']).name).toBe('all');
    expect(chooseCube([]).name).toBe('model');
  });
});
