// HL7 v2 parser: bytes or text in, Hl7Message out, or an Hl7ParseError that says where and why.
//
// Tolerated (with a warning on the message): a UTF-8 BOM, LF or CRLF instead of CR, blank lines,
// whitespace-only lines, 8-bit bytes in a message that declares ASCII. Refused: anything that would
// make the content ambiguous (bad delimiters, a bad segment id, a second MSH, control characters,
// invalid UTF-8 in a UTF-8 message, an unsupported MSH-18, missing MSH-9/10/11/12).

import { Buffer, isAscii, isUtf8 } from 'node:buffer';
import { ASCII, type Hl7Charset, LATIN1, resolveCharset, UTF8 } from './charset.ts';
import { checkEncoding, type Hl7Encoding, isEncoding } from './encoding.ts';
import { type Hl7ErrorCode, Hl7ParseError, type Hl7ParseErrorKind, type Hl7ParseLocation } from './errors.ts';
import { readHeaderLoosely } from './header.ts';
import { Hl7Message, Hl7Segment, type Hl7Warning } from './message.ts';
import { piece } from './split.ts';

export interface ParseOptions {
  /**
   * MSH-18 value to assume when the message declares none. Default: ASCII, read leniently (8-bit
   * content is taken as UTF-8 when it is valid UTF-8, else as ISO 8859-1, with a warning).
   */
  defaultCharset?: string;
  /** Refuse whitespace-only lines instead of skipping them. Default false. */
  strict?: boolean;
  /** Require MSH-9, MSH-10, MSH-11 and MSH-12 (a 2.x version). Default true. */
  requireHeaderFields?: boolean;
}

export type Hl7ParseResult = { ok: true; message: Hl7Message } | { ok: false; error: Hl7ParseError };

/** Parses one message. Throws Hl7ParseError (and nothing else) on malformed input. */
export function parseHl7(input: Uint8Array | string, options?: ParseOptions): Hl7Message {
  try {
    return typeof input === 'string' ? parseString(input, options) : parseBytes(input, options);
  } catch (e) {
    const err =
      e instanceof Hl7ParseError
        ? e
        : new Hl7ParseError(
            'INTERNAL',
            `parser failure: ${e instanceof Error ? e.message : String(e)}`,
            {},
            '207',
            'error',
          );
    if (err.header === undefined) {
      try {
        err.header = readHeaderLoosely(input);
      } catch {
        // The loose reader is best effort; a NAK without the sender's header is still a NAK.
      }
    }
    throw err;
  }
}

/** Like parseHl7 but returns the error instead of throwing it. */
export function tryParseHl7(input: Uint8Array | string, options?: ParseOptions): Hl7ParseResult {
  try {
    return { ok: true, message: parseHl7(input, options) };
  } catch (e) {
    if (e instanceof Hl7ParseError) return { ok: false, error: e };
    throw e;
  }
}

function fail(
  kind: Hl7ParseErrorKind,
  reason: string,
  location: Hl7ParseLocation,
  code: Hl7ErrorCode,
  outcome: 'error' | 'reject' = 'reject',
): never {
  throw new Hl7ParseError(kind, reason, location, code, outcome);
}

function printable(s: string): string {
  return JSON.stringify(s.length > 12 ? `${s.slice(0, 12)}…` : s);
}

interface MshStart {
  enc: Hl7Encoding;
  /** MSH-18, first repetition, as written. */
  msh18: string;
}

/** Checks the MSH line's delimiters; `line` is the first line starting with MSH. */
function readMshStart(line: string): MshStart {
  const sep = line.length > 3 ? line[3]! : '';
  if (sep === '') {
    fail(
      'BAD_FIELD_SEPARATOR',
      'MSH has no field separator (MSH-1)',
      { segment: 'MSH', field: 1, line: 1 },
      '101',
    );
  }
  const end2 = line.indexOf(sep, 4);
  const msh2 = end2 < 0 ? line.slice(4) : line.slice(4, end2);
  const checked = checkEncoding(sep, msh2);
  if (!isEncoding(checked)) {
    fail(
      checked.field === 1 ? 'BAD_FIELD_SEPARATOR' : 'BAD_ENCODING_CHARACTERS',
      checked.reason,
      { segment: 'MSH', sequence: 1, field: checked.field, line: 1 },
      '102',
    );
  }
  // Split on the separator, piece 1 is `MSH` and piece n is MSH-n for n >= 2.
  const msh18 = piece(piece(line, sep, 18), checked.repetition, 1);
  return { enc: checked, msh18 };
}

function unsupportedCharset(value: string): never {
  fail(
    'UNSUPPORTED_CHARSET',
    `MSH-18 character set ${printable(value)} is not supported (use ASCII, 8859/1..16 or UNICODE UTF-8)`,
    { segment: 'MSH', sequence: 1, field: 18, line: 1 },
    '103',
  );
}

function declaredCharset(msh18: string, options: ParseOptions | undefined): Hl7Charset {
  const name = msh18 !== '' ? msh18 : (options?.defaultCharset ?? '');
  const cs = resolveCharset(name);
  if (!cs) unsupportedCharset(name);
  return cs;
}

function parseBytes(bytes: Uint8Array, options: ParseOptions | undefined): Hl7Message {
  const buf = Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const warnings: Hl7Warning[] = [];
  let start = 0;
  const bom = buf.length >= 3 && buf[0] === 0xef && buf[1] === 0xbb && buf[2] === 0xbf;
  if (bom) {
    start = 3;
    warnings.push({ kind: 'BOM', message: 'UTF-8 byte order mark skipped; text read as UTF-8' });
  }
  while (start < buf.length && (buf[start] === 0x0d || buf[start] === 0x0a)) start++;
  if (start >= buf.length) fail('EMPTY', 'no message content', {}, '100');
  if (buf[start] !== 0x4d || buf[start + 1] !== 0x53 || buf[start + 2] !== 0x48) {
    noMsh(buf.toString('latin1', start, Math.min(buf.length, start + 16)));
  }
  let mshEnd = buf.length;
  const cr = buf.indexOf(0x0d, start);
  if (cr >= 0) mshEnd = cr;
  const lf = buf.indexOf(0x0a, start);
  if (lf >= 0 && lf < mshEnd) mshEnd = lf;
  const { enc, msh18 } = readMshStart(buf.toString('latin1', start, mshEnd));

  const body = buf.subarray(start);
  let charset: Hl7Charset;
  if (bom) {
    charset = UTF8;
  } else {
    charset = declaredCharset(msh18, options);
    if (charset === ASCII && !isAscii(body)) {
      // Many senders write UTF-8 or Latin-1 without saying so; read what the bytes most likely mean.
      charset = isUtf8(body) ? UTF8 : LATIN1;
      warnings.push({
        kind: 'NON_ASCII_IN_ASCII',
        message: `8-bit bytes in a message without a matching MSH-18; read as ${charset === UTF8 ? 'UTF-8' : 'ISO 8859-1'}`,
      });
    }
  }
  if (charset === UTF8 && !isUtf8(body)) invalidUtf8(body, enc);
  const text = charset.decode(body);
  return parseText(text, enc, charset, warnings, start > (bom ? 3 : 0), options, hasControlByte(body));
}

function parseString(input: string, options: ParseOptions | undefined): Hl7Message {
  const warnings: Hl7Warning[] = [];
  let start = 0;
  if (input.charCodeAt(0) === 0xfeff) {
    start = 1;
    warnings.push({ kind: 'BOM', message: 'byte order mark skipped' });
  }
  while (start < input.length && (input.charCodeAt(start) === 13 || input.charCodeAt(start) === 10)) start++;
  if (start >= input.length) fail('EMPTY', 'no message content', {}, '100');
  if (!input.startsWith('MSH', start)) noMsh(input.slice(start, start + 16));
  const text = start === 0 ? input : input.slice(start);
  let mshEnd = text.length;
  const cr = text.indexOf('\r');
  if (cr >= 0) mshEnd = cr;
  const lf = text.indexOf('\n');
  if (lf >= 0 && lf < mshEnd) mshEnd = lf;
  const { enc, msh18 } = readMshStart(text.slice(0, mshEnd));
  const charset = declaredCharset(msh18, options);
  return parseText(text, enc, charset, warnings, start > (warnings.length > 0 ? 1 : 0), options, undefined);
}

function noMsh(found: string): never {
  const id = found.slice(0, 3);
  const hint = /^(FHS|BHS)$/.test(id) ? ' (a batch: split it into messages first)' : '';
  fail(
    'NO_MSH',
    `a message must start with an MSH segment, found ${printable(found)}${hint}`,
    { segment: /^[A-Z][A-Z0-9]{2}$/.test(id) ? id : undefined, sequence: 1, line: 1 },
    '100',
  );
}

function invalidUtf8(body: Buffer, enc: Hl7Encoding): never {
  // Error path only: find the first line, then field, whose bytes are not valid UTF-8.
  const sepByte = enc.field.charCodeAt(0);
  let lineNo = 0;
  let pos = 0;
  const names = new Map<string, number>();
  while (pos <= body.length) {
    let end = body.length;
    const cr = body.indexOf(0x0d, pos);
    if (cr >= 0) end = cr;
    const lf = body.indexOf(0x0a, pos);
    if (lf >= 0 && lf < end) end = lf;
    lineNo++;
    const name = body.toString('latin1', pos, Math.min(end, pos + 3));
    if (end > pos) names.set(name, (names.get(name) ?? 0) + 1);
    const lineBytes = body.subarray(pos, end);
    if (!isUtf8(lineBytes)) {
      let field = 0;
      let fpos = 0;
      while (fpos <= lineBytes.length) {
        const at = lineBytes.indexOf(sepByte, fpos);
        const fend = at < 0 ? lineBytes.length : at;
        if (!isUtf8(lineBytes.subarray(fpos, fend))) break;
        field++;
        fpos = fend + 1;
      }
      if (name === 'MSH' && field >= 1) field++;
      fail(
        'INVALID_BYTES',
        'bytes are not valid UTF-8 although the message is declared (or marked) as UTF-8',
        { segment: name, sequence: names.get(name), field: field === 0 ? undefined : field, line: lineNo },
        '102',
        'error',
      );
    }
    if (end >= body.length) break;
    pos = end + (body[end] === 0x0d && body[end + 1] === 0x0a ? 2 : 1);
  }
  fail('INVALID_BYTES', 'bytes are not valid UTF-8', {}, '102', 'error');
}

// Control characters (other than TAB, CR, LF) never belong in HL7 text; they usually mean a binary
// payload or a framing error, so they are refused rather than stored.
// biome-ignore lint/suspicious/noControlCharactersInRegex: matching control characters is the point.
const CONTROL = /[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]/;

const CONTROL_BYTES = [
  0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, 0x0b, 0x0c, 0x0e, 0x0f, 0x10, 0x11, 0x12, 0x13, 0x14,
  0x15, 0x16, 0x17, 0x18, 0x19, 0x1a, 0x1b, 0x1c, 0x1d, 0x1e, 0x1f, 0x7f,
];

/**
 * Whether the bytes hold a control character. One memchr-style Buffer.indexOf per byte value is
 * several times faster than a regular expression over the decoded text on this hot path; every
 * supported charset encodes these characters as the same single bytes.
 */
function hasControlByte(bytes: Buffer): boolean {
  for (const b of CONTROL_BYTES) if (bytes.indexOf(b) >= 0) return true;
  return false;
}

function locate(text: string, offset: number, enc: Hl7Encoding): Hl7ParseLocation {
  let lineStart = 0;
  let line = 1;
  for (let i = 0; i < offset; i++) {
    const c = text.charCodeAt(i);
    if (c === 13 || c === 10) {
      if (c === 13 && text.charCodeAt(i + 1) === 10) i++;
      line++;
      lineStart = i + 1;
    }
  }
  const name = text.slice(lineStart, lineStart + 3);
  let sequence = 0;
  for (const m of text.slice(0, lineStart + 3).matchAll(/(?:^|[\r\n])([A-Z][A-Z0-9]{2})/g)) {
    if (m[1] === name) sequence++;
  }
  const before = text.slice(lineStart, offset);
  let field = before.split(enc.field).length - 1;
  if (name === 'MSH') field++;
  const lastField = before.slice(before.lastIndexOf(enc.field) + 1);
  const rep = lastField.slice(lastField.lastIndexOf(enc.repetition) + 1);
  const component = rep.split(enc.component).length;
  return {
    segment: name,
    sequence: sequence || undefined,
    field: field || undefined,
    component: field ? component : undefined,
    line,
    offset,
  };
}

const WHITESPACE_ONLY = /^\s+$/;

function isSegmentName(text: string, pos: number, end: number, sep: string): boolean {
  if (end - pos < 3) return false;
  const a = text.charCodeAt(pos);
  if (a < 65 || a > 90) return false;
  for (let i = pos + 1; i < pos + 3; i++) {
    const c = text.charCodeAt(i);
    if (!((c >= 65 && c <= 90) || (c >= 48 && c <= 57))) return false;
  }
  return end === pos + 3 || text[pos + 3] === sep;
}

function parseText(
  text: string,
  enc: Hl7Encoding,
  charset: Hl7Charset,
  warnings: Hl7Warning[],
  leadingBlank: boolean,
  options: ParseOptions | undefined,
  controlBytes: boolean | undefined,
): Hl7Message {
  const bad = controlBytes === false ? null : CONTROL.exec(text);
  if (bad) {
    const code = bad[0].charCodeAt(0).toString(16).padStart(2, '0');
    fail(
      'CONTROL_CHARACTER',
      `control character 0x${code} in the message text`,
      locate(text, bad.index, enc),
      '102',
      'error',
    );
  }
  if (leadingBlank) warnings.push({ kind: 'BLANK_LINE', message: 'blank lines before MSH skipped', line: 1 });
  const decodeHex = (bytes: Uint8Array) => charset.decode(bytes);
  const segments: Hl7Segment[] = [];
  const n = text.length;
  let pos = 0;
  let line = 0;
  // Next CR / LF positions are cached so that a message using only one kind stays O(n).
  let nextCr = text.indexOf('\r');
  let nextLf = text.indexOf('\n');
  let sawLf = false;
  let blank = 0;
  while (pos < n) {
    if (nextCr >= 0 && nextCr < pos) nextCr = text.indexOf('\r', pos);
    if (nextLf >= 0 && nextLf < pos) nextLf = text.indexOf('\n', pos);
    let end: number;
    let next: number;
    if (nextCr >= 0 && (nextLf < 0 || nextCr < nextLf)) {
      end = nextCr;
      if (nextLf === end + 1) {
        next = end + 2;
        sawLf = true;
      } else {
        next = end + 1;
      }
    } else if (nextLf >= 0) {
      end = nextLf;
      next = end + 1;
      sawLf = true;
    } else {
      end = n;
      next = n;
    }
    line++;
    if (end === pos) {
      blank++;
      pos = next;
      continue;
    }
    if (!isSegmentName(text, pos, end, enc.field)) {
      const content = text.slice(pos, end);
      if (WHITESPACE_ONLY.test(content) && !options?.strict) {
        warnings.push({ kind: 'WHITESPACE_LINE', message: 'whitespace-only line skipped', line });
        pos = next;
        continue;
      }
      const id = content.slice(0, 3);
      fail(
        WHITESPACE_ONLY.test(content) ? 'WHITESPACE_LINE' : 'BAD_SEGMENT_NAME',
        `segment ${segments.length + 1} (line ${line}) must start with a 3-character segment id (A-Z, 0-9) followed by ${printable(enc.field)}, found ${printable(content)}`,
        { segment: /^[A-Z0-9]{1,3}$/.test(id) ? id : undefined, line, offset: pos },
        '100',
        'error',
      );
    }
    const name = text.slice(pos, pos + 3);
    if (name === 'MSH' && segments.length > 0) {
      fail(
        'UNEXPECTED_MSH',
        `a second MSH at line ${line}: one frame must carry one message (split batches first)`,
        { segment: 'MSH', sequence: 2, line, offset: pos },
        '100',
      );
    }
    segments.push(new Hl7Segment(name, text.slice(pos, end), enc, decodeHex));
    pos = next;
  }
  const endsWithTerminator = n > 0 && (text.charCodeAt(n - 1) === 13 || text.charCodeAt(n - 1) === 10);
  if (sawLf) warnings.push({ kind: 'LF_TERMINATOR', message: 'LF or CRLF segment terminators read as CR' });
  if (blank > 0) {
    warnings.push({ kind: 'BLANK_LINE', message: `${blank} blank line(s) skipped` });
  }
  const message = new Hl7Message({ segments, encoding: enc, charset, endsWithTerminator, warnings });
  if (options?.requireHeaderFields !== false) checkHeader(message);
  return message;
}

function checkHeader(message: Hl7Message): void {
  const msh = message.msh;
  const missing = (field: number, what: string): never =>
    fail(
      'MISSING_HEADER_FIELD',
      `MSH-${field} (${what}) is required`,
      { segment: 'MSH', sequence: 1, field, line: 1 },
      '101',
    );
  if (msh.get(9) === '') missing(9, 'message type');
  if (msh.get(10) === '') missing(10, 'message control id');
  if (msh.get(11) === '') missing(11, 'processing id');
  const version = msh.get(12);
  if (version === '') missing(12, 'version id');
  if (!/^2\.\d/.test(version)) {
    fail(
      'UNSUPPORTED_VERSION',
      `MSH-12 version ${printable(version)} is not an HL7 v2.x version`,
      { segment: 'MSH', sequence: 1, field: 12, line: 1 },
      '203',
    );
  }
}
