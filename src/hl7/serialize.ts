// Writing messages: values in, escaped HL7 text out. Parsed messages serialise through
// Hl7Message.toString()/toBuffer(), which reproduce their input; this module builds new messages
// (ACKs, test fixtures, simulators) from plain values, escaping every value it is given.

import { resolveCharset } from './charset.ts';
import { DEFAULT_ENCODING, encodingCharacters, type Hl7Encoding } from './encoding.ts';
import { Hl7EncodeError } from './errors.ts';
import { escapeValue, unescapeValue } from './escape.ts';
import { Hl7Message, Hl7Segment } from './message.ts';
import { piece } from './split.ts';

type Scalar = string | number | null | undefined;

/** A component: a value, or an array of subcomponent values. */
export type Hl7ComponentInput = Scalar | readonly Scalar[];
/** One repetition: a value, or an array of components. */
export type Hl7RepetitionInput = Scalar | readonly Hl7ComponentInput[];
/**
 * A field: a value (escaped when written), an array of components, `{ repeat: [...] }` for
 * repetitions, or `{ raw }` for text already encoded with the message's delimiters.
 */
export type Hl7FieldInput =
  | Hl7RepetitionInput
  | { readonly repeat: readonly Hl7RepetitionInput[] }
  | { readonly raw: string };

export interface Hl7SegmentInput {
  /** Segment id, e.g. `PID`. */
  readonly name: string;
  /**
   * Fields by number (`{ 3: 'APP', 9: ['ADT', 'A01'] }`) or as an array starting at field 1.
   * For MSH, fields 1 and 2 come from the encoding and are ignored here.
   */
  readonly fields: readonly Hl7FieldInput[] | Readonly<Record<number, Hl7FieldInput>>;
}

export interface BuildOptions {
  /** Delimiters; default `|^~\&`. */
  encoding?: Hl7Encoding;
}

function trimEnd(s: string, sep: string): string {
  let end = s.length;
  while (end > 0 && s[end - 1] === sep) end--;
  return end === s.length ? s : s.slice(0, end);
}

function scalar(v: Scalar, enc: Hl7Encoding): string {
  if (v === null || v === undefined) return '';
  return escapeValue(typeof v === 'number' ? String(v) : v, enc);
}

function component(c: Hl7ComponentInput, enc: Hl7Encoding): string {
  if (Array.isArray(c))
    return trimEnd(c.map((s: Scalar) => scalar(s, enc)).join(enc.subcomponent), enc.subcomponent);
  return scalar(c as Scalar, enc);
}

function repetition(r: Hl7RepetitionInput, enc: Hl7Encoding): string {
  if (Array.isArray(r)) {
    return trimEnd(r.map((c: Hl7ComponentInput) => component(c, enc)).join(enc.component), enc.component);
  }
  return scalar(r as Scalar, enc);
}

/** Encodes one field value with the given delimiters. */
export function encodeField(input: Hl7FieldInput, enc: Hl7Encoding = DEFAULT_ENCODING): string {
  if (input !== null && typeof input === 'object' && !Array.isArray(input)) {
    if ('raw' in input) {
      const raw = input.raw;
      if (raw.includes(enc.field) || raw.includes('\r') || raw.includes('\n')) {
        throw new Hl7EncodeError(
          `raw field value ${JSON.stringify(raw)} contains a field or segment separator`,
        );
      }
      return raw;
    }
    if ('repeat' in input) {
      return trimEnd(input.repeat.map((r) => repetition(r, enc)).join(enc.repetition), enc.repetition);
    }
  }
  return repetition(input as Hl7RepetitionInput, enc);
}

const SEGMENT_ID = /^[A-Z][A-Z0-9]{2}$/;

/** Encodes one segment (without terminator). */
export function encodeSegment(seg: Hl7SegmentInput, enc: Hl7Encoding = DEFAULT_ENCODING): string {
  if (!SEGMENT_ID.test(seg.name)) throw new Hl7EncodeError(`invalid segment id ${JSON.stringify(seg.name)}`);
  const values: string[] = [];
  const put = (n: number, v: Hl7FieldInput) => {
    if (!Number.isInteger(n) || n < 1) throw new Hl7EncodeError(`invalid field number ${n} in ${seg.name}`);
    values[n] = encodeField(v, enc);
  };
  if (Array.isArray(seg.fields)) {
    seg.fields.forEach((v: Hl7FieldInput, i: number) => {
      put(i + 1, v);
    });
  } else {
    for (const [k, v] of Object.entries(seg.fields)) put(Number(k), v as Hl7FieldInput);
  }
  const isMsh = seg.name === 'MSH';
  let last = values.length - 1;
  while (last > (isMsh ? 2 : 0) && !values[last]) last--;
  let out = seg.name;
  for (let n = 1; n <= last; n++) {
    if (isMsh && n === 1) continue; // MSH-1 is the separator written just below
    if (isMsh && n === 2) {
      out += enc.field + encodingCharacters(enc);
      continue;
    }
    out += enc.field + (values[n] ?? '');
  }
  return out;
}

/** Builds a message (first segment must be MSH). Its charset follows the MSH-18 given. */
export function buildMessage(segments: readonly Hl7SegmentInput[], options?: BuildOptions): Hl7Message {
  const enc = options?.encoding ?? DEFAULT_ENCODING;
  if (segments[0]?.name !== 'MSH') throw new Hl7EncodeError('a message must start with an MSH segment');
  const texts = segments.map((s) => encodeSegment(s, enc));
  const msh18Raw = piece(piece(texts[0]!, enc.field, 18), enc.repetition, 1);
  const msh18 = unescapeValue(msh18Raw, enc);
  const charset = resolveCharset(msh18);
  if (!charset) throw new Hl7EncodeError(`unsupported MSH-18 character set ${JSON.stringify(msh18)}`);
  const decodeHex = (b: Uint8Array) => charset.decode(b);
  const built = texts.map((t, i) => new Hl7Segment(segments[i]!.name, t, enc, decodeHex));
  return new Hl7Message({ segments: built, encoding: enc, charset, endsWithTerminator: true, warnings: [] });
}
