/**
 * The benchmark convention. A benchmark is a file `bench/NAME.ts` exporting
 *
 *   export async function run(opts: BenchOptions): Promise<BenchResult>
 *
 * `npm run bench -- NAME [--quick] [args…]` calls it, prints its tables and writes
 * `bench/results/NAME.json` (a BenchFile). `npm run bench -- docs` copies the tables of every
 * results file into docs/benchmarks.md between `<!-- bench:NAME:start -->` and
 * `<!-- bench:NAME:end -->`.
 */
import type { MachineInfo } from '../../src/transport-bench/machine.ts';
import type { Table } from '../../src/transport-bench/table.ts';

export type { MachineInfo, Table };

export interface BenchOptions {
  /** Tiny sizes, one run: proves the benchmark works (tests use it); numbers mean nothing. */
  quick: boolean;
  /** Everything after the benchmark name that the harness did not consume. */
  args: string[];
}

/** One measured quantity, repeated over several runs. */
export interface Metric {
  name: string;
  /** e.g. 'µs', 'ms', 'ops/s', 'MB/s', '×'. */
  unit: string;
  better: 'lower' | 'higher';
  /** One value per run, in run order. */
  runs: number[];
  median: number;
  min: number;
  max: number;
  /** (max - min) / median: how much the runs disagree. */
  spread: number;
}

export interface BenchResult {
  title: string;
  /** One or two sentences: what is measured and how. */
  description: string;
  metrics: Metric[];
  /**
   * Tables to print and to put in docs/benchmarks.md. When absent, the harness makes one table
   * of the metrics (median, spread, runs).
   */
  tables?: Table[];
  /** Anything else worth keeping in the JSON (raw distributions, the full report). */
  details?: unknown;
}

/** What `bench/results/NAME.json` holds. */
export interface BenchFile {
  format: 'carewire-bench/1';
  benchmark: string;
  date: string;
  quick: boolean;
  args: string[];
  durationSeconds: number;
  machine: MachineInfo;
  result: BenchResult;
}
