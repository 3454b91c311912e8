/** Reading and writing `bench/results/NAME.json`. */
import { mkdir, readdir, readFile, rename, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { BenchFile } from './types.ts';

export const BENCH_DIR = path.dirname(path.dirname(fileURLToPath(import.meta.url)));
export const DEFAULT_RESULTS_DIR = path.join(BENCH_DIR, 'results');

/** Benchmark names are file names: lower case, digits and dashes, nothing that could leave bench/. */
export const BENCH_NAME = /^[a-z0-9][a-z0-9-]{0,63}$/;

export function resultPath(dir: string, name: string): string {
  if (!BENCH_NAME.test(name)) throw new Error(`invalid benchmark name "${name}"`);
  return path.join(dir, `${name}.json`);
}

/** Writes atomically (temp file, then rename) so a crash never leaves half a results file. */
export async function writeResult(dir: string, file: BenchFile): Promise<string> {
  await mkdir(dir, { recursive: true });
  const target = resultPath(dir, file.benchmark);
  const tmp = `${target}.${process.pid}.tmp`;
  await writeFile(tmp, `${JSON.stringify(file, null, 2)}\n`);
  await rename(tmp, target);
  return target;
}

export function parseBenchFile(text: string, source: string): BenchFile {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch {
    throw new Error(`${source}: not JSON`);
  }
  const f = v as Partial<BenchFile> | null;
  if (typeof f !== 'object' || f === null || f.format !== 'carewire-bench/1') {
    throw new Error(`${source}: not a benchmark result (format must be carewire-bench/1)`);
  }
  if (typeof f.benchmark !== 'string' || !BENCH_NAME.test(f.benchmark)) {
    throw new Error(`${source}: missing or invalid benchmark name`);
  }
  if (typeof f.result !== 'object' || f.result === null || !Array.isArray(f.result.metrics)) {
    throw new Error(`${source}: missing result.metrics`);
  }
  if (typeof f.machine !== 'object' || f.machine === null) throw new Error(`${source}: missing machine info`);
  return f as BenchFile;
}

/** Every results file in `dir`, sorted by benchmark name. */
export async function readResults(dir: string): Promise<BenchFile[]> {
  let names: string[];
  try {
    names = await readdir(dir);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw err;
  }
  const files: BenchFile[] = [];
  for (const n of names.filter((x) => x.endsWith('.json')).sort()) {
    const p = path.join(dir, n);
    files.push(parseBenchFile(await readFile(p, 'utf8'), p));
  }
  return files;
}
