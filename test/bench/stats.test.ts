import { describe, expect, it } from 'vitest';
import {
  cdf,
  median,
  percentile,
  percentileSorted,
  runSpread,
  summarize,
} from '../../src/transport-bench/stats.ts';

describe('transport-bench stats', () => {
  it('takes nearest-rank percentiles of observed values', () => {
    const v = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10];
    expect(percentile(v, 50)).toBe(5);
    expect(percentile(v, 90)).toBe(9);
    expect(percentile(v, 99)).toBe(10);
    expect(percentile(v, 100)).toBe(10);
    expect(percentile(v, 0)).toBe(1);
    expect(percentile(v, 10)).toBe(1);
    expect(percentile(v, 11)).toBe(2);
    // Order of the input does not matter.
    expect(percentile([9, 1, 5, 3, 7], 50)).toBe(5);
  });

  it('summarises samples: min, p50, p90, p99, max, mean', () => {
    const samples = Array.from({ length: 1000 }, (_, i) => 1000 - i); // 1..1000 reversed
    expect(summarize(samples)).toEqual({
      n: 1000,
      min: 1,
      p50: 500,
      p90: 900,
      p99: 990,
      max: 1000,
      mean: 500.5,
    });
    expect(summarize(Float64Array.of(42))).toEqual({
      n: 1,
      min: 42,
      p50: 42,
      p90: 42,
      p99: 42,
      max: 42,
      mean: 42,
    });
  });

  it('refuses empty samples, bad percentiles and non-finite values', () => {
    expect(() => summarize([])).toThrow(/empty/);
    expect(() => percentileSorted([], 50)).toThrow(/empty/);
    expect(() => percentile([1, 2], 101)).toThrow(/0\.\.100/);
    expect(() => percentile([1, 2], Number.NaN)).toThrow(/0\.\.100/);
    expect(() => summarize([1, Number.NaN, 3])).toThrow(/finite/);
    expect(() => summarize([1, Number.POSITIVE_INFINITY])).toThrow(/finite/);
    expect(() => median([])).toThrow(/empty/);
  });

  it('down-samples the CDF keeping min and max, monotone in x and p', () => {
    const samples = Array.from({ length: 10_000 }, (_, i) => (i * 7919) % 10_000);
    const points = cdf(samples, 50);
    expect(points).toHaveLength(50);
    expect(points[0]).toEqual({ x: 0, p: 1 / 10_000 });
    expect(points[49]).toEqual({ x: 9999, p: 1 });
    for (let i = 1; i < points.length; i++) {
      expect(points[i]!.x).toBeGreaterThanOrEqual(points[i - 1]!.x);
      expect(points[i]!.p).toBeGreaterThan(points[i - 1]!.p);
    }
    expect(cdf([3, 1, 2], 200)).toEqual([
      { x: 1, p: 1 / 3 },
      { x: 2, p: 2 / 3 },
      { x: 3, p: 1 },
    ]);
    expect(cdf([], 10)).toEqual([]);
    expect(() => cdf([1, 2], 1)).toThrow(/at least 2/);
  });

  it('gives the median and spread of repeated runs', () => {
    expect(median([3, 1, 2])).toBe(2);
    expect(median([4, 1, 3, 2])).toBe(2.5);
    expect(runSpread([90, 100, 110])).toEqual({ median: 100, min: 90, max: 110, spread: 0.2 });
    expect(runSpread([5, 5, 5]).spread).toBe(0);
    expect(runSpread([0, 0]).spread).toBe(0);
  });
});
