// HL7 v2 escape sequences (chapter 2, "Use of escape sequences in text fields").
// Decoding is lenient: an unknown or unterminated sequence is kept as it was written, because a
// receiver should not lose text it cannot interpret.

import { Buffer } from 'node:buffer';
import type { Hl7Encoding } from './encoding.ts';

export interface UnescapeOptions {
  /**
   * `text` (default): `\.br\` and `\.sp\` become line breaks, `\.sk n\` spaces, highlighting (`\H\`, `\N\`)
   * and the other formatting commands are dropped. `keep`: formatting sequences stay as written, for
   * callers that render formatted text (FT) themselves.
   */
  formatting?: 'text' | 'keep';
  /** Turns the bytes of `\Xhh..\` into text; the message's charset. Default: ISO 8859-1 code points. */
  decodeHex?: (bytes: Uint8Array) => string;
}

function latin1Hex(bytes: Uint8Array): string {
  let s = '';
  for (const b of bytes) s += String.fromCharCode(b);
  return s;
}

const HEX = /^X((?:[0-9A-Fa-f]{2})+)$/;
const SPACE_CMD = /^\.(sp|sk)\s*(\+?\d{0,4})$/;
const DROP_CMD = /^\.(in|ti|ce|fi|nf)\s*[+-]?\d{0,4}$/;

/** Decodes the escape sequences in one primitive value (a subcomponent, or a component without `&`). */
export function unescapeValue(raw: string, enc: Hl7Encoding, options?: UnescapeOptions): string {
  const esc = enc.escape;
  let i = raw.indexOf(esc);
  if (i < 0) return raw;
  const text = options?.formatting !== 'keep';
  let out = raw.slice(0, i);
  while (i >= 0) {
    const j = raw.indexOf(esc, i + 1);
    if (j < 0) {
      out += raw.slice(i);
      return out;
    }
    const seq = raw.slice(i + 1, j);
    let rep: string | undefined;
    switch (seq) {
      case 'F':
        rep = enc.field;
        break;
      case 'S':
        rep = enc.component;
        break;
      case 'T':
        rep = enc.subcomponent;
        break;
      case 'R':
        rep = enc.repetition;
        break;
      case 'E':
        rep = esc;
        break;
      case 'P':
        rep = enc.truncation;
        break;
      case 'H':
      case 'N':
        if (text) rep = '';
        break;
      case '.br':
        if (text) rep = '\n';
        break;
      default:
        if (seq.charCodeAt(0) === 0x58 /* X */) {
          const m = HEX.exec(seq);
          if (m) rep = (options?.decodeHex ?? latin1Hex)(Buffer.from(m[1]!, 'hex'));
        } else if (text && seq.charCodeAt(0) === 0x2e /* . */) {
          const sp = SPACE_CMD.exec(seq);
          if (sp) rep = (sp[1] === 'sp' ? '\n' : ' ').repeat(Math.max(1, Number(sp[2] || '1')));
          else if (DROP_CMD.test(seq)) rep = '';
        }
    }
    if (rep === undefined) {
      // Unknown (\Cxxyy\, \Mxxyyzz\, \Zxx\, ...) or not valid here: keep the characters as written.
      out += raw.slice(i, j + 1);
    } else {
      out += rep;
    }
    const next = raw.indexOf(esc, j + 1);
    out += raw.slice(j + 1, next < 0 ? raw.length : next);
    i = next;
  }
  return out;
}

/**
 * Escapes a value so it can be written as one primitive: delimiters become `\F\ \S\ \T\ \R\ \E\`
 * (and `\P\` for the truncation character), CR, LF and other control characters (except TAB)
 * become hex escapes such as `\X0D\`.
 */
export function escapeValue(value: string, enc: Hl7Encoding): string {
  const table = escapeTable(enc);
  let out = '';
  let last = 0;
  for (let i = 0; i < value.length; i++) {
    const c = value.charCodeAt(i);
    // Only ASCII can need escaping; the table holds the letter of each delimiter's sequence.
    if (c > 0x7f || table[c] === undefined) continue;
    out += value.slice(last, i) + enc.escape + table[c] + enc.escape;
    last = i + 1;
  }
  return last === 0 ? value : out + value.slice(last);
}

const tables = new WeakMap<Hl7Encoding, (string | undefined)[]>();

/** Per-encoding lookup: ASCII code -> escape sequence body (`E`, `F`, ..., `X0D`), built once. */
function escapeTable(enc: Hl7Encoding): (string | undefined)[] {
  let t = tables.get(enc);
  if (t) return t;
  t = new Array<string | undefined>(128).fill(undefined);
  // CR and LF would end the segment; other control characters are not allowed in HL7 text.
  for (let c = 0; c < 0x20; c++) if (c !== 0x09) t[c] = `X${c.toString(16).toUpperCase().padStart(2, '0')}`;
  t[0x7f] = 'X7F';
  if (enc.truncation) t[enc.truncation.charCodeAt(0)] = 'P';
  t[enc.repetition.charCodeAt(0)] = 'R';
  t[enc.subcomponent.charCodeAt(0)] = 'T';
  t[enc.component.charCodeAt(0)] = 'S';
  t[enc.field.charCodeAt(0)] = 'F';
  t[enc.escape.charCodeAt(0)] = 'E';
  tables.set(enc, t);
  return t;
}
