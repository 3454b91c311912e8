/** Plain tables for the console (aligned columns) and for Markdown docs (pipe tables). */

export interface Table {
  title?: string;
  columns: string[];
  rows: Array<Array<string | number>>;
  /** Per column: right-align (numbers) or left-align; default: right when every cell is numeric-looking. */
  align?: Array<'left' | 'right'>;
}

const NUMERIC = /^[-+]?[\d.,]+\s*(?:[%×x]|[a-zµ/]+)?$/i;

function alignments(t: Table): Array<'left' | 'right'> {
  return t.columns.map((_, c) => {
    const given = t.align?.[c];
    if (given) return given;
    const cells = t.rows.map((r) => String(r[c] ?? ''));
    return cells.length > 0 && cells.every((v) => v === '' || v === '–' || NUMERIC.test(v))
      ? 'right'
      : 'left';
  });
}

export function formatTable(t: Table): string {
  const cells = [t.columns, ...t.rows.map((r) => t.columns.map((_, c) => String(r[c] ?? '')))];
  const widths = t.columns.map((_, c) => Math.max(...cells.map((r) => r[c]!.length)));
  const al = alignments(t);
  const line = (r: string[]): string =>
    r
      .map((v, c) => (al[c] === 'right' ? v.padStart(widths[c]!) : v.padEnd(widths[c]!)))
      .join('  ')
      .trimEnd();
  const out = [line(cells[0]!), widths.map((w) => '─'.repeat(w)).join('  '), ...cells.slice(1).map(line)];
  if (t.title) out.unshift(t.title);
  return out.join('\n');
}

function mdCell(v: string): string {
  return v.replace(/\|/g, '\\|').replace(/\n/g, ' ');
}

export function markdownTable(t: Table): string {
  const al = alignments(t);
  const out = [
    `| ${t.columns.map(mdCell).join(' | ')} |`,
    `|${al.map((a) => (a === 'right' ? '---:' : ':---')).join('|')}|`,
    ...t.rows.map((r) => `| ${t.columns.map((_, c) => mdCell(String(r[c] ?? ''))).join(' | ')} |`),
  ];
  if (t.title) out.unshift(`**${t.title}**`, '');
  return out.join('\n');
}
