/**
 * Regenerates the measured parts of a Markdown file and keeps everything else. Each benchmark owns
 * the text between
 *
 *   <!-- bench:NAME:start -->
 *   <!-- bench:NAME:end -->
 *
 * and only that text is replaced; prose around the markers is never touched.
 */
import { markdownTable, resultTables } from './table.ts';
import type { BenchFile } from './types.ts';

export function startMarker(name: string): string {
  return `<!-- bench:${name}:start -->`;
}
export function endMarker(name: string): string {
  return `<!-- bench:${name}:end -->`;
}

/** The generated Markdown for one results file: provenance line, then its tables. */
export function renderSection(f: BenchFile): string {
  const m = f.machine;
  const args = f.args.length ? ` ${f.args.join(' ')}` : '';
  const lines = [
    `_Measured ${f.date.slice(0, 10)} with \`npm run bench -- ${f.benchmark}${args}\` on ${m.cpu} (${m.cores} cores), Node ${m.node}, ${m.platform} ${m.kernel}; took ${f.durationSeconds} s${f.quick ? ' (quick mode: sizes too small to mean anything)' : ''}._`,
  ];
  for (const t of resultTables(f.result)) lines.push('', markdownTable(t));
  return lines.join('\n');
}

export interface SectionUpdate {
  text: string;
  /** Benchmarks whose section was rewritten. */
  updated: string[];
  /** Results with no markers in the document (nothing written for them). */
  missingMarkers: string[];
}

/** Replaces each benchmark's marked section in `doc`; throws on a start without an end. */
export function updateSections(doc: string, sections: Map<string, string>): SectionUpdate {
  let text = doc;
  const updated: string[] = [];
  const missingMarkers: string[] = [];
  for (const [name, body] of sections) {
    const start = startMarker(name);
    const end = endMarker(name);
    const i = text.indexOf(start);
    if (i === -1) {
      missingMarkers.push(name);
      continue;
    }
    const j = text.indexOf(end, i + start.length);
    if (j === -1) throw new Error(`"${start}" has no matching "${end}"`);
    if (text.indexOf(start, i + start.length) !== -1) throw new Error(`"${start}" appears twice`);
    text = `${text.slice(0, i + start.length)}\n${body.trim()}\n${text.slice(j)}`;
    updated.push(name);
  }
  return { text, updated, missingMarkers };
}
