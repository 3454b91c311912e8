/**
 * Helpers every benchmark uses so their numbers mean the same thing: warm up, repeat, keep every
 * run, report the median and the spread.
 */
import { formatUs } from '../../src/transport-bench/report.ts';
import { runSpread } from '../../src/transport-bench/stats.ts';
import type { Metric } from './types.ts';

/** Makes a Metric from one value per run. */
export function metric(
  name: string,
  unit: string,
  runs: number[],
  better: Metric['better'] = 'lower',
): Metric {
  if (runs.length === 0) throw new RangeError(`metric ${name} has no runs`);
  for (const v of runs)
    if (!Number.isFinite(v)) throw new RangeError(`metric ${name} has a non-finite run: ${v}`);
  const s = runSpread(runs);
  return { name, unit, better, runs: [...runs], median: s.median, min: s.min, max: s.max, spread: s.spread };
}

/**
 * Calls `once` `warmup` times (results dropped: JIT, caches, connections), then `runs` times,
 * returning each run's value in order.
 */
export async function repeat(
  once: (run: number) => number | Promise<number>,
  opts: { warmup: number; runs: number },
): Promise<number[]> {
  if (!Number.isInteger(opts.runs) || opts.runs < 1) throw new RangeError('runs must be ≥ 1');
  for (let i = 0; i < opts.warmup; i++) await once(-1 - i);
  const out: number[] = [];
  for (let i = 0; i < opts.runs; i++) out.push(await once(i));
  return out;
}

/**
 * Operations per second of a synchronous function: each run calls it `iterations` times and
 * divides by the elapsed time. The function's return value is kept in a sink so the JIT cannot
 * drop the call as dead code.
 */
export async function opsPerSecond(
  name: string,
  fn: (i: number) => unknown,
  opts: { iterations: number; warmup: number; runs: number },
): Promise<Metric> {
  let sink: unknown;
  const runs = await repeat(
    () => {
      const t0 = performance.now();
      for (let i = 0; i < opts.iterations; i++) sink = fn(i);
      const s = (performance.now() - t0) / 1000;
      return opts.iterations / Math.max(s, 1e-9);
    },
    { warmup: opts.warmup, runs: opts.runs },
  );
  if (sink === Symbol.for('never')) throw new Error('unreachable');
  return metric(name, 'ops/s', runs, 'higher');
}

/** Three significant figures for tables: "87.3 µs", "1.42 ms", "12.3 kops/s", "2.31 ×". */
export function formatValue(v: number, unit: string): string {
  if (unit === 'µs') return formatUs(v);
  const a = Math.abs(v);
  const n = (x: number): string => String(Number(x.toPrecision(3)));
  if (unit === 'ops/s' || unit === '/s') {
    if (a >= 1e6) return `${n(v / 1e6)} M${unit}`;
    if (a >= 1e3) return `${n(v / 1e3)} k${unit}`;
  }
  return `${n(v)} ${unit}`;
}

/**
 * Metrics from every finite number in a nested result object (one run each), for micro-benchmarks
 * that report a tree of figures. The unit and direction come from the key: `…PerSec` is a rate
 * (higher is better); `…Microseconds`, `p50`/`p99`/`max` under it, µs; `wallS`/`cpuS`, seconds.
 */
export function metricsFromNumbers(obj: unknown, prefix = ''): Metric[] {
  if (typeof obj === 'number') {
    if (!Number.isFinite(obj)) return [];
    const rate = /PerSec|msg\/s|ops/i.test(prefix);
    const unit = rate ? 'ops/s' : /Microseconds/.test(prefix) ? 'µs' : /wallS|cpuS/.test(prefix) ? 's' : '';
    return [metric(prefix, unit, [obj], rate ? 'higher' : 'lower')];
  }
  if (typeof obj !== 'object' || obj === null || Array.isArray(obj)) return [];
  return Object.entries(obj).flatMap(([k, v]) => metricsFromNumbers(v, prefix ? `${prefix}.${k}` : k));
}
