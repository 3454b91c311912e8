/**
 * The benchmark harness: `npm run bench -- NAME [--quick] [--results-dir DIR] [args…]`.
 *
 * How to add a benchmark (e.g. bench/hl7-codec.ts):
 *
 *   import { metric, opsPerSecond, repeat } from './lib/measure.ts';
 *   import type { BenchOptions, BenchResult } from './lib/types.ts';
 *
 *   export async function run(opts: BenchOptions): Promise<BenchResult> {
 *     const iterations = opts.quick ? 100 : 100_000;   // --quick: tiny, for tests only
 *     const parse = await opsPerSecond('parse ORU^R01', (i) => parse(messages[i % n]),
 *       { iterations, warmup: opts.quick ? 0 : 2, runs: opts.quick ? 1 : 5 });
 *     return { title: 'HL7 codec', description: 'What is measured, and how.', metrics: [parse] };
 *   }
 *
 * - `run` gets `{ quick, args }`: `quick` asks for a tiny size (tests call it that way and only
 *   check it runs); `args` are the command-line words after NAME that the harness did not take.
 * - Warm up, then repeat: `repeat(fn, { warmup, runs })` returns one value per run and
 *   `metric(name, unit, runs, 'lower' | 'higher')` keeps every run with median, min, max and
 *   spread; `opsPerSecond` does both for a synchronous function.
 * - Return `metrics` (always) and optionally `tables` (otherwise one table of the metrics is made)
 *   and `details` (kept in the JSON only).
 * - The harness prints the tables and writes `bench/results/NAME.json` (a BenchFile: result plus
 *   cpu model, cores, Node version, date, arguments, duration). Commit that file.
 * - `npm run bench -- docs` rewrites the tables of docs/benchmarks.md between
 *   `<!-- bench:NAME:start -->` and `<!-- bench:NAME:end -->` from the results files; write your
 *   prose around the markers, never between them.
 * - Benchmarks are never part of `npm test`; a test may call `runBenchmark(NAME, { quick: true })`
 *   from bench/lib/harness.ts with a temporary results folder.
 */
import { readdir } from 'node:fs/promises';
import { updateBenchmarkDocs } from './docs.ts';
import { runBenchmark } from './lib/harness.ts';
import { BENCH_DIR } from './lib/results.ts';

const HARNESS_FILES = new Set(['run.ts', 'docs.ts']);

async function available(): Promise<string[]> {
  const names = await readdir(BENCH_DIR);
  return names
    .filter((n) => n.endsWith('.ts') && !HARNESS_FILES.has(n))
    .map((n) => n.slice(0, -3))
    .sort();
}

async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (!name || name === '--help' || name === '-h') {
    process.stdout.write(
      `usage: npm run bench -- NAME [--quick] [--results-dir DIR] [args…]\n       npm run bench -- docs   (regenerate docs/benchmarks.md)\nbenchmarks: ${(await available()).join(', ')}\n`,
    );
    return name ? 0 : 2;
  }
  if (name === 'docs') {
    const r = await updateBenchmarkDocs();
    process.stdout.write(`docs/benchmarks.md: updated ${r.updated.join(', ') || 'nothing'}\n`);
    for (const m of r.missingMarkers) {
      process.stderr.write(`warning: no <!-- bench:${m}:start --> marker for results of "${m}"\n`);
    }
    return 0;
  }
  let quick = false;
  let resultsDir: string | undefined;
  const args: string[] = [];
  for (let i = 0; i < rest.length; i++) {
    const a = rest[i]!;
    if (a === '--quick') quick = true;
    else if (a === '--results-dir') {
      resultsDir = rest[++i];
      if (!resultsDir) throw new Error('--results-dir needs a folder');
    } else args.push(a);
  }
  await runBenchmark(name, { quick, args, resultsDir });
  return 0;
}

try {
  process.exitCode = await main(process.argv.slice(2));
} catch (err) {
  process.stderr.write(`bench: ${(err as Error).message}\n`);
  process.exitCode = 1;
}
