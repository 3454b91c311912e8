// MLLP (Minimal Lower Layer Protocol, HL7 v2 Transport Specification, release 2) framing:
//   <VT 0x0B> message bytes <FS 0x1C><CR 0x0D>
// The deframer works on bytes, so a multi-byte UTF-8 character split across TCP chunks is simply
// carried over; decoding is the codec's job once a whole frame is there.

import { Buffer } from 'node:buffer';
import { MllpError } from './errors.ts';

export const MLLP_START = 0x0b;
export const MLLP_END = 0x1c;
export const MLLP_CR = 0x0d;
/** Default maximum frame size: 1 MiB of message bytes (between the start and end blocks). */
export const DEFAULT_MAX_FRAME_SIZE = 1024 * 1024;

export interface MllpDeframerOptions {
  /** Maximum message bytes per frame; larger frames put the deframer in the failed state. */
  maxFrameSize?: number;
}

/**
 * Streaming MLLP deframer. Feed it every chunk read from the socket with `push`; it returns the
 * frames completed by that chunk, in order.
 *
 * - Bytes outside a frame (junk before a start block, stray newlines between frames) are skipped
 *   and counted in `skippedBytes`.
 * - A start block inside an unfinished frame means the sender gave up on that frame and started
 *   again: the partial frame is dropped (counted in `abortedFrames` and `skippedBytes`).
 * - An FS not followed by CR is message data.
 * - When a frame grows beyond `maxFrameSize`, `error` is set (kind FRAME_TOO_LARGE), the partial
 *   frame is dropped and every later `push` returns nothing: NAK and close the connection. Frames
 *   completed earlier in the same chunk are still returned and should be answered first.
 *
 * Returned frames may share memory with the pushed chunks (no copy when a frame lies within one
 * chunk); do not modify a chunk after pushing it. A frame spread over several chunks is joined
 * once, when its end arrives, so the work is linear in the bytes received.
 */
export class MllpDeframer {
  readonly maxFrameSize: number;
  /** Bytes discarded outside frames (and of aborted frames). */
  skippedBytes = 0;
  /** Frames returned so far. */
  frameCount = 0;
  /** Unfinished frames dropped because a new start block arrived. */
  abortedFrames = 0;
  /** Set once a frame exceeded maxFrameSize; the deframer then ignores all further input. */
  error: MllpError | undefined = undefined;

  #inFrame = false;
  #parts: Buffer[] = [];
  #length = 0;
  /** The previous chunk ended with FS inside a frame; the next byte decides whether it was the end. */
  #pendingEnd = false;

  constructor(options?: MllpDeframerOptions) {
    const max = options?.maxFrameSize ?? DEFAULT_MAX_FRAME_SIZE;
    if (!Number.isInteger(max) || max < 1)
      throw new RangeError(`maxFrameSize must be a positive integer, got ${max}`);
    this.maxFrameSize = max;
  }

  /** Bytes of the unfinished frame currently held. */
  get bufferedBytes(): number {
    return this.#length + (this.#pendingEnd ? 1 : 0);
  }

  /** Whether a frame has started and not yet ended. */
  get inFrame(): boolean {
    return this.#inFrame;
  }

  #append(part: Buffer): boolean {
    if (part.length === 0) return true;
    this.#parts.push(part);
    this.#length += part.length;
    return this.#checkSize(this.#length);
  }

  #checkSize(length: number): boolean {
    if (length <= this.maxFrameSize) return true;
    this.error = new MllpError(
      'FRAME_TOO_LARGE',
      `MLLP frame exceeds the maximum of ${this.maxFrameSize} bytes`,
      this.maxFrameSize,
    );
    this.#reset();
    return false;
  }

  #reset(): void {
    this.#inFrame = false;
    this.#parts = [];
    this.#length = 0;
    this.#pendingEnd = false;
  }

  #take(last: Buffer): Buffer {
    const parts = this.#parts;
    let frame: Buffer;
    if (parts.length === 0) frame = last;
    else {
      parts.push(last);
      frame = Buffer.concat(parts, this.#length + last.length);
    }
    this.#parts = [];
    this.#length = 0;
    this.#inFrame = false;
    this.frameCount++;
    return frame;
  }

  /** Feeds one chunk; returns the frames it completed (possibly none). */
  push(chunk: Uint8Array): Buffer[] {
    const out: Buffer[] = [];
    if (this.error) return out;
    const buf = Buffer.isBuffer(chunk)
      ? chunk
      : Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
    const n = buf.length;
    let i = 0;
    if (this.#pendingEnd && n > 0) {
      this.#pendingEnd = false;
      if (buf[0] === MLLP_CR) {
        out.push(this.#take(Buffer.alloc(0)));
        i = 1;
      } else if (!this.#append(Buffer.of(MLLP_END))) {
        return out;
      }
    }
    // Positions of the next start / end block, cached so that each byte is scanned a bounded number of times.
    let nextStart = -2;
    let nextEnd = -2;
    while (i < n) {
      if (nextStart !== -1 && nextStart < i) nextStart = buf.indexOf(MLLP_START, i);
      if (!this.#inFrame) {
        if (nextStart < 0) {
          this.skippedBytes += n - i;
          break;
        }
        this.skippedBytes += nextStart - i;
        this.#inFrame = true;
        i = nextStart + 1;
        continue;
      }
      if (nextEnd !== -1 && nextEnd < i) nextEnd = buf.indexOf(MLLP_END, i);
      if (nextStart >= 0 && (nextEnd < 0 || nextStart < nextEnd)) {
        // A new frame starts before this one ended: drop the partial frame.
        this.abortedFrames++;
        this.skippedBytes += this.#length + (nextStart - i);
        this.#parts = [];
        this.#length = 0;
        i = nextStart + 1;
        continue;
      }
      if (nextEnd < 0) {
        this.#append(buf.subarray(i));
        break;
      }
      if (nextEnd === n - 1) {
        if (this.#append(buf.subarray(i, nextEnd))) this.#pendingEnd = true;
        break;
      }
      if (buf[nextEnd + 1] === MLLP_CR) {
        if (!this.#checkSize(this.#length + (nextEnd - i))) return out;
        out.push(this.#take(buf.subarray(i, nextEnd)));
        i = nextEnd + 2;
        continue;
      }
      // FS without CR is data.
      if (!this.#append(buf.subarray(i, nextEnd + 1))) return out;
      i = nextEnd + 1;
    }
    return out;
  }

  /**
   * Call when the connection ends: returns how many bytes of an unfinished frame were lost
   * (0 when the stream ended between frames) and resets the frame state.
   */
  end(): number {
    const lost = this.#inFrame ? this.bufferedBytes : 0;
    this.#reset();
    return lost;
  }
}

/** Wraps one message in an MLLP frame. Refuses payloads containing VT or FS, which would break framing. */
export function frame(payload: Uint8Array | string): Buffer {
  const body = typeof payload === 'string' ? Buffer.from(payload, 'utf8') : payload;
  if (body.indexOf(MLLP_START) >= 0 || body.indexOf(MLLP_END) >= 0) {
    throw new MllpError('INVALID_PAYLOAD', 'payload contains an MLLP start (0x0B) or end (0x1C) byte');
  }
  const out = Buffer.allocUnsafe(body.length + 3);
  out[0] = MLLP_START;
  out.set(body, 1);
  out[body.length + 1] = MLLP_END;
  out[body.length + 2] = MLLP_CR;
  return out;
}
