// The delimiters of one message, read from MSH-1 (field separator) and MSH-2 (encoding characters).

/** Delimiters of a message. `truncation` exists only when MSH-2 has the 5th (v2.7+) character. */
export interface Hl7Encoding {
  readonly field: string;
  readonly component: string;
  readonly repetition: string;
  readonly escape: string;
  readonly subcomponent: string;
  readonly truncation?: string;
}

/** The delimiters nearly every system uses: `|^~\&`. */
export const DEFAULT_ENCODING: Hl7Encoding = Object.freeze({
  field: '|',
  component: '^',
  repetition: '~',
  escape: '\\',
  subcomponent: '&',
});

/** MSH-2 text for an encoding, e.g. `^~\&` (or `^~\&#` with a truncation character). */
export function encodingCharacters(enc: Hl7Encoding): string {
  return enc.component + enc.repetition + enc.escape + enc.subcomponent + (enc.truncation ?? '');
}

/** Why a delimiter set is unusable, or undefined when it is fine. Position 0 is MSH-1. */
export interface EncodingProblem {
  field: 1 | 2;
  reason: string;
}

const NAMES = ['field separator', 'component', 'repetition', 'escape', 'subcomponent', 'truncation'];

function isForbiddenDelimiter(ch: string): boolean {
  // Letters, digits, white space, control and non-ASCII characters would make segment names, values
  // or the byte-level charset detection ambiguous, so delimiters must be printable ASCII punctuation.
  const c = ch.charCodeAt(0);
  if (c < 0x21 || c > 0x7e) return true;
  return /[A-Za-z0-9]/.test(ch);
}

/**
 * Checks MSH-1 and MSH-2 and returns the encoding or the problem. `msh2` is the text between the
 * first and second field separator.
 */
export function checkEncoding(fieldSep: string, msh2: string): Hl7Encoding | EncodingProblem {
  if (fieldSep === '|' && msh2 === '^~\\&') return DEFAULT_ENCODING;
  if (fieldSep.length !== 1 || isForbiddenDelimiter(fieldSep)) {
    return {
      field: 1,
      reason: `MSH-1 field separator ${JSON.stringify(fieldSep)} must be one printable non-alphanumeric character`,
    };
  }
  if (msh2.length !== 4 && msh2.length !== 5) {
    return {
      field: 2,
      reason: `MSH-2 must hold 4 encoding characters (5 with the v2.7 truncation character), found ${msh2.length}: ${JSON.stringify(msh2)}`,
    };
  }
  const all = fieldSep + msh2;
  for (let i = 1; i < all.length; i++) {
    const ch = all[i]!;
    if (isForbiddenDelimiter(ch)) {
      return { field: 2, reason: `MSH-2 ${NAMES[i]} character ${JSON.stringify(ch)} is not allowed` };
    }
    const first = all.indexOf(ch);
    if (first !== i) {
      return {
        field: 2,
        reason: `MSH-2 ${JSON.stringify(msh2)} uses ${JSON.stringify(ch)} both as ${NAMES[first]} and as ${NAMES[i]}`,
      };
    }
  }
  const enc: Hl7Encoding = {
    field: fieldSep,
    component: msh2[0]!,
    repetition: msh2[1]!,
    escape: msh2[2]!,
    subcomponent: msh2[3]!,
    ...(msh2.length === 5 ? { truncation: msh2[4]! } : {}),
  };
  return isDefault(enc) ? DEFAULT_ENCODING : Object.freeze(enc);
}

export function isEncoding(x: Hl7Encoding | EncodingProblem): x is Hl7Encoding {
  return (x as Hl7Encoding).component !== undefined;
}

function isDefault(enc: Hl7Encoding): boolean {
  return (
    enc.truncation === undefined &&
    enc.field === '|' &&
    enc.component === '^' &&
    enc.repetition === '~' &&
    enc.escape === '\\' &&
    enc.subcomponent === '&'
  );
}
