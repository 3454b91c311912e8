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

/**
 * Header backed by a field reader. Each value is computed when first read and then kept, so a
 * gateway pays only for the header fields it looks at. `decode` false leaves escapes as written.
 */
class Header implements Hl7HeaderInfo {
  readonly encoding: Hl7Encoding;
  readonly #read: FieldReader;
  readonly #decode: boolean;
  readonly #cache = new Map<number, string | Hl7Hd>();

  constructor(read: FieldReader, enc: Hl7Encoding, decode: boolean) {
    this.encoding = enc;
    this.#read = read;
    this.#decode = decode;
  }

  #value(n: number, c = 1, key = n): string {
    const hit = this.#cache.get(key);
    if (hit !== undefined) return hit as string;
    const enc = this.encoding;
    const rep = piece(this.#read(n), enc.repetition, 1);
    const v = piece(piece(rep, enc.component, c), enc.subcomponent, 1);
    const out = this.#decode && v.indexOf(enc.escape) >= 0 ? unescapeValue(v, enc) : v;
    this.#cache.set(key, out);
    return out;
  }

  #hd(n: number): Hl7Hd {
    const hit = this.#cache.get(n);
    if (hit !== undefined) return hit as Hl7Hd;
    const hd = {
      namespaceId: this.#value(n, 1, n * 10 + 1),
      universalId: this.#value(n, 2, n * 10 + 2),
      universalIdType: this.#value(n, 3, n * 10 + 3),
    };
    this.#cache.set(n, hd);
    return hd;
  }

  get sendingApplication(): Hl7Hd {
    return this.#hd(3);
  }
  get sendingFacility(): Hl7Hd {
    return this.#hd(4);
  }
  get receivingApplication(): Hl7Hd {
    return this.#hd(5);
  }
  get receivingFacility(): Hl7Hd {
    return this.#hd(6);
  }
  get timestamp(): string {
    return this.#value(7);
  }
  get messageType(): string {
    return this.#value(9, 1, 91);
  }
  get triggerEvent(): string {
    return this.#value(9, 2, 92);
  }
  get messageStructure(): string {
    return this.#value(9, 3, 93);
  }
  get controlId(): string {
    return this.#value(10);
  }
  get processingId(): string {
    return this.#value(11, 1, 111);
  }
  get processingMode(): string {
    return this.#value(11, 2, 112);
  }
  get version(): string {
    return this.#value(12);
  }
  get sequenceNumber(): string {
    return this.#value(13);
  }
  get acceptAckType(): string {
    return this.#value(15).trim().toUpperCase();
  }
  get applicationAckType(): string {
    return this.#value(16).trim().toUpperCase();
  }
  get charset(): string {
    return this.#value(18);
  }

  /** Plain-object copy (for logging and JSON). */
  toJSON(): Omit<Hl7HeaderInfo, 'encoding'> {
    return {
      sendingApplication: this.sendingApplication,
      sendingFacility: this.sendingFacility,
      receivingApplication: this.receivingApplication,
      receivingFacility: this.receivingFacility,
      timestamp: this.timestamp,
      messageType: this.messageType,
      triggerEvent: this.triggerEvent,
      messageStructure: this.messageStructure,
      controlId: this.controlId,
      processingId: this.processingId,
      processingMode: this.processingMode,
      version: this.version,
      sequenceNumber: this.sequenceNumber,
      acceptAckType: this.acceptAckType,
      applicationAckType: this.applicationAckType,
      charset: this.charset,
    };
  }
}

/** Builds the header from a field reader (MSH numbering). `decode` false leaves escapes as written. */
export function headerFrom(read: FieldReader, enc: Hl7Encoding, decode: boolean): Hl7HeaderInfo {
  return new Header(read, enc, decode);
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
