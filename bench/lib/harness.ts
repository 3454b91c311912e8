/**
 * Runs one benchmark module by name: imports `bench/NAME.ts`, checks it follows the convention,
 * runs it, prints its tables and writes its results file with the machine it ran on.
 */
import { access } from 'node:fs/promises';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { machineInfo } from '../../src/transport-bench/machine.ts';
import { BENCH_DIR, BENCH_NAME, DEFAULT_RESULTS_DIR, writeResult } from './results.ts';
import { formatTable, resultTables } from './table.ts';
import type { BenchFile, BenchOptions, BenchResult } from './types.ts';

export interface HarnessOptions extends BenchOptions {
  /** Folder holding NAME.ts (default: bench/). */
  benchDir?: string;
  /** Folder for NAME.json (default: bench/results/). */
  resultsDir?: string;
  /** Where tables go (default: stdout); null for silence. */
  out?: NodeJS.WritableStream | null;
}

type BenchModule = { run?: unknown };

function checkResult(name: string, r: unknown): asserts r is BenchResult {
  const x = r as Partial<BenchResult> | null;
  if (typeof x !== 'object' || x === null) throw new Error(`bench/${name}.ts: run() returned no result`);
  if (typeof x.title !== 'string' || !Array.isArray(x.metrics)) {
    throw new Error(`bench/${name}.ts: run() must return { title, description, metrics, tables? }`);
  }
}

export async function runBenchmark(
  name: string,
  opts: HarnessOptions,
): Promise<{ file: BenchFile; path: string }> {
  if (!BENCH_NAME.test(name))
    throw new Error(`invalid benchmark name "${name}" (use lower case, digits, dashes)`);
  const dir = opts.benchDir ?? BENCH_DIR;
  const modulePath = path.join(dir, `${name}.ts`);
  try {
    await access(modulePath);
  } catch {
    throw new Error(`no benchmark "${name}": ${modulePath} does not exist`);
  }
  const mod = (await import(pathToFileURL(modulePath).href)) as BenchModule;
  if (typeof mod.run !== 'function') throw new Error(`bench/${name}.ts does not export a run(opts) function`);
  const machine = machineInfo();
  const t0 = performance.now();
  const result: unknown = await (mod.run as (o: BenchOptions) => Promise<unknown>)({
    quick: opts.quick,
    args: opts.args,
  });
  checkResult(name, result);
  const file: BenchFile = {
    format: 'carewire-bench/1',
    benchmark: name,
    date: new Date().toISOString(),
    quick: opts.quick,
    args: opts.quick ? ['--quick', ...opts.args] : opts.args,
    durationSeconds: Math.round((performance.now() - t0) / 100) / 10,
    machine,
    result,
  };
  const out = opts.out === undefined ? process.stdout : opts.out;
  if (out) {
    out.write(`\n${result.title}\n${result.description}\n`);
    for (const t of resultTables(result)) out.write(`\n${formatTable(t)}\n`);
  }
  const written = await writeResult(opts.resultsDir ?? DEFAULT_RESULTS_DIR, file);
  out?.write(`\nwrote ${path.relative(process.cwd(), written) || written} (${file.durationSeconds} s)\n`);
  return { file, path: written };
}
