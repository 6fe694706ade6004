import { describe, expect, it } from 'vitest';
import { detect, drivers, robust } from './anomalies.ts';
import { rng } from './fixtures/rng.ts';

const HOURS = 90 * 24;
/** Hourly cost of one model: a daily curve (busy afternoons), quiet weekends, a slow trend, 10 % noise. */
function hourly(seed: number, scale: number): Float64Array {
  const r = rng(seed);
  const out = new Float64Array(HOURS);
  for (let h = 0; h < HOURS; h++) {
    const hour = h % 24;
    const weekday = Math.floor(h / 24) % 7;
    const daily = 0.3 + Math.max(0, Math.sin(((hour - 6) / 24) * 2 * Math.PI));
    const weekly = weekday >= 5 ? 0.4 : 1;
    out[h] = Math.max(0, scale * daily * weekly * (1 + h / HOURS / 5) * (1 + 0.1 * r.normal()));
  }
  return out;
}

const sum = (...xs: Float64Array[]) => xs[0]!.map((_, i) => xs.reduce((s, x) => s + x[i]!, 0));

describe('detect', () => {
  it('robust baseline: median and MAD', () => {
    expect(robust([1, 2, 3, 4, 100])).toEqual({ median: 3, mad: 1 });
  });

  it('quiet data raises nothing (hourly and daily, 90 days, several seeds)', () => {
    // 20 series × (2,160 hours + 90 days): ~45,000 verdicts, none may fire (threshold 6 robust SDs).
    for (let seed = 1; seed <= 20; seed++) {
      const v = hourly(seed, 2 + seed);
      expect(detect(v, 168, 8 * 168), `seed ${seed}`).toEqual([]);
      const daily = Float64Array.from({ length: 90 }, (_, d) => v.slice(d * 24, d * 24 + 24).reduce((s, x) => s + x, 0));
      expect(detect(daily, 7, 56), `seed ${seed} daily`).toEqual([]);
    }
  });

  it('an injected spike is found, with the model that caused it as the driver', () => {
    const models = { 'gpt-4o': hourly(11, 5), 'claude-sonnet-4': hourly(12, 3), 'gemini-2.5-flash': hourly(13, 1) };
    const at = 80 * 24 + 14; // day 80, 14:00
    models['claude-sonnet-4'][at]! += 12; // a runaway batch job
    const total = sum(...Object.values(models));
    const found = detect(total, 168, 8 * 168, { minImpact: 1 });
    expect(found.map((d) => d.index)).toEqual([at]);
    const d = found[0]!;
    expect(d.actual - d.expected).toBeGreaterThan(10);
    const ds = drivers(
      Object.entries(models).map(([model, v]) => ({ dimension: 'model', value: model, actual: v[at]!, baseline: Array.from({ length: 8 }, (_, k) => v[at - 168 * (k + 1)]!) })),
      d.actual - d.expected,
    );
    expect(ds[0]).toMatchObject({ dimension: 'model', value: 'claude-sonnet-4' });
    expect(ds[0]!.share).toBeGreaterThan(0.8);
  });

  it('windows before the data began are no baseline', () => {
    const v = new Float64Array(120);
    for (let i = 100; i < 120; i++) v[i] = 10;
    expect(detect(v, 7, 0)).toEqual([]);
  });

  it('the minimum impact keeps small anomalies out', () => {
    const v = hourly(5, 0.01); // cents an hour
    v[70 * 24 + 10]! *= 20;
    expect(detect(v, 168, 8 * 168)).toHaveLength(1);
    expect(detect(v, 168, 8 * 168, { minImpact: 1 })).toHaveLength(0);
  });

  it('a flat zero baseline needs the floor, not a division by zero', () => {
    const v = new Float64Array(60);
    v[0] = 1; // the data begins here; the weeks after are quiet
    v[59] = 3;
    expect(detect(v, 7, 56, { floor: 1, threshold: 2 })).toMatchObject([{ index: 59, expected: 0, score: 3 }]);
    expect(detect(v, 7, 56, { floor: 1, threshold: 5 })).toEqual([]);
  });
});
