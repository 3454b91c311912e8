// The message header (MSH) as plain typed data, read either from a parsed message or, when parsing
// failed, as far as possible from the raw first line so that a NAK can still be addressed properly.

import { Buffer, isUtf8 } from 'node:buffer';
import { checkEncoding, DEFAULT_ENCODING, type Hl7Encoding, isEncoding } from './encoding.ts';
import { unescapeValue } from './escape.ts';
import { piece } from './split.ts';

/** HD data type (MSH-3..6): namespace id, universal id, universal id type. */
export interface Hl7Hd {
  readonly namespaceId: string;
  readonly universalId: string;
  readonly universalIdType: string;
}

/** Typed view of MSH. Values are unescaped; absent fields are ''. */
export interface Hl7HeaderInfo {
  readonly encoding: Hl7Encoding;
  /** MSH-3 */
  readonly sendingApplication: Hl7Hd;
  /** MSH-4 */
  readonly sendingFacility: Hl7Hd;
  /** MSH-5 */
  readonly receivingApplication: Hl7Hd;
  /** MSH-6 */
  readonly receivingFacility: Hl7Hd;
  /** MSH-7.1, as written (e.g. `20210128162413-0500`). */
  readonly timestamp: string;
  /** MSH-9.1, e.g. `ORU`. */
  readonly messageType: string;
  /** MSH-9.2, e.g. `R01`. */
  readonly triggerEvent: string;
  /** MSH-9.3, e.g. `ORU_R01` (v2.3.1+). */
  readonly messageStructure: string;
  /** MSH-10 */
  readonly controlId: string;
  /** MSH-11.1: P (production), T (training), D (debugging). */
  readonly processingId: string;
  /** MSH-11.2 */
  readonly processingMode: string;
  /** MSH-12.1, e.g. `2.5.1`. */
  readonly version: string;
  /** MSH-13 */
  readonly sequenceNumber: string;
  /** MSH-15 (table 0155: AL, NE, ER, SU), '' when absent. */
  readonly acceptAckType: string;
  /** MSH-16 (table 0155: AL, NE, ER, SU), '' when absent. */
  readonly applicationAckType: string;
  /** MSH-18 first repetition as declared ('' means the default, ASCII). */
  readonly charset: string;
}

/** Reads the raw text of field n (MSH numbering: 1 is the field separator). */
type FieldReader = (n: number) => string;

/** Builds the header from a field reader. `decode` false leaves escapes as written (loose reading). */
export function headerFrom(read: FieldReader, enc: Hl7Encoding, decode: boolean): Hl7HeaderInfo {
  const value = (n: number, c = 1, s = 1): string => {
    const rep = piece(read(n), enc.repetition, 1);
    const v = piece(piece(rep, enc.component, c), enc.subcomponent, s);
    return decode ? unescapeValue(v, enc) : v;
  };
  const hd = (n: number): Hl7Hd => ({
    namespaceId: value(n, 1),
    universalId: value(n, 2),
    universalIdType: value(n, 3),
  });
  return {
    encoding: enc,
    sendingApplication: hd(3),
    sendingFacility: hd(4),
    receivingApplication: hd(5),
    receivingFacility: hd(6),
    timestamp: value(7),
    messageType: value(9, 1),
    triggerEvent: value(9, 2),
    messageStructure: value(9, 3),
    controlId: value(10),
    processingId: value(11, 1),
    processingMode: value(11, 2),
    version: value(12),
    sequenceNumber: value(13),
    acceptAckType: value(15).trim().toUpperCase(),
    applicationAckType: value(16).trim().toUpperCase(),
    charset: value(18),
  };
}

const MAX_LOOSE_SCAN = 64 * 1024;

/**
 * Best-effort header of input that may not parse: finds `MSH` near the start, splits its line on the
 * character after it, and reads components with MSH-2's first character when usable (else `^`).
 * Values are not unescaped. Returns undefined when there is no MSH line at all.
 */
export function readHeaderLoosely(input: Uint8Array | string): Hl7HeaderInfo | undefined {
  let text: string;
  if (typeof input === 'string') {
    text = input.length > MAX_LOOSE_SCAN ? input.slice(0, MAX_LOOSE_SCAN) : input;
  } else {
    const buf = Buffer.from(input.buffer, input.byteOffset, Math.min(input.byteLength, MAX_LOOSE_SCAN));
    const nl = firstLineEnd(buf, buf.indexOf('MSH'));
    const line = buf.subarray(0, nl);
    text = isUtf8(line) ? line.toString('utf8') : line.toString('latin1');
  }
  const start = text.indexOf('MSH');
  if (start < 0 || start > 1024) return undefined;
  let end = text.length;
  const cr = text.indexOf('\r', start);
  const lf = text.indexOf('\n', start);
  if (cr >= 0) end = cr;
  if (lf >= 0 && lf < end) end = lf;
  const line = text.slice(start, end);
  if (line.length < 4) return undefined;
  const sep = line[3]!;
  const parts = line.split(sep);
  const msh2 = parts[1] ?? '';
  const checked = checkEncoding(sep, msh2);
  let enc: Hl7Encoding;
  if (isEncoding(checked)) {
    enc = checked;
  } else {
    // MSH-2 is unusable: guess the component separator as the candidate that occurs in MSH-9
    // (message^event), which has components in every version from 2.3 on.
    const msh9 = parts[8] ?? '';
    const declared = msh2[0] && msh2[0] !== sep && !/[A-Za-z0-9\s]/.test(msh2[0]) ? msh2[0] : undefined;
    const comp =
      declared && msh9.includes(declared) ? declared : msh9.includes('^') || !declared ? '^' : declared;
    enc = { ...DEFAULT_ENCODING, field: sep, component: comp };
    // Keep the guessed delimiters distinct from the field separator so splitting stays well defined.
    if (enc.repetition === sep || enc.repetition === comp) enc = { ...enc, repetition: '\u0000' };
    if (enc.subcomponent === sep || enc.subcomponent === comp) enc = { ...enc, subcomponent: '\u0001' };
  }
  const read: FieldReader = (n) => (n === 1 ? sep : n === 2 ? msh2 : (parts[n - 1] ?? ''));
  return headerFrom(read, enc, false);
}

function firstLineEnd(buf: Buffer, from: number): number {
  const start = Math.max(from, 0);
  const cr = buf.indexOf(0x0d, start);
  const lf = buf.indexOf(0x0a, start);
  let end = buf.length;
  if (cr >= 0) end = cr;
  if (lf >= 0 && lf < end) end = lf;
  return end;
}

/**
 * De-duplication key of design rule 2 (MSH-3 + MSH-10): the same sender reusing a control id is the
 * same message. Uses a separator that cannot appear in decoded HL7 text of a sane sender.
 */
export function dedupKey(h: Hl7HeaderInfo): string {
  const a = h.sendingApplication;
  return `${a.namespaceId}\u001f${a.universalId}\u001f${a.universalIdType}\u001e${h.controlId}`;
}
