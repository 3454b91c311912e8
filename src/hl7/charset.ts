// MSH-18 character sets (HL7 table 0211): the byte <-> text conversion of a message.
// Single-byte sets and UTF-8 are supported both ways so that parse -> serialize gives the same bytes.

import { Buffer } from 'node:buffer';

export interface Hl7Charset {
  /** Our id: `ascii`, `latin1`, `utf-8` or a WHATWG label such as `iso-8859-2`. */
  readonly id: string;
  decode(bytes: Uint8Array): string;
  /** Encodes text; characters the set cannot hold become `?` (UTF-8 for `ascii`, see below). */
  encode(text: string): Buffer;
}

function toBuffer(bytes: Uint8Array): Buffer {
  return Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

function hasCharAbove(text: string, max: number): boolean {
  for (let i = 0; i < text.length; i++) if (text.charCodeAt(i) > max) return true;
  return false;
}

function latin1Only(text: string): string {
  if (!hasCharAbove(text, 0xff)) return text;
  let out = '';
  for (const ch of text) out += ch.charCodeAt(0) > 0xff ? '?' : ch;
  return out;
}

/**
 * US-ASCII. Decoding is byte-transparent (latin1) so that stray 8-bit bytes survive a round trip.
 * Text with non-ASCII characters is written as UTF-8, the most likely reading at the other end.
 */
export const ASCII: Hl7Charset = Object.freeze({
  id: 'ascii',
  decode: (bytes: Uint8Array) => toBuffer(bytes).toString('latin1'),
  encode: (text: string) =>
    hasCharAbove(text, 0x7f) ? Buffer.from(text, 'utf8') : Buffer.from(text, 'latin1'),
});

/** ISO 8859-1 exactly (not windows-1252, which is what the WHATWG label `iso-8859-1` means). */
export const LATIN1: Hl7Charset = Object.freeze({
  id: 'latin1',
  decode: (bytes: Uint8Array) => toBuffer(bytes).toString('latin1'),
  encode: (text: string) => Buffer.from(latin1Only(text), 'latin1'),
});

export const UTF8: Hl7Charset = Object.freeze({
  id: 'utf-8',
  decode: (bytes: Uint8Array) => toBuffer(bytes).toString('utf8'),
  encode: (text: string) => Buffer.from(text, 'utf8'),
});

const singleByteCache = new Map<string, Hl7Charset>();

/** A single-byte ISO 8859 part through TextDecoder, with the reverse table built once for encoding. */
function singleByte(label: string): Hl7Charset {
  const cached = singleByteCache.get(label);
  if (cached) return cached;
  const decoder = new TextDecoder(label);
  const all = new Uint8Array(256);
  for (let i = 0; i < 256; i++) all[i] = i;
  const table = decoder.decode(all);
  const reverse = new Map<string, number>();
  for (let i = 255; i >= 0; i--) reverse.set(table[i]!, i);
  const cs: Hl7Charset = Object.freeze({
    id: label,
    decode: (bytes: Uint8Array) => decoder.decode(bytes),
    encode: (text: string) => {
      const out = Buffer.allocUnsafe(text.length);
      let n = 0;
      for (const ch of text) out[n++] = reverse.get(ch) ?? 0x3f;
      return out.subarray(0, n);
    },
  });
  singleByteCache.set(label, cs);
  return cs;
}

/** ISO-IR numbers of the ISO 8859 parts, as DICOM-style names in table 0211. */
const ISO_IR: Readonly<Record<string, string>> = {
  '6': 'ascii',
  '100': '8859/1',
  '101': '8859/2',
  '109': '8859/3',
  '110': '8859/4',
  '144': '8859/5',
  '127': '8859/6',
  '126': '8859/7',
  '138': '8859/8',
  '148': '8859/9',
  '192': 'utf-8',
};

/**
 * The charset for an MSH-18 value (first repetition), or undefined when we do not support it.
 * An empty value means the default (ASCII). Multi-byte Asian sets and UTF-16/32 are not supported:
 * those messages are refused with table-0357 code 103 rather than being misread.
 */
export function resolveCharset(msh18: string): Hl7Charset | undefined {
  // Called for every message: the common values are answered from a cache.
  const hit = resolved.get(msh18);
  if (hit !== undefined) return hit ?? undefined;
  const cs = resolveUncached(msh18);
  if (resolved.size < 64) resolved.set(msh18, cs ?? null);
  return cs;
}

const resolved = new Map<string, Hl7Charset | null>();

function resolveUncached(msh18: string): Hl7Charset | undefined {
  let name = msh18
    .trim()
    .toUpperCase()
    .replace(/[_\s]+/g, ' ');
  if (name === '' || name === 'ASCII' || name === 'US-ASCII') return ASCII;
  const ir = /^ISO ?IR ?(\d+)$/.exec(name);
  if (ir) {
    const mapped = ISO_IR[ir[1]!];
    if (!mapped) return undefined;
    name = mapped.toUpperCase();
    if (name === 'ASCII') return ASCII;
  }
  if (name === 'UNICODE UTF-8' || name === 'UTF-8' || name === 'UTF8') return UTF8;
  const iso = /^(?:ISO[- ]?)?8859[/-](\d{1,2})$/.exec(name);
  if (iso) {
    const part = Number(iso[1]);
    if (part === 1) return LATIN1;
    // The WHATWG label iso-8859-9 decodes as windows-1254, a superset that agrees on all printable 8859-9.
    if ((part >= 2 && part <= 10) || (part >= 13 && part <= 16)) return singleByte(`iso-8859-${part}`);
  }
  return undefined;
}

/** MSH-18 text to put in a message written in this charset. */
export function charsetFieldValue(cs: Hl7Charset): string {
  if (cs.id === 'ascii') return '';
  if (cs.id === 'utf-8') return 'UNICODE UTF-8';
  if (cs.id === 'latin1') return '8859/1';
  return `8859/${cs.id.slice('iso-8859-'.length)}`;
}
