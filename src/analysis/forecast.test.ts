import { describe, expect, it } from 'vitest';
import { forecastPeriod, t80 } from './forecast.ts';
import { rng } from './fixtures/rng.ts';

/**
 * One simulated month: 8 weeks of history with a known trend and weekly pattern, a forecast made
 * part-way through the month, and the month end that then actually happens.
 */
function simulateMonth(seed: number) {
  const r = rng(seed);
  const base = 50 + r.uniform() * 150;
  const trend = (r.uniform() - 0.3) * 2; // −0.6 … +1.4 a day
  const weekly = [-0.45, 0.1, 0.15, 0.12, 0.1, 0.05, -0.4].map((w) => w * base); // Sun … Sat
  const sd = base * (0.05 + r.uniform() * 0.1);
  const monthLength = 28 + Math.floor(r.uniform() * 4);
  const dayOfMonth = 3 + Math.floor(r.uniform() * (monthLength - 5)); // today, 0-based within the month
  const historyDays = 56;
  const firstWeekday = Math.floor(r.uniform() * 7);
  const value = (t: number) => Math.max(0, base + trend * t + weekly[(firstWeekday + t) % 7]! + sd * r.normal());
  const series = Array.from({ length: historyDays + monthLength - dayOfMonth }, (_, t) => value(t));
  const today = historyDays;
  const elapsed = 0.05 + r.uniform() * 0.9;
  const monthStart = today - dayOfMonth;
  const toDate = series.slice(monthStart, today).reduce((s, v) => s + v, 0) + series[today]! * elapsed;
  const truth = series.slice(monthStart).reduce((s, v) => s + v, 0);
  const days = series.slice(0, today).map((v, t) => ({ value: v, weekday: (firstWeekday + t) % 7 }));
  const remaining = [{ weekday: (firstWeekday + today) % 7, fraction: 1 - elapsed }];
  for (let t = today + 1; t < series.length; t++) remaining.push({ weekday: (firstWeekday + t) % 7, fraction: 1 });
  return { f: forecastPeriod({ days, toDate, remaining }), truth, toDate };
}

describe('forecastPeriod', () => {
  it('t quantile: 80 % two-sided', () => {
    expect(t80(Infinity)).toBeCloseTo(1.2816, 4);
    expect(t80(10)).toBeCloseTo(1.3722, 3);
    expect(t80(30)).toBeCloseTo(1.3104, 3);
  });

  it('the true month end falls inside the 80 % interval in ≈ 80 % of 200 simulated months', () => {
    let inside = 0;
    const methods = new Map<string, number>();
    for (let i = 0; i < 200; i++) {
      const { f, truth } = simulateMonth(1000 + i);
      if (truth >= f.low && truth <= f.high) inside++;
      methods.set(f.method, (methods.get(f.method) ?? 0) + 1);
      expect(f.low).toBeLessThanOrEqual(f.expected);
      expect(f.high).toBeGreaterThanOrEqual(f.expected);
    }
    const coverage = inside / 200;
    console.log(`forecast coverage: ${inside}/200 = ${(coverage * 100).toFixed(1)} % inside the 80 % interval; methods ${JSON.stringify(Object.fromEntries(methods))}`);
    // A binomial(200, 0.8) lands in [0.74, 0.86] 96 % of the time.
    expect(coverage).toBeGreaterThanOrEqual(0.74);
    expect(coverage).toBeLessThanOrEqual(0.86);
    // The weekly pattern is there to find: the weekday model is the one chosen.
    expect(methods.get('linear_trend_weekday')).toBeGreaterThan(180);
  });

  it('a steady series projects its trend exactly', () => {
    const days = Array.from({ length: 28 }, (_, t) => ({ value: 10 + t, weekday: t % 7 }));
    const f = forecastPeriod({ days, toDate: 100, remaining: [{ weekday: 0, fraction: 1 }, { weekday: 1, fraction: 1 }] });
    expect(f.method).toBe('linear_trend');
    expect(f.expected).toBeCloseTo(100 + 38 + 39, 6);
    expect(f.high - f.low).toBeLessThan(1e-6);
  });

  it('falls back to a run rate with little history, and never below what is spent', () => {
    const f = forecastPeriod({ days: [{ value: 5, weekday: 1 }, { value: 7, weekday: 2 }], toDate: 12, remaining: [{ weekday: 3, fraction: 1 }] });
    expect(f).toMatchObject({ method: 'run_rate', expected: 18, low: 18, high: 18 });
    const none = forecastPeriod({ days: [], toDate: 3, remaining: [{ weekday: 3, fraction: 0.5 }] });
    expect(none).toMatchObject({ method: 'run_rate', expected: 3 });
    const falling = forecastPeriod({ days: Array.from({ length: 14 }, (_, t) => ({ value: 140 - 10 * t, weekday: t % 7 })), toDate: 50, remaining: Array.from({ length: 10 }, () => ({ weekday: 1, fraction: 1 })) });
    expect(falling.low).toBeGreaterThanOrEqual(50);
  });

  it('leading zero days (before the data began) are not read as a trend', () => {
    const days = [...Array.from({ length: 20 }, () => ({ value: 0, weekday: 0 })), ...Array.from({ length: 10 }, () => ({ value: 10, weekday: 0 }))];
    const f = forecastPeriod({ days, toDate: 0, remaining: [{ weekday: 0, fraction: 1 }] });
    expect(f.expected).toBeCloseTo(10, 6);
  });
});
