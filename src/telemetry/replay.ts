/**
 * Per-device sequence tracking and replay protection for verified vitals datagrams. Pure: the
 * receiver's clock is passed in with every call, and the only state is the tracker's own.
 *
 * The window is the sliding bitmap of IPsec and DTLS (RFC 4303 §3.4.3, RFC 6347 §4.1.2.6), laid out
 * as a ring as in RFC 6479 so that moving forward clears only the slots it passes: a sequence
 * number above the highest seen is accepted and moves the window; one inside the window is accepted
 * once; one below the window, or seen already, is refused. A timestamp further than `maxSkewMs`
 * from the receiver's clock is refused before the window is touched, which also bounds what an
 * attacker can replay after a restart empties the window (see docs/protocols/telemetry.md).
 *
 * Loss accounting is exact: for each run of sequence numbers (a "session"), lost = (highest −
 * lowest + 1) − accepted. A datagram that arrives late but inside the window is counted as
 * reordered and stops being lost; one that arrives after falling out of the window stays lost.
 */

export interface ReplayOptions {
  /** Bitmap width in sequence numbers; a multiple of 32 in 32..65536. Default 1024. */
  readonly windowSize?: number;
  /** Largest allowed |device timestamp − receiver clock|, in ms. Default 30 000. */
  readonly maxSkewMs?: number;
  /**
   * A forward jump larger than this starts a new session (the device restarted with a fresh
   * time-based counter, see initialSequence) instead of counting the gap as lost. Default 2^20.
   */
  readonly resyncGap?: number;
  /**
   * Highest sequence number accepted before this tracker was created (e.g. read from the store at
   * start-up). Everything at or below it is refused; gaps after it count as lost.
   */
  readonly resumeAfter?: number;
}

export type AcceptKind = 'first' | 'next' | 'gap' | 'reordered' | 'resync';
export type RefuseReason = 'duplicate' | 'too_old' | 'stale_timestamp' | 'future_timestamp';

export type ReplayVerdict =
  | { readonly accepted: true; readonly kind: AcceptKind }
  | { readonly accepted: false; readonly reason: RefuseReason };

export interface SequenceStats {
  readonly accepted: number;
  /** Sequence numbers skipped and not (yet) received, over all sessions. */
  readonly lost: number;
  /** Accepted datagrams that arrived after a higher sequence number. */
  readonly reordered: number;
  /** Refused because the sequence number was already seen. */
  readonly duplicates: number;
  /** Refused because the sequence number was below the window. */
  readonly tooOld: number;
  /** Refused because the timestamp was outside ±maxSkewMs. */
  readonly skewed: number;
  readonly resyncs: number;
  /** Highest accepted sequence number, or -1 before the first. */
  readonly highest: number;
}

export const DEFAULT_WINDOW_SIZE = 1024;
export const DEFAULT_MAX_SKEW_MS = 30_000;
export const DEFAULT_RESYNC_GAP = 2 ** 20;

const ACCEPT_FIRST: ReplayVerdict = { accepted: true, kind: 'first' };
const ACCEPT_NEXT: ReplayVerdict = { accepted: true, kind: 'next' };
const ACCEPT_GAP: ReplayVerdict = { accepted: true, kind: 'gap' };
const ACCEPT_REORDERED: ReplayVerdict = { accepted: true, kind: 'reordered' };
const ACCEPT_RESYNC: ReplayVerdict = { accepted: true, kind: 'resync' };

function refuse(reason: RefuseReason): ReplayVerdict {
  return { accepted: false, reason };
}

export class SequenceTracker {
  readonly windowSize: number;
  readonly maxSkewMs: number;
  readonly resyncGap: number;
  readonly #bits: Uint32Array;
  #highest = -1;
  // Current session: lowest accepted (or implied) number and how many were accepted.
  #lowest = 0;
  #sessionAccepted = 0;
  // Losses of sessions that ended with a resync: they can no longer be filled in.
  #lostBefore = 0;
  #accepted = 0;
  #reordered = 0;
  #duplicates = 0;
  #tooOld = 0;
  #skewed = 0;
  #resyncs = 0;

  constructor(options: ReplayOptions = {}) {
    const w = options.windowSize ?? DEFAULT_WINDOW_SIZE;
    if (!Number.isInteger(w) || w < 32 || w > 65536 || w % 32 !== 0) {
      throw new RangeError('windowSize must be a multiple of 32 in 32..65536');
    }
    const skew = options.maxSkewMs ?? DEFAULT_MAX_SKEW_MS;
    if (!(skew >= 0)) throw new RangeError('maxSkewMs must be ≥ 0');
    const gap = options.resyncGap ?? DEFAULT_RESYNC_GAP;
    if (!(gap >= w)) throw new RangeError('resyncGap must be at least the window size');
    this.windowSize = w;
    this.maxSkewMs = skew;
    this.resyncGap = gap;
    this.#bits = new Uint32Array(w / 32);
    if (options.resumeAfter !== undefined) {
      if (!Number.isSafeInteger(options.resumeAfter) || options.resumeAfter < 0) {
        throw new RangeError('resumeAfter must be a sequence number');
      }
      // What happened inside the old window is unknown, so treat all of it as seen.
      this.#bits.fill(0xffff_ffff);
      this.#highest = options.resumeAfter;
      this.#lowest = options.resumeAfter + 1;
    }
  }

  /**
   * Decides whether a verified datagram is fresh and, if so, records it. Call only after the tag
   * was verified: an unauthenticated sequence number must never move the window.
   */
  check(sequence: number, timestamp: number, nowMs: number): ReplayVerdict {
    const skew = timestamp - nowMs;
    if (skew > this.maxSkewMs) {
      this.#skewed++;
      return refuse('future_timestamp');
    }
    if (skew < -this.maxSkewMs) {
      this.#skewed++;
      return refuse('stale_timestamp');
    }
    const w = this.windowSize;
    const h = this.#highest;
    if (h < 0) {
      this.#highest = sequence;
      this.#lowest = sequence;
      this.#mark(sequence);
      this.#count();
      return ACCEPT_FIRST;
    }
    if (sequence > h) {
      const jump = sequence - h;
      if (jump > this.resyncGap) {
        this.#lostBefore += this.#sessionLost();
        this.#lowest = sequence;
        this.#sessionAccepted = 0;
        this.#resyncs++;
      }
      if (jump >= w) this.#bits.fill(0);
      else for (let s = h + 1; s < sequence; s++) this.#clear(s);
      this.#highest = sequence;
      this.#mark(sequence);
      this.#count();
      if (jump > this.resyncGap) return ACCEPT_RESYNC;
      return jump === 1 ? ACCEPT_NEXT : ACCEPT_GAP;
    }
    if (h - sequence >= w) {
      this.#tooOld++;
      return refuse('too_old');
    }
    if (this.#isSet(sequence)) {
      this.#duplicates++;
      return refuse('duplicate');
    }
    this.#mark(sequence);
    if (sequence < this.#lowest) this.#lowest = sequence;
    this.#count();
    this.#reordered++;
    return ACCEPT_REORDERED;
  }

  stats(): SequenceStats {
    return {
      accepted: this.#accepted,
      lost: this.#lostBefore + this.#sessionLost(),
      reordered: this.#reordered,
      duplicates: this.#duplicates,
      tooOld: this.#tooOld,
      skewed: this.#skewed,
      resyncs: this.#resyncs,
      highest: this.#highest,
    };
  }

  #sessionLost(): number {
    if (this.#highest < this.#lowest) return 0;
    return this.#highest - this.#lowest + 1 - this.#sessionAccepted;
  }

  #count(): void {
    this.#accepted++;
    this.#sessionAccepted++;
  }

  #mark(s: number): void {
    const i = s % this.windowSize;
    this.#bits[i >>> 5]! |= 1 << (i & 31);
  }

  #clear(s: number): void {
    const i = s % this.windowSize;
    this.#bits[i >>> 5]! &= ~(1 << (i & 31));
  }

  #isSet(s: number): boolean {
    const i = s % this.windowSize;
    return (this.#bits[i >>> 5]! & (1 << (i & 31))) !== 0;
  }
}

/**
 * One tracker per device. Only verified datagrams of registered devices reach it, so its size is
 * bounded by the device registry; `forget` drops a device that was removed.
 */
export class ReplayGuard {
  readonly #trackers = new Map<string, SequenceTracker>();
  readonly #options: ReplayOptions;

  constructor(options: Omit<ReplayOptions, 'resumeAfter'> = {}) {
    // Build one tracker now so bad options fail at start-up rather than on the first datagram.
    new SequenceTracker(options);
    this.#options = options;
  }

  /** Starts a device's tracker from a persisted high-water mark (after a restart). */
  resume(deviceId: string, resumeAfter: number): void {
    this.#trackers.set(deviceId, new SequenceTracker({ ...this.#options, resumeAfter }));
  }

  check(deviceId: string, sequence: number, timestamp: number, nowMs: number): ReplayVerdict {
    let t = this.#trackers.get(deviceId);
    if (t === undefined) {
      t = new SequenceTracker(this.#options);
      this.#trackers.set(deviceId, t);
    }
    return t.check(sequence, timestamp, nowMs);
  }

  stats(deviceId: string): SequenceStats | undefined {
    return this.#trackers.get(deviceId)?.stats();
  }

  /** Sums over all devices (for /metrics); `highest` is meaningless there and reported as -1. */
  totals(): SequenceStats {
    let accepted = 0;
    let lost = 0;
    let reordered = 0;
    let duplicates = 0;
    let tooOld = 0;
    let skewed = 0;
    let resyncs = 0;
    for (const t of this.#trackers.values()) {
      const s = t.stats();
      accepted += s.accepted;
      lost += s.lost;
      reordered += s.reordered;
      duplicates += s.duplicates;
      tooOld += s.tooOld;
      skewed += s.skewed;
      resyncs += s.resyncs;
    }
    return { accepted, lost, reordered, duplicates, tooOld, skewed, resyncs, highest: -1 };
  }

  forget(deviceId: string): void {
    this.#trackers.delete(deviceId);
  }

  get size(): number {
    return this.#trackers.size;
  }
}
