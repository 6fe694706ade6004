import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { CUBES, chooseCube, decompose, floorGrain, nextGrain } from './cubes.ts';

describe('decompose', () => {
  it('covers the range exactly with aligned buckets (property)', () => {
    fc.assert(
      fc.property(fc.constantFrom(...CUBES), fc.integer({ min: 0, max: 4 * 24 * 800 }), fc.integer({ min: 1, max: 4 * 24 * 200 }), (cube, a, len) => {
        const start = Date.parse('2025-06-01T00:00:00Z') + a * 900_000;
        const end = start + len * 900_000;
        const pieces = decompose(start, end, cube.grains);
        let cur = start;
        for (const p of pieces) {
          expect(p.start).toBe(cur);
          expect(cube.grains).toContain(p.grain);
          for (let b = p.start; b < p.end; b = nextGrain(b, p.grain)) expect(floorGrain(b, p.grain)).toBe(b);
          cur = p.end;
        }
        expect(cur).toBe(end);
      }),
    );
  });

  it('uses month, day and hour buckets in the middle of a long range', () => {
    const p = decompose(Date.parse('2026-01-10T05:45:00Z'), Date.parse('2026-04-10T00:00:00Z'), [1, 2, 3, 4]);
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
