// Allocation-free helpers to pick one piece out of delimited HL7 text.

/** The `index`-th (1-based) piece of `raw` split on the one-character `sep`; '' when absent. */
export function piece(raw: string, sep: string, index: number): string {
  let start = 0;
  for (let i = 1; i < index; i++) {
    const at = raw.indexOf(sep, start);
    if (at < 0) return '';
    start = at + 1;
  }
  const end = raw.indexOf(sep, start);
  return end < 0 ? (start === 0 ? raw : raw.slice(start)) : raw.slice(start, end);
}

/** How many pieces `raw` has when split on `sep` (0 for ''). */
export function countPieces(raw: string, sep: string): number {
  if (raw === '') return 0;
  let n = 1;
  let at = raw.indexOf(sep);
  while (at >= 0) {
    n++;
    at = raw.indexOf(sep, at + 1);
  }
  return n;
}
