/**
 * Frames of the TCP (TLS) alarm channel: a pure codec and a streaming decoder. Layout and the
 * session flow are in docs/protocols/telemetry.md.
 *
 *   length u32 BE (1..MAX_FRAME_PAYLOAD) | type u8 | JSON body (UTF-8)
 *
 * Bodies are JSON because alarms are rare (a few per minute per bed) and carry free text: here
 * readability in a packet capture, easy extension and one schema shared with the HTTP API matter
 * more than bytes. The hot path (vitals) is the binary UDP datagram.
 */
import { isUtf8 } from 'node:buffer';
import { createHmac, timingSafeEqual } from 'node:crypto';
import {
  type AckBody,
  type ChallengeBody,
  type DeviceAlarm,
  type ErrorBody,
  type HelloBody,
  type NakBody,
  type PingBody,
  pickAlarm,
  validators,
  type WelcomeBody,
} from './alarm-frame-schema.ts';
import type { DeviceKey } from './datagram.ts';
import { withoutStack } from './input-error.ts';

export { ALARM_PROTOCOL_VERSION, type DeviceAlarm } from './alarm-frame-schema.ts';

/** A whole frame, length prefix included, is at most 64 KiB. */
export const MAX_FRAME_BYTES = 64 * 1024;
export const LENGTH_BYTES = 4;
export const MAX_FRAME_PAYLOAD = MAX_FRAME_BYTES - LENGTH_BYTES;

export const FRAME_TYPE_CODES = {
  challenge: 0x01,
  hello: 0x02,
  welcome: 0x03,
  alarm: 0x10,
  ack: 0x11,
  nak: 0x12,
  ping: 0x20,
  pong: 0x21,
  error: 0x7f,
} as const;

export type FrameType = keyof typeof FRAME_TYPE_CODES;

const typeByCode = new Map<number, FrameType>(
  Object.entries(FRAME_TYPE_CODES).map(([name, code]) => [code, name as FrameType]),
);

export type AlarmChannelFrame =
  | ({ type: 'challenge' } & ChallengeBody)
  | ({ type: 'hello' } & HelloBody)
  | ({ type: 'welcome' } & WelcomeBody)
  | { type: 'alarm'; alarm: DeviceAlarm }
  | ({ type: 'ack' } & AckBody)
  | ({ type: 'nak' } & NakBody)
  | ({ type: 'ping' } & PingBody)
  | ({ type: 'pong' } & PingBody)
  | ({ type: 'error' } & ErrorBody);

export type FrameErrorReason =
  /** Length prefix above the bound: fatal, the stream cannot be re-synchronised. */
  | 'frame_too_large'
  /** Length prefix 0: fatal, a frame always has a type byte. */
  | 'empty_frame'
  /** Stream ended inside a frame (from `end()`). */
  | 'truncated'
  /** Unknown type byte: the frame was skipped, the stream is still in step. */
  | 'unknown_type'
  /** Body is not UTF-8 JSON of the right shape: the frame was skipped. */
  | 'bad_body';

export class FrameError extends Error {
  readonly reason: FrameErrorReason;
  /** When true the byte stream is unusable: send an ERROR frame and close. */
  readonly fatal: boolean;
  /** Type of the offending frame, when known. */
  readonly frameType: FrameType | undefined;
  readonly #explain: (() => string) | undefined;
  constructor(
    reason: FrameErrorReason,
    message: string,
    fatal: boolean,
    frameType?: FrameType,
    explain?: () => string,
  ) {
    super(message);
    this.name = 'FrameError';
    this.reason = reason;
    this.fatal = fatal;
    this.frameType = frameType;
    this.#explain = explain;
  }

  /**
   * Which field was wrong, computed on demand: listing schema errors costs ~50× a successful
   * parse, so it is only paid when someone logs it (rate-limited), not for every bad frame.
   */
  get detail(): string {
    return this.#explain?.() ?? this.message;
  }
}

export type FrameEvent =
  | { readonly ok: true; readonly frame: AlarmChannelFrame }
  | { readonly ok: false; readonly error: FrameError };

function bodyOf(frame: AlarmChannelFrame): unknown {
  if (frame.type === 'alarm') return frame.alarm;
  const { type: _type, ...body } = frame;
  return body;
}

/** Throws FrameError when the frame is invalid or too large: the sender is our own code. */
export function encodeFrame(frame: AlarmChannelFrame): Buffer {
  const body = bodyOf(frame);
  if (!validators[frame.type === 'pong' ? 'ping' : frame.type].Check(body)) {
    throw new FrameError('bad_body', `invalid ${frame.type} frame body`, false, frame.type);
  }
  const json = JSON.stringify(body);
  const bodyBytes = Buffer.byteLength(json, 'utf8');
  const payload = 1 + bodyBytes;
  if (payload > MAX_FRAME_PAYLOAD) {
    throw new FrameError(
      'frame_too_large',
      `${frame.type} frame of ${payload} bytes exceeds ${MAX_FRAME_PAYLOAD}`,
      false,
      frame.type,
    );
  }
  const buf = Buffer.allocUnsafe(LENGTH_BYTES + payload);
  buf.writeUInt32BE(payload, 0);
  buf[4] = FRAME_TYPE_CODES[frame.type];
  buf.write(json, 5, 'utf8');
  return buf;
}

function inputError(
  reason: FrameErrorReason,
  message: string,
  fatal: boolean,
  frameType?: FrameType,
  explain?: () => string,
): { ok: false; error: FrameError } {
  return { ok: false, error: withoutStack(() => new FrameError(reason, message, fatal, frameType, explain)) };
}

const NOT_JSON = Symbol('not JSON');

/** JSON.parse without the stack trace its SyntaxError would capture (see input-error.ts). */
function parseJson(text: string): unknown {
  const limit = Error.stackTraceLimit;
  Error.stackTraceLimit = 0;
  try {
    return JSON.parse(text);
  } catch {
    return NOT_JSON;
  } finally {
    Error.stackTraceLimit = limit;
  }
}

/** Parses one frame payload (type byte + body). Never throws. */
export function parseFramePayload(payload: Uint8Array): FrameEvent {
  if (payload.byteLength === 0) return inputError('empty_frame', 'frame without a type byte', true);
  const type = typeByCode.get(payload[0]!);
  if (type === undefined)
    return inputError('unknown_type', `unknown frame type 0x${payload[0]!.toString(16)}`, false);
  const bytes = payload.subarray(1);
  // isUtf8 refuses bad UTF-8 without an exception (TextDecoder's fatal mode throws, which is slow).
  if (!isUtf8(bytes)) return inputError('bad_body', `${type} body is not UTF-8`, false, type);
  const body = parseJson(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('utf8'));
  if (body === NOT_JSON) return inputError('bad_body', `${type} body is not JSON`, false, type);
  const validator = validators[type === 'pong' ? 'ping' : type];
  if (!validator.Check(body)) {
    const explain = () => {
      const first = validator.Errors(body)[0];
      return `${type} body: ${first ? `${first.instancePath || '/'} ${first.message}` : 'does not match the schema'}`;
    };
    return inputError('bad_body', `${type} body does not match the schema`, false, type, explain);
  }
  return { ok: true, frame: toFrame(type, body) };
}

// The validator has checked `body` against the schema of `type`; these casts only name that fact.
function toFrame(type: FrameType, body: unknown): AlarmChannelFrame {
  switch (type) {
    case 'alarm':
      return { type, alarm: pickAlarm(body as DeviceAlarm) };
    case 'challenge': {
      const b = body as ChallengeBody;
      return { type, protocol: b.protocol, nonce: b.nonce, serverTime: b.serverTime };
    }
    case 'hello': {
      const b = body as HelloBody;
      const f: AlarmChannelFrame = {
        type,
        protocol: b.protocol,
        deviceId: b.deviceId,
        clientTime: b.clientTime,
      };
      if (b.mac !== undefined) f.mac = b.mac;
      return f;
    }
    case 'welcome': {
      const b = body as WelcomeBody;
      return { type, serverTime: b.serverTime, maxFrameBytes: b.maxFrameBytes, heartbeatMs: b.heartbeatMs };
    }
    case 'ack': {
      const b = body as AckBody;
      return { type, alarmId: b.alarmId, event: b.event, duplicate: b.duplicate };
    }
    case 'nak': {
      const b = body as NakBody;
      return { type, alarmId: b.alarmId, event: b.event, code: b.code, message: b.message, retry: b.retry };
    }
    case 'ping':
    case 'pong':
      return { type, nonce: (body as PingBody).nonce };
    case 'error': {
      const b = body as ErrorBody;
      return { type, code: b.code, message: b.message };
    }
  }
}

/**
 * Streaming decoder: feed it whatever the socket delivers (any split point, several frames per
 * chunk) and get complete frames back. Chunks are kept in a list and copied once per frame, so a
 * frame arriving one byte at a time costs O(size), not O(size²). After a fatal error it stops
 * accepting input; the owner should send an ERROR frame and close the connection.
 */
export class AlarmFrameDecoder {
  readonly maxPayload: number;
  #chunks: Buffer[] = [];
  #buffered = 0;
  /** Payload length of the frame being read, or -1 while waiting for a length prefix. */
  #need = -1;
  #failed: FrameError | null = null;

  constructor(options: { maxPayload?: number } = {}) {
    const max = options.maxPayload ?? MAX_FRAME_PAYLOAD;
    if (!Number.isInteger(max) || max < 1 || max > MAX_FRAME_PAYLOAD) {
      throw new RangeError(`maxPayload must be 1..${MAX_FRAME_PAYLOAD}`);
    }
    this.maxPayload = max;
  }

  /** Bytes received but not yet part of a returned frame (bounded by maxPayload + 4 + one chunk). */
  get bufferedBytes(): number {
    return this.#buffered;
  }

  get failed(): FrameError | null {
    return this.#failed;
  }

  /**
   * Feeds received bytes; returns the frames (and skipped-frame errors) they complete. The chunk is
   * kept by reference, not copied: do not reuse its memory afterwards (socket chunks are fresh).
   */
  push(chunk: Uint8Array): FrameEvent[] {
    if (this.#failed) return [];
    if (chunk.byteLength > 0) {
      this.#chunks.push(Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength));
      this.#buffered += chunk.byteLength;
    }
    const out: FrameEvent[] = [];
    for (;;) {
      if (this.#need < 0) {
        if (this.#buffered < LENGTH_BYTES) break;
        const len = this.#take(LENGTH_BYTES).readUInt32BE(0);
        if (len === 0 || len > this.maxPayload) {
          const r =
            len === 0
              ? inputError('empty_frame', 'frame length 0', true)
              : inputError('frame_too_large', `frame length ${len} exceeds ${this.maxPayload}`, true);
          this.#fail(r.error);
          out.push(r);
          break;
        }
        this.#need = len;
      }
      if (this.#buffered < this.#need) break;
      const payload = this.#take(this.#need);
      this.#need = -1;
      out.push(parseFramePayload(payload));
    }
    return out;
  }

  /** Call when the peer closed: reports a frame cut off in the middle, if any. */
  end(): FrameError | null {
    if (this.#failed) return null;
    if (this.#buffered > 0 || this.#need >= 0) {
      const error = new FrameError(
        'truncated',
        `connection closed inside a frame (${this.#buffered} bytes buffered)`,
        true,
      );
      this.#fail(error);
      return error;
    }
    return null;
  }

  #fail(error: FrameError): void {
    this.#failed = error;
    this.#chunks = [];
    this.#buffered = 0;
  }

  /** Removes n buffered bytes from the front; caller ensures n ≤ buffered. */
  #take(n: number): Buffer {
    this.#buffered -= n;
    const first = this.#chunks[0]!;
    if (first.byteLength >= n) {
      if (first.byteLength === n) this.#chunks.shift();
      else this.#chunks[0] = first.subarray(n);
      return first.subarray(0, n);
    }
    const out = Buffer.allocUnsafe(n);
    let o = 0;
    while (o < n) {
      const c = this.#chunks[0]!;
      const k = Math.min(c.byteLength, n - o);
      c.copy(out, o, 0, k);
      o += k;
      if (k === c.byteLength) this.#chunks.shift();
      else this.#chunks[0] = c.subarray(k);
    }
    return out;
  }
}

const HELLO_LABEL = 'carewire-alarm-hello/1';

/**
 * Proof that the device holds its key, bound to the server's fresh challenge nonce: base64url of
 * HMAC-SHA256(key, label ‖ deviceId ‖ nonce ‖ clientTime). The label keeps this MAC apart from
 * datagram tags made with the same key (a datagram starts with "CW", never with the label).
 */
export function helloMac(key: DeviceKey, deviceId: string, nonce: string, clientTime: number): string {
  return createHmac('sha256', key)
    .update(`${HELLO_LABEL}\n${deviceId}\n${nonce}\n${clientTime}`)
    .digest('base64url');
}

/** Constant-time check of a HELLO's mac against the nonce this connection was challenged with. */
export function verifyHelloMac(key: DeviceKey, hello: HelloBody, nonce: string): boolean {
  if (hello.mac === undefined) return false;
  const expected = Buffer.from(helloMac(key, hello.deviceId, nonce, hello.clientTime), 'base64url');
  const got = Buffer.from(hello.mac, 'base64url');
  return got.byteLength === expected.byteLength && timingSafeEqual(got, expected);
}
