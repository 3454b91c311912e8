/**
 * Regenerates the measured tables of docs/benchmarks.md from bench/results/*.json, between each
 * benchmark's marker comments, keeping the prose around them. Run: `npm run bench -- docs`
 * (or `node bench/docs.ts` directly).
 */
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { renderSection, type SectionUpdate, updateSections } from './lib/doc-sections.ts';
import { BENCH_DIR, DEFAULT_RESULTS_DIR, readResults } from './lib/results.ts';

export const BENCHMARKS_DOC = path.join(path.dirname(BENCH_DIR), 'docs', 'benchmarks.md');

export async function updateBenchmarkDocs(
  opts: { doc?: string; resultsDir?: string } = {},
): Promise<SectionUpdate> {
  const doc = opts.doc ?? BENCHMARKS_DOC;
  const results = await readResults(opts.resultsDir ?? DEFAULT_RESULTS_DIR);
  const sections = new Map(results.map((f) => [f.benchmark, renderSection(f)]));
  const before = await readFile(doc, 'utf8');
  const r = updateSections(before, sections);
  if (r.text !== before) await writeFile(doc, r.text);
  return r;
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const r = await updateBenchmarkDocs();
  process.stdout.write(`docs/benchmarks.md: updated ${r.updated.join(', ') || 'nothing'}\n`);
}
