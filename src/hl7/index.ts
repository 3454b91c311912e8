// Public API of the pure HL7 v2 codec and MLLP framing (no I/O).

export {
  type AckCode,
  type AckCondition,
  type AckPlan,
  ackCodeFor,
  type BuildAckOptions,
  buildAck,
  buildAcks,
  createControlIdGenerator,
  type EnhancedAckCode,
  formatHl7Timestamp,
  type Hl7Outcome,
  type OriginalAckCode,
  planAcks,
  versionAtLeast,
} from './ack.ts';
export { splitMessages } from './batch.ts';
export { charsetFieldValue, type Hl7Charset, resolveCharset } from './charset.ts';
export { DEFAULT_ENCODING, encodingCharacters, type Hl7Encoding } from './encoding.ts';
export {
  describeLocation,
  HL7_ERROR_TEXT,
  Hl7EncodeError,
  type Hl7ErrorCode,
  type Hl7ErrorDetail,
  type Hl7Location,
  Hl7ParseError,
  type Hl7ParseErrorKind,
  type Hl7ParseLocation,
  Hl7PathError,
  type Hl7Severity,
  MllpError,
  type MllpErrorKind,
} from './errors.ts';
export { escapeValue, type UnescapeOptions, unescapeValue } from './escape.ts';
export { dedupKey, type Hl7Hd, type Hl7HeaderInfo, readHeaderLoosely } from './header.ts';
export { type GetOptions, Hl7Message, Hl7Segment, type Hl7Warning } from './message.ts';
export {
  DEFAULT_MAX_FRAME_SIZE,
  frame,
  MLLP_CR,
  MLLP_END,
  MLLP_START,
  MllpDeframer,
  type MllpDeframerOptions,
} from './mllp.ts';
export { type Hl7ParseResult, type ParseOptions, parseHl7, tryParseHl7 } from './parse.ts';
export { type Hl7Path, parsePath } from './path.ts';
export {
  type BuildOptions,
  buildMessage,
  encodeField,
  encodeSegment,
  type Hl7ComponentInput,
  type Hl7FieldInput,
  type Hl7RepetitionInput,
  type Hl7SegmentInput,
} from './serialize.ts';
