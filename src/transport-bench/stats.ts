/**
 * Latency statistics for the transport benchmark: percentiles, a summary row, a down-sampled CDF,
 * and the median/spread used to compare repeated runs. Pure functions on plain numbers, so the
 * client, the sockperf parser and the bench harness all summarise samples the same way.
 */

/** The summary printed and plotted for one series of samples (all values in the samples' unit). */
export interface Summary {
  n: number;
  min: number;
  p50: number;
  p90: number;
  p99: number;
  max: number;
  mean: number;
}

/** A copy of the samples sorted ascending; a Float64Array sorts numerically without a comparator. */
export function sortedCopy(samples: ArrayLike<number>): Float64Array {
  const out = Float64Array.from(samples);
  out.sort();
  return out;
}

/**
 * Nearest-rank percentile of samples already sorted ascending: the smallest observed value with at
 * least p% of the samples at or below it. Observed values only (no interpolation), so p99 of a
 * run is a round trip that really happened.
 */
export function percentileSorted(sorted: ArrayLike<number>, p: number): number {
  if (sorted.length === 0) throw new RangeError('percentile of an empty sample');
  if (!(p >= 0 && p <= 100)) throw new RangeError(`percentile must be within 0..100, got ${p}`);
  if (p === 0) return sorted[0]!;
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length, Math.max(1, rank)) - 1]!;
}

export function percentile(samples: ArrayLike<number>, p: number): number {
  return percentileSorted(sortedCopy(samples), p);
}

export function summarize(samples: ArrayLike<number>): Summary {
  if (samples.length === 0) throw new RangeError('cannot summarise an empty sample');
  const sorted = sortedCopy(samples);
  let sum = 0;
  for (let i = 0; i < sorted.length; i++) {
    const v = sorted[i]!;
    if (!Number.isFinite(v)) throw new RangeError(`sample ${i} is not a finite number`);
    sum += v;
  }
  return {
    n: sorted.length,
    min: sorted[0]!,
    p50: percentileSorted(sorted, 50),
    p90: percentileSorted(sorted, 90),
    p99: percentileSorted(sorted, 99),
    max: sorted[sorted.length - 1]!,
    mean: sum / sorted.length,
  };
}

/** One point of an empirical CDF: fraction `p` (0..1) of the samples are at or below `x`. */
export interface CdfPoint {
  x: number;
  p: number;
}

/**
 * The empirical CDF, down-sampled to at most `maxPoints` points (evenly spaced in rank, always
 * keeping the minimum and the maximum) so a plot of 100 000 samples stays a small SVG.
 */
export function cdf(samples: ArrayLike<number>, maxPoints = 200): CdfPoint[] {
  if (samples.length === 0) return [];
  if (maxPoints < 2) throw new RangeError('a CDF needs at least 2 points');
  const sorted = sortedCopy(samples);
  const n = sorted.length;
  const count = Math.min(n, maxPoints);
  const points: CdfPoint[] = [];
  for (let k = 0; k < count; k++) {
    const i = count === 1 ? n - 1 : Math.round((k * (n - 1)) / (count - 1));
    points.push({ x: sorted[i]!, p: (i + 1) / n });
  }
  return points;
}

/** Median of repeated run results and their spread, for "median of 5 runs ± x %" reporting. */
export interface RunSpread {
  median: number;
  min: number;
  max: number;
  /** (max - min) / median, as a fraction; 0 when all runs agree or the median is 0. */
  spread: number;
}

export function median(values: ArrayLike<number>): number {
  if (values.length === 0) throw new RangeError('median of an empty list');
  const s = sortedCopy(values);
  const mid = s.length >> 1;
  return s.length % 2 === 1 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

export function runSpread(values: ArrayLike<number>): RunSpread {
  const m = median(values);
  const s = sortedCopy(values);
  const min = s[0]!;
  const max = s[s.length - 1]!;
  return { median: m, min, max, spread: m === 0 ? 0 : (max - min) / Math.abs(m) };
}
