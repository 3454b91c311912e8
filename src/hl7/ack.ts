// Building acknowledgements (pure). Which acknowledgements to send is decided by `planAcks`; what
// each one says is built by `buildAck`. Sending them only after the commit is the server's job.
//
// Acknowledgement rules (HL7 v2.x chapter 2, table 0155), as implemented by planAcks:
//   * Original mode: MSH-15 and MSH-16 both empty. Exactly one ACK: AA when accepted and processed,
//     AE on an error in the content, AR when the message is rejected (bad header, unsupported type or
//     version, unusable syntax). If the caller has no separate processing result, the accept outcome
//     is used (CareWire processes inside the commit, so both are known together).
//   * Enhanced mode: MSH-15 or MSH-16 valued. Up to two ACKs:
//       accept ACK (CA/CE/CR) per MSH-15, about safe receipt (commit);
//       application ACK (AA/AE/AR) per MSH-16, about processing.
//     Conditions: AL always, NE never, ER only for CE/CR (AE/AR), SU only for CA (AA).
//     An empty MSH-15 counts as NE and an empty MSH-16 as AL: HL7 defines original mode as
//     exactly that pair, so these defaults keep the two modes consistent. Values outside table 0155
//     count as AL, so a typo never silently suppresses an acknowledgement.
//     A message that is not accepted is never processed, so its application outcome is the accept
//     outcome; e.g. NE/AL with a syntax error still gets an application AR.

import type { Buffer } from 'node:buffer';
import { resolveCharset } from './charset.ts';
import {
  checkEncoding,
  DEFAULT_ENCODING,
  encodingCharacters,
  type Hl7Encoding,
  isEncoding,
} from './encoding.ts';
import { HL7_ERROR_TEXT, type Hl7ErrorDetail } from './errors.ts';
import { escapeValue } from './escape.ts';
import type { Hl7Hd, Hl7HeaderInfo } from './header.ts';
import { Hl7Message, Hl7Segment } from './message.ts';
import { encodeSegment, type Hl7FieldInput, type Hl7SegmentInput } from './serialize.ts';

export type OriginalAckCode = 'AA' | 'AE' | 'AR';
export type EnhancedAckCode = 'CA' | 'CE' | 'CR';
export type AckCode = OriginalAckCode | EnhancedAckCode;
/** ok: accepted/processed; error: content error (AE/CE); reject: message refused (AR/CR). */
export type Hl7Outcome = 'ok' | 'error' | 'reject';
/** Table 0155 values of MSH-15 / MSH-16. */
export type AckCondition = 'AL' | 'NE' | 'ER' | 'SU';

const APPLICATION: Readonly<Record<Hl7Outcome, OriginalAckCode>> = { ok: 'AA', error: 'AE', reject: 'AR' };
const ACCEPT: Readonly<Record<Hl7Outcome, EnhancedAckCode>> = { ok: 'CA', error: 'CE', reject: 'CR' };

/** The MSA-1 code for an outcome: application (original) or accept (enhanced commit) acknowledgement. */
export function ackCodeFor(kind: 'application' | 'accept', outcome: Hl7Outcome): AckCode {
  return kind === 'accept' ? ACCEPT[outcome] : APPLICATION[outcome];
}

export interface AckPlan {
  mode: 'original' | 'enhanced';
  /** Accept acknowledgement to send (enhanced mode only). */
  accept?: EnhancedAckCode;
  /** Application acknowledgement to send (the only one in original mode). */
  application?: OriginalAckCode;
}

function condition(value: string, absent: AckCondition): AckCondition {
  if (value === '') return absent;
  return value === 'AL' || value === 'NE' || value === 'ER' || value === 'SU' ? value : 'AL';
}

function wanted(cond: AckCondition, outcome: Hl7Outcome): boolean {
  return cond === 'AL' || (cond === 'ER' && outcome !== 'ok') || (cond === 'SU' && outcome === 'ok');
}

/**
 * Decides which acknowledgements to send (rules at the top of this file). `accept` is the outcome
 * of receiving and committing the message; `application` that of processing it, when known.
 * `header` may be a loose header from a failed parse, or undefined when there was no MSH at all.
 */
export function planAcks(
  header: Pick<Hl7HeaderInfo, 'acceptAckType' | 'applicationAckType'> | undefined,
  result: { accept: Hl7Outcome; application?: Hl7Outcome },
): AckPlan {
  const msh15 = header?.acceptAckType ?? '';
  const msh16 = header?.applicationAckType ?? '';
  const processed = result.accept === 'ok' ? result.application : result.accept;
  if (msh15 === '' && msh16 === '') {
    return { mode: 'original', application: APPLICATION[processed ?? result.accept] };
  }
  const plan: AckPlan = { mode: 'enhanced' };
  if (wanted(condition(msh15, 'NE'), result.accept)) plan.accept = ACCEPT[result.accept];
  if (processed !== undefined && wanted(condition(msh16, 'AL'), processed))
    plan.application = APPLICATION[processed];
  return plan;
}

export interface BuildAckOptions {
  /** MSA-1. */
  code: AckCode;
  /** Problems to report, one ERR segment each. AE/AR/CE/CR without errors get a generic 207. */
  errors?: readonly Hl7ErrorDetail[];
  /** MSA-3 text message (deprecated since v2.4; filled from the first error before v2.5 if absent). */
  text?: string;
  /** MSH-10 of the ACK; default from a process-wide generator (see createControlIdGenerator). */
  controlId?: string;
  /** MSH-7 time; default now. */
  now?: Date;
  /** MSH-12 when the incoming message has none (default 2.5.1). */
  defaultVersion?: string;
  /** Our own identity, used for MSH-3/4 when the incoming MSH-5/6 are empty. */
  self?: { application?: Hl7Hd | string; facility?: Hl7Hd | string };
}

/** Generator of ACK control ids: prefix + time + counter in base 36, at most 20 characters (ST in v2.3-2.6). */
export function createControlIdGenerator(prefix = 'CW'): () => string {
  let counter = 0;
  return () => {
    counter = (counter + 1) % 36 ** 4;
    const id = `${prefix}${Date.now().toString(36)}${counter.toString(36).padStart(4, '0')}`;
    return id.length > 20 ? id.slice(id.length - 20) : id;
  };
}

const nextControlId = createControlIdGenerator();

/** HL7 DTM in UTC with milliseconds, e.g. `20240131235959.123+0000`. */
export function formatHl7Timestamp(d: Date): string {
  const p = (n: number, w = 2) => String(n).padStart(w, '0');
  return (
    `${d.getUTCFullYear()}${p(d.getUTCMonth() + 1)}${p(d.getUTCDate())}` +
    `${p(d.getUTCHours())}${p(d.getUTCMinutes())}${p(d.getUTCSeconds())}.${p(d.getUTCMilliseconds(), 3)}+0000`
  );
}

const versionCache = new Map<string, boolean>();

/** Compares dotted versions: versionAtLeast('2.5.1', '2.5') is true. Unparseable counts as 0. */
export function versionAtLeast(version: string, min: string): boolean {
  const key = `${version}>=${min}`;
  const hit = versionCache.get(key);
  if (hit !== undefined) return hit;
  const a = version.split('.').map((x) => Number.parseInt(x, 10) || 0);
  const b = min.split('.').map((x) => Number.parseInt(x, 10) || 0);
  let result = true;
  for (let i = 0; i < Math.max(a.length, b.length); i++) {
    const d = (a[i] ?? 0) - (b[i] ?? 0);
    if (d !== 0) {
      result = d > 0;
      break;
    }
  }
  if (versionCache.size < 256) versionCache.set(key, result);
  return result;
}

function isEmptyHd(v: Hl7Hd): boolean {
  return v.namespaceId === '' && v.universalId === '' && v.universalIdType === '';
}

function usableEncoding(enc: Hl7Encoding): Hl7Encoding {
  const checked = checkEncoding(enc.field, encodingCharacters(enc));
  return isEncoding(checked) ? checked : DEFAULT_ENCODING;
}

function errSegment(e: Hl7ErrorDetail, version: string): Hl7SegmentInput {
  const loc = e.location;
  const cwe = [e.code, HL7_ERROR_TEXT[e.code], 'HL70357'];
  const fields: Record<number, Hl7FieldInput> = {};
  if (!versionAtLeast(version, '2.5')) {
    // v2.3-2.4 receivers only know ERR-1 (ELD): segment ^ sequence ^ field ^ code&text&system.
    fields[1] = [loc?.segment ?? '', loc?.sequence ?? (loc?.segment ? 1 : ''), loc?.field ?? '', cwe];
  }
  if (loc?.segment) {
    fields[2] = [
      loc.segment,
      loc.sequence ?? 1,
      loc.field,
      loc.field === undefined ? undefined : (loc.repetition ?? 1),
      loc.component,
      loc.subcomponent,
    ];
  }
  fields[3] = cwe;
  fields[4] = e.severity;
  fields[7] = e.message;
  return { name: 'ERR', fields };
}

/** An HD (or a plain string) as one field's text: components escaped, trailing empty ones dropped. */
function hdText(v: Hl7Hd | string | undefined, enc: Hl7Encoding): string {
  if (v === undefined) return '';
  if (typeof v === 'string') return escapeValue(v, enc);
  let out = escapeValue(v.namespaceId, enc);
  if (v.universalId !== '' || v.universalIdType !== '')
    out += enc.component + escapeValue(v.universalId, enc);
  if (v.universalIdType !== '') out += enc.component + escapeValue(v.universalIdType, enc);
  return out;
}

/** `formatHl7Timestamp` of the last millisecond asked for: most ACKs of a batch share it. */
let lastStampMs = Number.NaN;
let lastStamp = '';
function stampOf(now: Date): string {
  const ms = now.getTime();
  if (ms !== lastStampMs) {
    lastStamp = formatHl7Timestamp(now);
    lastStampMs = ms;
  }
  return lastStamp;
}

/**
 * The segment texts of an acknowledgement, written directly: MSH and MSA are string templates
 * (the generic serializer was most of an ACK's cost on the HL7 hot path, ~8 µs of the 33 µs a
 * result took to prepare: `prepareMessage`, warm, docs/benchmarks.md session 12), ERR segments go through `encodeSegment`. The output
 * is what the serializer would write for the same fields (test/hl7/ack.test.ts compares them).
 */
function ackSegments(
  source: Hl7Message | Hl7HeaderInfo | undefined,
  options: BuildAckOptions,
): { texts: string[]; enc: Hl7Encoding; charsetField: string } {
  const h = source instanceof Hl7Message ? source.header : source;
  const enc = h ? usableEncoding(h.encoding) : DEFAULT_ENCODING;
  // A NAK for garbage may have no usable version to echo; answer in a version the peer can read.
  const version = h && VERSION.test(h.version) ? h.version : (options.defaultVersion ?? '2.5.1');
  // Echo MSH-18 when we can write it; otherwise fall back to the default rather than fail the NAK.
  const charsetField = h && resolveCharset(h.charset) ? h.charset : '';
  const trigger = escapeValue(h?.triggerEvent ?? '', enc);
  const c = enc.component;
  const type = versionAtLeast(version, '2.3.1')
    ? `ACK${c}${trigger}${c}ACK`
    : trigger
      ? `ACK${c}${trigger}`
      : 'ACK';
  // MSH-3 … MSH-18; empty fields at the end are not written.
  const msh = [
    h && !isEmptyHd(h.receivingApplication)
      ? hdText(h.receivingApplication, enc)
      : hdText(options.self?.application, enc),
    h && !isEmptyHd(h.receivingFacility)
      ? hdText(h.receivingFacility, enc)
      : hdText(options.self?.facility, enc),
    h ? hdText(h.sendingApplication, enc) : '',
    h ? hdText(h.sendingFacility, enc) : '',
    escapeValue(options.now ? formatHl7Timestamp(options.now) : stampOf(new Date()), enc),
    '',
    type,
    escapeValue(options.controlId ?? nextControlId(), enc),
    escapeValue(h?.processingId || 'P', enc),
    escapeValue(version, enc),
  ];
  if (charsetField !== '') msh.push('', '', '', '', '', escapeValue(charsetField, enc));
  // Empty fields at the end are not written (an empty default version can leave one).
  while (msh.length > 0 && msh[msh.length - 1] === '') msh.pop();
  const f = enc.field;
  const texts = [`MSH${f}${encodingCharacters(enc)}${f}${msh.join(f)}`];
  const errors = [...(options.errors ?? [])];
  const failed = options.code !== 'AA' && options.code !== 'CA';
  if (failed && errors.length === 0) {
    errors.push({ code: '207', severity: 'E', message: options.text ?? HL7_ERROR_TEXT['207'] });
  }
  let text = options.text;
  if (text === undefined && errors.length > 0 && !versionAtLeast(version, '2.5')) {
    text = errors[0]!.message.slice(0, 80);
  }
  let msa = `MSA${f}${escapeValue(options.code, enc)}`;
  const echoed = escapeValue(h?.controlId ?? '', enc);
  const said = text === undefined ? '' : escapeValue(text, enc);
  if (echoed !== '' || said !== '') msa += f + echoed;
  if (said !== '') msa += f + said;
  texts.push(msa);
  for (const e of errors) texts.push(encodeSegment(errSegment(e, version), enc));
  return { texts, enc, charsetField };
}

const VERSION = /^2\.\d+(?:\.\d+)*$/;

/**
 * Builds the acknowledgement of `source` (a parsed message, a header from `readHeaderLoosely` or a
 * parse error's `header`, or undefined when nothing of the MSH could be read). The ACK uses the
 * incoming delimiters, version, processing id and MSH-18, swaps sender and receiver, echoes
 * MSH-10 in MSA-2 and carries one ERR segment per error.
 */
export function buildAck(
  source: Hl7Message | Hl7HeaderInfo | undefined,
  options: BuildAckOptions,
): Hl7Message {
  const { texts, enc, charsetField } = ackSegments(source, options);
  const charset = resolveCharset(charsetField)!;
  const decodeHex = (b: Uint8Array) => charset.decode(b);
  const segments = texts.map((t) => new Hl7Segment(t.slice(0, 3), t, enc, decodeHex));
  return new Hl7Message({ segments, encoding: enc, charset, endsWithTerminator: true, warnings: [] });
}

/** An acknowledgement as its text and its bytes in the message's character set. */
export interface AckPayload {
  text: string;
  bytes: Buffer;
}

/** What `buildAck` gives as `toString()` and `toBuffer()`, without building the message (hot path). */
export function buildAckPayload(
  source: Hl7Message | Hl7HeaderInfo | undefined,
  options: BuildAckOptions,
): AckPayload {
  const { texts, charsetField } = ackSegments(source, options);
  const text = `${texts.join('\r')}\r`;
  return { text, bytes: resolveCharset(charsetField)!.encode(text) };
}

/** Builds the ACK messages a plan calls for, with the same options (except the code). */
export function buildAcks(
  source: Hl7Message | Hl7HeaderInfo | undefined,
  plan: AckPlan,
  options: Omit<BuildAckOptions, 'code'> = {},
): { accept?: Hl7Message; application?: Hl7Message } {
  return forPlan(plan, options, (o) => buildAck(source, o));
}

/** `buildAcks` as payloads (text and bytes), in the order they are sent: accept, then application. */
export function buildAckPayloads(
  source: Hl7Message | Hl7HeaderInfo | undefined,
  plan: AckPlan,
  options: Omit<BuildAckOptions, 'code'> = {},
): AckPayload[] {
  const acks = forPlan(plan, options, (o) => buildAckPayload(source, o));
  const out: AckPayload[] = [];
  if (acks.accept) out.push(acks.accept);
  if (acks.application) out.push(acks.application);
  return out;
}

function forPlan<T>(
  plan: AckPlan,
  options: Omit<BuildAckOptions, 'code'>,
  build: (o: BuildAckOptions) => T,
): { accept?: T; application?: T } {
  const out: { accept?: T; application?: T } = {};
  if (plan.accept) out.accept = build({ ...options, code: plan.accept });
  if (plan.application) {
    // Two ACKs must not share a control id.
    const controlId = plan.accept && options.controlId ? `${options.controlId}A` : options.controlId;
    out.application = build({ ...options, code: plan.application, controlId });
  }
  return out;
}
