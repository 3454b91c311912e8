// The parsed message model. Segments keep their raw text and split it into fields only when asked,
// so parsing stays cheap and serialising an untouched message gives back exactly what was read.

import type { Buffer } from 'node:buffer';
import type { Hl7Charset } from './charset.ts';
import type { Hl7Encoding } from './encoding.ts';
import { Hl7PathError } from './errors.ts';
import { unescapeValue } from './escape.ts';
import { type Hl7HeaderInfo, headerFrom } from './header.ts';
import { fieldPath, type Hl7Path, parsePath } from './path.ts';
import { countPieces, piece } from './split.ts';

/** Options of the accessors. Numbers are 1-based, like HL7's own. */
export interface GetOptions {
  /** Which occurrence of the segment (the 2nd OBX is 2); overrides `OBX[n]` in the path. */
  occurrence?: number;
  /** Which repetition of the field; overrides `PID-3[n]` in the path. */
  repetition?: number;
  /** How formatting escapes are decoded (see UnescapeOptions). */
  formatting?: 'text' | 'keep';
}

/** Something the parser tolerated. A message with warnings does not serialise back byte for byte. */
export interface Hl7Warning {
  kind:
    | 'BOM'
    | 'LF_TERMINATOR'
    | 'BLANK_LINE'
    | 'WHITESPACE_LINE'
    | 'CHARSET_FALLBACK'
    | 'NON_ASCII_IN_ASCII';
  message: string;
  line?: number;
}

export class Hl7Segment {
  /** Segment id, e.g. `PID`. */
  readonly name: string;
  /** The segment text as received, without terminator. */
  readonly raw: string;
  readonly encoding: Hl7Encoding;
  readonly #decodeHex: (bytes: Uint8Array) => string;
  #fields: string[] | undefined;
  #lookups = 0;

  constructor(name: string, raw: string, encoding: Hl7Encoding, decodeHex: (bytes: Uint8Array) => string) {
    this.name = name;
    this.raw = raw;
    this.encoding = encoding;
    this.#decodeHex = decodeHex;
    this.#fields = undefined;
  }

  /** Raw field texts indexed by field number (index 0 is the segment id; for MSH, 1 is MSH-1). */
  fields(): readonly string[] {
    let f = this.#fields;
    if (f === undefined) {
      f = this.raw.split(this.encoding.field);
      // MSH-1 is the separator itself, so MSH's texts are shifted by one against the numbering.
      if (this.name === 'MSH') f.splice(1, 0, this.encoding.field);
      this.#fields = f;
    }
    return f;
  }

  /** Number of the last field present (0 for a segment with no fields). */
  get fieldCount(): number {
    return this.fields().length - 1;
  }

  /** Raw text of field `n` (all repetitions, escapes not decoded); '' when absent. */
  field(n: number): string {
    return this.#fieldText(n) ?? '';
  }

  /** Number of repetitions of field `n` (0 when empty). */
  repetitionCount(n: number): number {
    if (this.name === 'MSH' && n <= 2) return 1;
    return countPieces(this.field(n), this.encoding.repetition);
  }

  #path(path: string | number): Hl7Path {
    if (typeof path === 'number') {
      if (!Number.isInteger(path) || path < 1)
        throw new Hl7PathError(String(path), 'field numbers start at 1');
      return fieldPath(path);
    }
    const p = parsePath(path);
    if (p.segment !== undefined && p.segment !== this.name) {
      throw new Hl7PathError(path, `path is for ${p.segment}, this segment is ${this.name}`);
    }
    return p;
  }

  /**
   * Decoded value of one primitive. Missing parts default to the first (HL7 "terser" convention):
   * `5` means `5[1].1.1`, so `get('5')` of `DOE^JOHN` is `DOE`. Absent values are ''.
   * MSH-1 and MSH-2 return the delimiters as written.
   */
  get(path: string | number, options?: GetOptions): string {
    return this.valueAt(this.#path(path), options);
  }

  /**
   * Raw field text for the accessors. The first two look-ups walk the text with indexOf; only a
   * segment read more often is split into an array, which pays off from about the third field.
   */
  #fieldText(n: number): string | undefined {
    if (this.#fields !== undefined || ++this.#lookups > 2) return this.fields()[n];
    const raw = this.raw;
    const sep = this.encoding.field;
    if (this.name === 'MSH') {
      if (n === 1) return sep;
    } else {
      n++;
    }
    // Piece n of the segment text (piece 1 is the segment id).
    let start = 0;
    for (let i = 1; i < n; i++) {
      const at = raw.indexOf(sep, start);
      if (at < 0) return undefined;
      start = at + 1;
    }
    const end = raw.indexOf(sep, start);
    return end < 0 ? raw.slice(start) : raw.slice(start, end);
  }

  /** @internal path already parsed (used by Hl7Message). */
  valueAt(p: Hl7Path, options?: GetOptions): string {
    const fieldRaw = this.#fieldText(p.field);
    if (fieldRaw === undefined || fieldRaw === '') return '';
    if (this.name === 'MSH' && p.field <= 2) return fieldRaw;
    const enc = this.encoding;
    const rep = piece(fieldRaw, enc.repetition, options?.repetition ?? p.repetition ?? 1);
    const sub = piece(piece(rep, enc.component, p.component ?? 1), enc.subcomponent, p.subcomponent ?? 1);
    if (sub.indexOf(enc.escape) < 0) return sub;
    return unescapeValue(sub, enc, { formatting: options?.formatting ?? 'text', decodeHex: this.#decodeHex });
  }

  /**
   * Raw (still escaped) text of exactly what the path names: `3` is the whole field with all
   * repetitions, `3[2]` one repetition, `3.1` a component, `3.4.2` a subcomponent.
   */
  getRaw(path: string | number, options?: GetOptions): string {
    return this.rawAt(this.#path(path), options);
  }

  /** @internal */
  rawAt(p: Hl7Path, options?: GetOptions): string {
    const fieldRaw = this.#fieldText(p.field) ?? '';
    if (this.name === 'MSH' && p.field <= 2) return fieldRaw;
    const enc = this.encoding;
    const repNo = options?.repetition ?? p.repetition;
    if (repNo === undefined && p.component === undefined) return fieldRaw;
    const rep = piece(fieldRaw, enc.repetition, repNo ?? 1);
    if (p.component === undefined) return rep;
    const comp = piece(rep, enc.component, p.component);
    return p.subcomponent === undefined ? comp : piece(comp, enc.subcomponent, p.subcomponent);
  }

  /** Decoded values of the path in every repetition of its field, e.g. all patient identifiers `3.1`. */
  getAll(path: string | number, options?: Omit<GetOptions, 'repetition'>): string[] {
    const p = this.#path(path);
    const n = this.repetitionCount(p.field);
    const out: string[] = [];
    for (let r = 1; r <= n; r++) out.push(this.valueAt(p, { ...options, repetition: r }));
    return out;
  }

  toString(): string {
    return this.raw;
  }
}

export interface Hl7MessageInit {
  segments: Hl7Segment[];
  encoding: Hl7Encoding;
  charset: Hl7Charset;
  endsWithTerminator: boolean;
  warnings: Hl7Warning[];
}

export class Hl7Message {
  readonly encoding: Hl7Encoding;
  /** The character set the text was decoded with and is encoded with by `toBuffer()`. */
  readonly charset: Hl7Charset;
  /** What the parser tolerated (empty for well-formed input). */
  readonly warnings: readonly Hl7Warning[];
  /** Whether the last segment was followed by a terminator (kept so serialising round-trips). */
  readonly endsWithTerminator: boolean;
  readonly #segments: readonly Hl7Segment[];
  #header: Hl7HeaderInfo | undefined;

  /** Use `parseHl7` or `buildMessage`; the first segment must be MSH. */
  constructor(init: Hl7MessageInit) {
    this.#segments = init.segments;
    this.encoding = init.encoding;
    this.charset = init.charset;
    this.endsWithTerminator = init.endsWithTerminator;
    this.warnings = init.warnings;
    this.#header = undefined;
  }

  /** The MSH segment. */
  get msh(): Hl7Segment {
    return this.#segments[0]!;
  }

  /** Typed header values (message type, control id, version, ack types, ...). */
  get header(): Hl7HeaderInfo {
    if (this.#header === undefined) {
      const msh = this.msh;
      this.#header = headerFrom((n) => msh.field(n), this.encoding, true);
    }
    return this.#header;
  }

  get segmentCount(): number {
    return this.#segments.length;
  }

  /** All segments in order. */
  allSegments(): readonly Hl7Segment[] {
    return this.#segments;
  }

  /** All segments with this id, in order. */
  segments(name: string): Hl7Segment[] {
    return this.#segments.filter((s) => s.name === name);
  }

  /** The `occurrence`-th (1-based) segment with this id. */
  segment(name: string, occurrence = 1): Hl7Segment | undefined {
    let seen = 0;
    for (const s of this.#segments) {
      if (s.name === name && ++seen === occurrence) return s;
    }
    return undefined;
  }

  #find(path: string, options: GetOptions | undefined): [Hl7Segment | undefined, Hl7Path] {
    const p = parsePath(path);
    if (p.segment === undefined)
      throw new Hl7PathError(path, 'a message path needs a segment id, e.g. PID-5');
    return [this.segment(p.segment, options?.occurrence ?? p.occurrence ?? 1), p];
  }

  /** Decoded value at `path` (see Hl7Segment.get); '' when the segment or value is absent. */
  get(path: string, options?: GetOptions): string {
    const [seg, p] = this.#find(path, options);
    return seg ? seg.valueAt(p, options) : '';
  }

  /** Raw text at `path` (see Hl7Segment.getRaw). */
  getRaw(path: string, options?: GetOptions): string {
    const [seg, p] = this.#find(path, options);
    return seg ? seg.rawAt(p, options) : '';
  }

  /** Decoded values of `path` in every repetition of the field. */
  getAll(path: string, options?: Omit<GetOptions, 'repetition'>): string[] {
    const [seg, p] = this.#find(path, options);
    if (!seg) return [];
    const n = seg.repetitionCount(p.field);
    const out: string[] = [];
    for (let r = 1; r <= n; r++) out.push(seg.valueAt(p, { ...options, repetition: r }));
    return out;
  }

  /** The message text with CR segment terminators. */
  toString(): string {
    let s = this.#segments.map((x) => x.raw).join('\r');
    if (this.endsWithTerminator) s += '\r';
    return s;
  }

  /** The message bytes in its character set (what goes inside an MLLP frame). */
  toBuffer(): Buffer {
    return this.charset.encode(this.toString());
  }
}
