/**
 * Anomaly detection, pure: each window against a robust seasonal baseline — the median and MAD of
 * the same slot (weekday × hour for hourly windows, weekday for daily ones) over a trailing window
 * of the series itself. Detection is kept apart from alerting: it finds windows that are unusual
 * for their slot; the minimum impact (and the alert rules) decide who hears about them.
 *
 * Only excess is flagged (a spend spike, not a quiet hour): a window is anomalous when
 *   score = (actual − median) / scale ≥ threshold   and   actual − median ≥ minImpact,
 * where scale = max(1.4826 · MAD, 10 % of the median, floor), so a flat baseline (MAD 0) does not
 * turn every small wobble into an infinite score.
 */

export interface DetectOptions {
  /** Same-slot samples in the trailing baseline (8 = eight weeks of the same weekday/hour). */
  samples?: number;
  /** Fewer usable samples than this: no baseline, no verdict. */
  minSamples?: number;
  threshold?: number;
  /** Smallest excess (actual − expected) worth reporting, in the measure's unit. */
  minImpact?: number;
  /** Smallest scale, in the measure's unit (guards series that are almost always zero). */
  floor?: number;
}

export interface Detection {
  index: number;
  actual: number;
  expected: number;
  score: number;
  /** The robust spread the score is measured in. */
  scale: number;
}

export const DEFAULT_DETECT = { samples: 8, minSamples: 4, threshold: 6, minImpact: 0, floor: 0 } as const;

const MAD_TO_SD = 1.4826;

export function median(xs: number[]): number {
  const a = [...xs].sort((x, y) => x - y);
  const m = a.length >> 1;
  return a.length % 2 ? a[m]! : (a[m - 1]! + a[m]!) / 2;
}

/** Median and MAD of a sample. */
export function robust(xs: number[]): { median: number; mad: number } {
  const med = median(xs);
  return { median: med, mad: median(xs.map((x) => Math.abs(x - med))) };
}

/**
 * The same-slot baseline of window `i`: the values `period` windows apart before it (period = 168
 * for hourly windows — the same weekday and hour a week earlier — or 7 for daily ones).
 */
export function baselineOf(values: ArrayLike<number>, i: number, period: number, samples: number, first = 0): number[] {
  const out: number[] = [];
  for (let j = i - period; j >= first && out.length < samples; j -= period) out.push(values[j]!);
  return out;
}

/** Index of the first non-zero value: windows before it are before the data began, not quiet ones. */
export function firstNonZero(values: ArrayLike<number>): number {
  for (let i = 0; i < values.length; i++) if (values[i] !== 0) return i;
  return values.length;
}

/** Every anomalous window at or after `from` (windows before it only feed baselines). */
export function detect(values: ArrayLike<number>, period: number, from: number, opts: DetectOptions = {}): Detection[] {
  // Options left undefined keep their defaults.
  const o = { ...DEFAULT_DETECT, ...Object.fromEntries(Object.entries(opts).filter(([, v]) => v !== undefined)) } as Required<DetectOptions>;
  const out: Detection[] = [];
  const first = firstNonZero(values);
  for (let i = Math.max(from, 0); i < values.length; i++) {
    const actual = values[i]!;
    if (actual <= 0) continue;
    const base = baselineOf(values, i, period, o.samples, first);
    if (base.length < o.minSamples) continue;
    const { median: expected, mad } = robust(base);
    const excess = actual - expected;
    if (excess <= 0 || excess < o.minImpact) continue;
    const scale = Math.max(MAD_TO_SD * mad, 0.1 * Math.abs(expected), o.floor, Number.MIN_VALUE);
    const score = excess / scale;
    if (score >= o.threshold) out.push({ index: i, actual, expected, score, scale });
  }
  return out;
}

export interface DriverInput {
  dimension: string;
  value: string | null;
  /** This value's usage in the anomalous window, then in its baseline windows. */
  actual: number;
  baseline: number[];
}

export interface Driver {
  dimension: string;
  value: string | null;
  /** Excess of this value (its actual − its own baseline median). */
  excess: number;
  /** Share of the anomaly's excess this value explains (0–1, can exceed 1 when others fell). */
  share: number;
}

/**
 * Which dimension values explain the excess: each value's own excess over its baseline median,
 * as a share of the whole anomaly's excess, largest first, the top `limit` across dimensions.
 */
export function drivers(inputs: DriverInput[], totalExcess: number, limit = 5): Driver[] {
  if (!(totalExcess > 0)) return [];
  return inputs
    .map((d) => {
      const excess = d.actual - (d.baseline.length ? median(d.baseline) : 0);
      return { dimension: d.dimension, value: d.value, excess, share: excess / totalExcess };
    })
    .filter((d) => d.excess > 0 && d.share >= 0.05)
    .sort((a, b) => b.share - a.share || String(a.value).localeCompare(String(b.value)))
    .slice(0, limit);
}
