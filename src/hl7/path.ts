// Accessor paths in the usual HL7 notation, all numbers 1-based:
//   PID-5.1        segment PID, field 5, component 1
//   OBX[2]-5       the second OBX segment, field 5
//   PID-3[2].1     field 3, second repetition, component 1
//   PID-3.4.2      subcomponent 2 of component 4
// `PID.5.1` is accepted as well. Inside a segment the segment part is left out: `5.1`, `3[2].1`.

import { Hl7PathError } from './errors.ts';

export interface Hl7Path {
  /** Segment id, absent for a path relative to one segment. */
  readonly segment: string | undefined;
  /** Which occurrence of the segment (1-based), when written as `OBX[2]`. */
  readonly occurrence: number | undefined;
  readonly field: number;
  readonly repetition: number | undefined;
  readonly component: number | undefined;
  readonly subcomponent: number | undefined;
}

const PATH =
  /^(?:([A-Z][A-Z0-9]{2})(?:\[(\d{1,6})\])?[-.])?(\d{1,4})(?:\[(\d{1,6})\])?(?:\.(\d{1,4})(?:\.(\d{1,4}))?)?$/;

// Paths are nearly always string literals, so a small cache avoids re-running the regex on the hot path.
const cache = new Map<string, Hl7Path>();
const CACHE_LIMIT = 2048;

function num(path: string, text: string | undefined, what: string): number | undefined {
  if (text === undefined) return undefined;
  const n = Number(text);
  if (n < 1) throw new Hl7PathError(path, `${what} numbers start at 1`);
  return n;
}

export function parsePath(path: string): Hl7Path {
  const hit = cache.get(path);
  if (hit) return hit;
  const m = PATH.exec(path);
  if (!m) {
    throw new Hl7PathError(path, "expected e.g. 'PID-5.1', 'OBX[2]-5' or 'PID-3[2].1'");
  }
  const parsed: Hl7Path = Object.freeze({
    segment: m[1],
    occurrence: num(path, m[2], 'segment occurrence'),
    field: num(path, m[3], 'field')!,
    repetition: num(path, m[4], 'repetition'),
    component: num(path, m[5], 'component'),
    subcomponent: num(path, m[6], 'subcomponent'),
  });
  if (cache.size >= CACHE_LIMIT) cache.clear();
  cache.set(path, parsed);
  return parsed;
}

const fieldPaths: Hl7Path[] = [];

/** The path of a whole field by number (`get(5)`), without going through the text form. */
export function fieldPath(field: number): Hl7Path {
  let p = fieldPaths[field];
  if (p === undefined) {
    p = Object.freeze({
      segment: undefined,
      occurrence: undefined,
      field,
      repetition: undefined,
      component: undefined,
      subcomponent: undefined,
    });
    if (field < 1000) fieldPaths[field] = p;
  }
  return p;
}
