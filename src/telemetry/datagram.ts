/**
 * The UDP vitals datagram, version 1: a pure codec (no I/O). Byte table and rationale in
 * docs/protocols/telemetry.md.
 *
 *   magic "CW" | version | flags | idLen | deviceId | sequence u64 | timestamp u64 |
 *   count | count × (code u16, value f64) | tag (16 bytes of HMAC-SHA256)
 *
 * All integers are big-endian. The tag is HMAC-SHA256 under the device's key over every byte
 * before it, truncated to its first 16 bytes (128 bits, RFC 2104 §5 allows truncation to half the
 * hash length and no less than 80 bits).
 *
 * Decoding is split from verification on purpose: the receiver needs the device id (inside the
 * datagram) to find the key. `decodeDatagram` checks structure only and never trusts a field for
 * anything but locating the key; `verifyDatagram` returns the message only when the tag matches.
 * Neither throws on hostile input: they return a result with a typed `DatagramError`.
 */
import { isUtf8 } from 'node:buffer';
import { createHmac, createSecretKey, type KeyObject, timingSafeEqual } from 'node:crypto';
import { withoutStack } from './input-error.ts';

export const DATAGRAM_MAGIC = 0x4357; // "CW"
export const DATAGRAM_VERSION = 1;
/** Stays below the 1280-byte IPv6 minimum MTU minus IP/UDP headers, so it is never fragmented. */
export const MAX_DATAGRAM_BYTES = 1200;
export const MAX_DEVICE_ID_BYTES = 64;
export const MAX_MEASUREMENTS = 64;
export const TAG_BYTES = 16;
export const MEASUREMENT_BYTES = 10;
/** Fixed bytes around the device id and measurements: magic 2, version 1, flags 1, idLen 1, seq 8, ts 8, count 1. */
const FIXED_HEADER_BYTES = 22;
/** Smallest well-formed datagram: one-byte device id, no measurements. */
export const MIN_DATAGRAM_BYTES = FIXED_HEADER_BYTES + 1 + TAG_BYTES;
/** Keys shorter than this are refused: a 128-bit tag is only as strong as a 128-bit key. */
export const MIN_KEY_BYTES = 16;

/** Flag bits. Unknown bits are refused so a future meaning cannot be silently ignored. */
export const FLAG_SIMULATED = 0x01;
const KNOWN_FLAGS = FLAG_SIMULATED;

export type DatagramErrorReason =
  | 'too_short'
  | 'too_long'
  | 'bad_magic'
  | 'unsupported_version'
  | 'unknown_flags'
  | 'bad_device_id'
  | 'sequence_out_of_range'
  | 'bad_timestamp'
  | 'too_many_measurements'
  | 'truncated'
  | 'trailing_bytes'
  | 'bad_code'
  | 'bad_value'
  | 'duplicate_code'
  | 'weak_key'
  | 'unknown_device'
  | 'bad_tag';

export class DatagramError extends Error {
  readonly reason: DatagramErrorReason;
  constructor(reason: DatagramErrorReason, message: string) {
    super(message);
    this.name = 'DatagramError';
    this.reason = reason;
  }
}

export interface Measurement {
  /** Wire code from clinical/vital-signs.ts (uint16, 1..65535). */
  readonly code: number;
  readonly value: number;
}

export interface VitalsMessage {
  readonly deviceId: string;
  /** Never repeats for one key; at most Number.MAX_SAFE_INTEGER (see initialSequence). */
  readonly sequence: number;
  /** Milliseconds since the Unix epoch, from the device's clock. */
  readonly timestamp: number;
  readonly measurements: readonly Measurement[];
  /** Bit set of FLAG_*; 0 when omitted. */
  readonly flags?: number;
}

export interface DecodedDatagram {
  readonly version: number;
  readonly flags: number;
  readonly deviceId: string;
  readonly sequence: number;
  readonly timestamp: number;
  readonly measurements: readonly Measurement[];
  /**
   * The bytes the tag covers. A view into the caller's buffer (no copy on the hot path): do not
   * reuse that buffer before verifyDatagram has run.
   */
  readonly signed: Uint8Array;
  readonly tag: Uint8Array;
}

/** A datagram whose tag matched the device key: the only shape the gateway may store. */
export interface VerifiedDatagram {
  readonly verified: true;
  readonly version: number;
  readonly flags: number;
  readonly deviceId: string;
  readonly sequence: number;
  readonly timestamp: number;
  readonly measurements: readonly Measurement[];
}

export type DatagramResult<T> =
  | { readonly ok: true; readonly value: T }
  | { readonly ok: false; readonly error: DatagramError };

/**
 * A per-device key: a node:crypto secret KeyObject (from importDeviceKey) or raw bytes (at least
 * 16, 32 recommended). Prefer the KeyObject: node imports raw key bytes again on every HMAC,
 * which measured about 7× slower (35 µs against 5 µs per tag).
 */
export type DeviceKey = Uint8Array | KeyObject;

/** Imports a device key once, for the key registry to keep; refuses keys shorter than 16 bytes. */
export function importDeviceKey(bytes: Uint8Array): KeyObject {
  if (bytes.byteLength < MIN_KEY_BYTES)
    throw new DatagramError('weak_key', `device key must be at least ${MIN_KEY_BYTES} bytes`);
  return createSecretKey(bytes);
}

function fail(reason: DatagramErrorReason, message: string): { ok: false; error: DatagramError } {
  return { ok: false, error: withoutStack(() => new DatagramError(reason, message)) };
}

/** C0 and C1 controls would let a device id forge log lines or break displays. */
function hasControlChar(s: string): boolean {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x20 || (c >= 0x7f && c <= 0x9f)) return true;
  }
  return false;
}

function checkDeviceId(id: string, bytes: number): string | null {
  if (bytes < 1 || bytes > MAX_DEVICE_ID_BYTES)
    return `device id must be 1..${MAX_DEVICE_ID_BYTES} bytes of UTF-8, got ${bytes}`;
  if (hasControlChar(id)) return 'device id contains a control character';
  // A lone surrogate would be sent as U+FFFD and arrive as a different id.
  if (!id.isWellFormed()) return 'device id is not well-formed Unicode';
  return null;
}

function keyLength(key: DeviceKey): number {
  return key instanceof Uint8Array ? key.byteLength : (key.symmetricKeySize ?? 0);
}

function computeTag(key: DeviceKey, signed: Uint8Array): Buffer {
  return createHmac('sha256', key).update(signed).digest().subarray(0, TAG_BYTES);
}

/**
 * The first sequence number for a device that cannot persist its counter across restarts: the
 * boot time in ms shifted left by 10 bits. It stays above every number the previous boot could
 * have used as long as the device sent fewer than 1024 datagrams per millisecond and its clock did
 * not step back, and it stays below 2^53 until the year 2248.
 */
export function initialSequence(nowMs: number): number {
  return Math.floor(nowMs) * 1024;
}

/**
 * Encodes and signs one message. Throws DatagramError for a message our own sender should never
 * build (bad id, too many measurements, non-finite value, short key): this is the sending side.
 */
export function encodeDatagram(msg: VitalsMessage, key: DeviceKey): Buffer {
  if (keyLength(key) < MIN_KEY_BYTES)
    throw new DatagramError('weak_key', `device key must be at least ${MIN_KEY_BYTES} bytes`);
  const flags = msg.flags ?? 0;
  if (!Number.isInteger(flags) || (flags & ~KNOWN_FLAGS) !== 0 || flags < 0 || flags > 0xff) {
    throw new DatagramError('unknown_flags', `unknown flag bits in ${flags}`);
  }
  const idBytes = Buffer.byteLength(msg.deviceId, 'utf8');
  const idProblem = checkDeviceId(msg.deviceId, idBytes);
  if (idProblem) throw new DatagramError('bad_device_id', idProblem);
  if (!Number.isSafeInteger(msg.sequence) || msg.sequence < 0) {
    throw new DatagramError('sequence_out_of_range', 'sequence must be an integer in 0..2^53-1');
  }
  if (!Number.isSafeInteger(msg.timestamp) || msg.timestamp < 0) {
    throw new DatagramError('bad_timestamp', 'timestamp must be whole milliseconds since the epoch');
  }
  const n = msg.measurements.length;
  if (n > MAX_MEASUREMENTS)
    throw new DatagramError('too_many_measurements', `at most ${MAX_MEASUREMENTS} measurements`);

  const total = FIXED_HEADER_BYTES + idBytes + n * MEASUREMENT_BYTES + TAG_BYTES;
  const buf = Buffer.allocUnsafe(total);
  buf.writeUInt16BE(DATAGRAM_MAGIC, 0);
  buf[2] = DATAGRAM_VERSION;
  buf[3] = flags;
  buf[4] = idBytes;
  buf.write(msg.deviceId, 5, 'utf8');
  let o = 5 + idBytes;
  o = writeU53(buf, o, msg.sequence);
  o = writeU53(buf, o, msg.timestamp);
  buf[o++] = n;
  const seen = new Set<number>();
  for (const m of msg.measurements) {
    if (!Number.isInteger(m.code) || m.code < 1 || m.code > 0xffff) {
      throw new DatagramError('bad_code', `measurement code must be 1..65535, got ${m.code}`);
    }
    if (seen.has(m.code)) throw new DatagramError('duplicate_code', `code ${m.code} appears twice`);
    seen.add(m.code);
    if (!Number.isFinite(m.value))
      throw new DatagramError('bad_value', `value for code ${m.code} is not finite`);
    buf.writeUInt16BE(m.code, o);
    buf.writeDoubleBE(m.value, o + 2);
    o += MEASUREMENT_BYTES;
  }
  computeTag(key, buf.subarray(0, o)).copy(buf, o);
  return buf;
}

function writeU53(buf: Buffer, o: number, v: number): number {
  buf.writeUInt32BE(Math.floor(v / 0x1_0000_0000), o);
  buf.writeUInt32BE(v % 0x1_0000_0000, o + 4);
  return o + 8;
}

/** Reads a u64 that must fit a JS safe integer; -1 when it does not (high word ≥ 2^21). */
function readU53(view: DataView, o: number): number {
  const hi = view.getUint32(o);
  if (hi >= 0x20_0000) return -1;
  return hi * 0x1_0000_0000 + view.getUint32(o + 4);
}

/**
 * Checks the structure of a received datagram and extracts its fields. Does NOT authenticate it:
 * use the device id only to look up the key, then call verifyDatagram.
 */
export function decodeDatagram(buf: Uint8Array): DatagramResult<DecodedDatagram> {
  const len = buf.byteLength;
  if (len > MAX_DATAGRAM_BYTES)
    return fail('too_long', `datagram of ${len} bytes exceeds ${MAX_DATAGRAM_BYTES}`);
  if (len < MIN_DATAGRAM_BYTES)
    return fail('too_short', `datagram of ${len} bytes is below ${MIN_DATAGRAM_BYTES}`);
  const view = new DataView(buf.buffer, buf.byteOffset, len);
  if (view.getUint16(0) !== DATAGRAM_MAGIC) return fail('bad_magic', 'not a CareWire vitals datagram');
  const version = buf[2]!;
  if (version !== DATAGRAM_VERSION) return fail('unsupported_version', `version ${version} is not supported`);
  const flags = buf[3]!;
  if ((flags & ~KNOWN_FLAGS) !== 0) return fail('unknown_flags', `unknown flag bits 0x${flags.toString(16)}`);
  const idBytes = buf[4]!;
  if (idBytes < 1 || idBytes > MAX_DEVICE_ID_BYTES) {
    return fail('bad_device_id', `device id length ${idBytes} outside 1..${MAX_DEVICE_ID_BYTES}`);
  }
  // Everything up to and including the count byte, then measurements and tag.
  const headerEnd = FIXED_HEADER_BYTES + idBytes;
  if (len < headerEnd + TAG_BYTES) return fail('truncated', `datagram ends inside the header`);
  const idView = buf.subarray(5, 5 + idBytes);
  // isUtf8 refuses bad UTF-8 without an exception (TextDecoder's fatal mode throws, which is slow).
  if (!isUtf8(idView)) return fail('bad_device_id', 'device id is not valid UTF-8');
  const deviceId = Buffer.from(idView.buffer, idView.byteOffset, idBytes).toString('utf8');
  if (hasControlChar(deviceId)) return fail('bad_device_id', 'device id contains a control character');
  let o = 5 + idBytes;
  const sequence = readU53(view, o);
  if (sequence < 0) return fail('sequence_out_of_range', 'sequence above 2^53-1');
  const timestamp = readU53(view, o + 8);
  if (timestamp < 0) return fail('bad_timestamp', 'timestamp above 2^53-1');
  o += 16;
  const count = buf[o++]!;
  if (count > MAX_MEASUREMENTS)
    return fail('too_many_measurements', `${count} measurements, at most ${MAX_MEASUREMENTS}`);
  const expected = headerEnd + count * MEASUREMENT_BYTES + TAG_BYTES;
  if (len < expected) return fail('truncated', `datagram of ${len} bytes, header says ${expected}`);
  if (len > expected) return fail('trailing_bytes', `${len - expected} bytes after the tag`);

  const measurements: Measurement[] = new Array(count);
  for (let i = 0; i < count; i++) {
    const code = view.getUint16(o);
    if (code === 0) return fail('bad_code', 'measurement code 0 is reserved');
    const value = view.getFloat64(o + 2);
    if (!Number.isFinite(value)) return fail('bad_value', `value for code ${code} is not finite`);
    // Counts are tiny (≤ 64), so a quadratic scan beats allocating a Set per datagram.
    for (let j = 0; j < i; j++) {
      if (measurements[j]!.code === code) return fail('duplicate_code', `code ${code} appears twice`);
    }
    measurements[i] = { code, value };
    o += MEASUREMENT_BYTES;
  }
  return {
    ok: true,
    value: {
      version,
      flags,
      deviceId,
      sequence,
      timestamp,
      measurements,
      signed: buf.subarray(0, o),
      tag: buf.subarray(o, o + TAG_BYTES),
    },
  };
}

/** Checks the tag in constant time; returns the authenticated message or a `bad_tag` error. */
export function verifyDatagram(decoded: DecodedDatagram, key: DeviceKey): DatagramResult<VerifiedDatagram> {
  if (keyLength(key) < MIN_KEY_BYTES)
    return fail('weak_key', `device key must be at least ${MIN_KEY_BYTES} bytes`);
  if (decoded.tag.byteLength !== TAG_BYTES) return fail('bad_tag', 'tag has the wrong length');
  const expected = computeTag(key, decoded.signed);
  if (!timingSafeEqual(expected, decoded.tag)) return fail('bad_tag', 'tag does not match the device key');
  return {
    ok: true,
    value: {
      verified: true,
      version: decoded.version,
      flags: decoded.flags,
      deviceId: decoded.deviceId,
      sequence: decoded.sequence,
      timestamp: decoded.timestamp,
      measurements: decoded.measurements,
    },
  };
}

/**
 * Decode, find the key, verify: the whole receive path in one call. `lookupKey` returns undefined
 * for a device that is not registered, which becomes an `unknown_device` error.
 */
export function openDatagram(
  buf: Uint8Array,
  lookupKey: (deviceId: string) => DeviceKey | undefined,
): DatagramResult<VerifiedDatagram> {
  const decoded = decodeDatagram(buf);
  if (!decoded.ok) return decoded;
  const key = lookupKey(decoded.value.deviceId);
  if (key === undefined) return fail('unknown_device', 'device is not registered');
  return verifyDatagram(decoded.value, key);
}
