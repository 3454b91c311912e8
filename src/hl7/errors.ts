// Error types of the HL7 v2 codec and MLLP framing. Every failure the codec reports is one of these
// classes, so a gateway can turn it into a NAK (ACK with AE/AR/CE/CR and an ERR segment) without
// guessing what went wrong.

import type { Hl7HeaderInfo } from './header.ts';

/** HL7 table 0357 "Message error condition codes" (the values of ERR-3). */
export type Hl7ErrorCode =
  | '0'
  | '100'
  | '101'
  | '102'
  | '103'
  | '104'
  | '200'
  | '201'
  | '202'
  | '203'
  | '204'
  | '205'
  | '206'
  | '207';

/** Display text of table 0357, used in ERR-3.2 and ERR-1.4.2. */
export const HL7_ERROR_TEXT: Readonly<Record<Hl7ErrorCode, string>> = Object.freeze({
  '0': 'Message accepted',
  '100': 'Segment sequence error',
  '101': 'Required field missing',
  '102': 'Data type error',
  '103': 'Table value not found',
  '104': 'Value too long',
  '200': 'Unsupported message type',
  '201': 'Unsupported event code',
  '202': 'Unsupported processing id',
  '203': 'Unsupported version id',
  '204': 'Unknown key identifier',
  '205': 'Duplicate key identifier',
  '206': 'Application record locked',
  '207': 'Application internal error',
});

/** HL7 table 0516 error severity (ERR-4): Error, Warning, Information, Fatal (v2.8). */
export type Hl7Severity = 'E' | 'W' | 'I' | 'F';

/** Where in a message a problem is (the parts of an ERL, ERR-2). All numbers are 1-based. */
export interface Hl7Location {
  /** Segment id, e.g. `PID`. */
  segment?: string;
  /** Occurrence of that segment id in the message (the 2nd OBX is 2). */
  sequence?: number;
  field?: number;
  repetition?: number;
  component?: number;
  subcomponent?: number;
}

/** One problem to report in an ERR segment. */
export interface Hl7ErrorDetail {
  code: Hl7ErrorCode;
  severity: Hl7Severity;
  location?: Hl7Location;
  /** Human-readable diagnosis (goes to ERR-7). */
  message: string;
}

/** What kind of syntax problem the parser found. */
export type Hl7ParseErrorKind =
  | 'EMPTY'
  | 'NO_MSH'
  | 'BAD_FIELD_SEPARATOR'
  | 'BAD_ENCODING_CHARACTERS'
  | 'BAD_SEGMENT_NAME'
  | 'UNEXPECTED_MSH'
  | 'MISSING_HEADER_FIELD'
  | 'UNSUPPORTED_VERSION'
  | 'UNSUPPORTED_CHARSET'
  | 'INVALID_BYTES'
  | 'CONTROL_CHARACTER'
  | 'WHITESPACE_LINE'
  /** A defect in the parser itself, reported as table-0357 code 207 instead of escaping as a raw exception. */
  | 'INTERNAL';

/** Location of a parse error: the ERL parts plus where it is in the input text. */
export interface Hl7ParseLocation extends Hl7Location {
  /** 1-based line (segment) number in the input, counting blank lines. */
  line?: number;
  /** 0-based character offset in the decoded text (after any BOM). */
  offset?: number;
}

/**
 * Thrown (or returned by `tryParseHl7`) when input is not a usable HL7 v2 message.
 * `outcome` says how to answer: `reject` (AR/CR) for header problems that make the message
 * unacceptable as a whole, `error` (AE/CE) for problems in the body.
 */
export class Hl7ParseError extends Error {
  override readonly name = 'Hl7ParseError';
  readonly kind: Hl7ParseErrorKind;
  readonly reason: string;
  readonly location: Hl7ParseLocation;
  readonly errorCode: Hl7ErrorCode;
  readonly outcome: 'error' | 'reject';
  /** Best-effort header read from the raw MSH line, so an ACK can still echo MSH-10 and swap parties. */
  header: Hl7HeaderInfo | undefined;

  constructor(
    kind: Hl7ParseErrorKind,
    reason: string,
    location: Hl7ParseLocation,
    errorCode: Hl7ErrorCode,
    outcome: 'error' | 'reject',
  ) {
    super(`${describeLocation(location)}: ${reason}`);
    this.kind = kind;
    this.reason = reason;
    this.location = location;
    this.errorCode = errorCode;
    this.outcome = outcome;
    this.header = undefined;
  }

  /** The problem as an ERR-segment detail. */
  toDetail(): Hl7ErrorDetail {
    const { line: _line, offset: _offset, ...erl } = this.location;
    return { code: this.errorCode, severity: 'E', location: erl, message: this.reason };
  }
}

/** A malformed accessor path such as `PID-x.1` (a programming error, not bad input). */
export class Hl7PathError extends Error {
  override readonly name = 'Hl7PathError';
  readonly path: string;
  constructor(path: string, reason: string) {
    super(`invalid HL7 path '${path}': ${reason}`);
    this.path = path;
  }
}

/** A value that cannot be written in the message's character set or delimiters. */
export class Hl7EncodeError extends Error {
  override readonly name = 'Hl7EncodeError';
}

export type MllpErrorKind = 'FRAME_TOO_LARGE' | 'INVALID_PAYLOAD';

/** MLLP framing failure. After FRAME_TOO_LARGE the connection should be NAKed and closed. */
export class MllpError extends Error {
  override readonly name = 'MllpError';
  readonly kind: MllpErrorKind;
  /** For FRAME_TOO_LARGE: the configured limit in bytes. */
  readonly limit: number | undefined;
  constructor(kind: MllpErrorKind, message: string, limit?: number) {
    super(message);
    this.kind = kind;
    this.limit = limit;
  }
}

/** `PID[2]-5.1 (line 4)` style text for messages. */
export function describeLocation(loc: Hl7ParseLocation): string {
  let s = loc.segment ? loc.segment : 'message';
  if (loc.segment && loc.sequence !== undefined && loc.sequence > 1) s += `[${loc.sequence}]`;
  if (loc.field !== undefined) s += `-${loc.field}`;
  if (loc.repetition !== undefined && loc.repetition > 1) s += `(${loc.repetition})`;
  if (loc.component !== undefined) s += `.${loc.component}`;
  if (loc.subcomponent !== undefined) s += `.${loc.subcomponent}`;
  if (loc.line !== undefined) s += ` (line ${loc.line})`;
  return s;
}
