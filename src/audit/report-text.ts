/** The verifier's report in words, for `carewire audit verify` and the interactive client. */
import { type LogVerifyReport, toBase64 } from './merkle/index.ts';

export function reportText(r: LogVerifyReport, opts: { maxProblems?: number } = {}): string {
  const lines: string[] = [];
  const good = r.checkpoints.filter((c) => c.state === 'ok').length;
  lines.push(`audit log: ${r.size} entries, root ${toBase64(r.root)}`);
  lines.push(
    `checkpoints: ${r.checkpoints.filter((c) => c.source === 'stored').length} stored, ${good} verified and matching; ` +
      `signed up to ${r.signedSize}${r.size > r.signedSize ? ` (${r.size - r.signedSize} newer entries not yet signed)` : ''}`,
  );
  if (r.growth) lines.push(`saved checkpoint: ${r.growth.message}`);
  if (r.ok) {
    lines.push('OK: the log is intact');
    return `${lines.join('\n')}\n`;
  }
  const f = r.firstBad;
  if (f) {
    const where =
      f.index === undefined
        ? ''
        : f.exact
          ? ` at entry ${f.index}`
          : ` in entries ${f.index}…${(f.rangeEnd ?? f.index + 1) - 1}`;
    lines.push(`TAMPERED: ${f.kind}${where}: ${f.message}`);
    if (f.index !== undefined) lines.push(`first bad index: ${f.index}`);
  }
  const max = opts.maxProblems ?? 10;
  const rest = r.problems.slice(1, max);
  if (rest.length > 0) {
    lines.push(`${r.problemCount - 1} more problem(s):`);
    for (const p of rest)
      lines.push(`  - ${p.kind}${p.index !== undefined ? ` @${p.index}` : ''}: ${p.message}`);
    if (r.problemCount > max) lines.push(`  … and ${r.problemCount - max} more`);
  }
  return `${lines.join('\n')}\n`;
}
