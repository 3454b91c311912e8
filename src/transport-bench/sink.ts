/**
 * Counts the datagrams of a UDP rate step on the server side: how many arrived, how many came
 * after a higher sequence number (reordered), how many twice. One run at a time: a datagram of a
 * new run id starts fresh counters, so a late straggler of the previous step cannot inflate the next.
 */
import { SINK_HEADER_BYTES, type SinkStats } from './protocol.ts';

/** Duplicate detection covers this many sequence numbers per run (1 MiB of bits). */
const SEEN_BITS = 8 * 1024 * 1024;

export class UdpSinkCounter {
  private run = -1;
  private received = 0;
  private reordered = 0;
  private duplicates = 0;
  private highest = -1;
  private readonly seen = new Uint8Array(SEEN_BITS / 8);
  /** Datagrams too short to carry the header; counted so a broken sender is visible. */
  malformed = 0;

  add(msg: Buffer): void {
    if (msg.length < SINK_HEADER_BYTES) {
      this.malformed++;
      return;
    }
    const run = msg.readUInt32BE(0);
    const seq = msg.readUInt32BE(4);
    if (run !== this.run) this.reset(run);
    if (seq < SEEN_BITS) {
      const byte = seq >>> 3;
      const bit = 1 << (seq & 7);
      if (this.seen[byte]! & bit) {
        this.duplicates++;
        return;
      }
      this.seen[byte]! |= bit;
    }
    this.received++;
    if (seq < this.highest) this.reordered++;
    else this.highest = seq;
  }

  stats(run: number): SinkStats {
    if (run !== this.run) return { run, received: 0, reordered: 0, duplicates: 0, highestSeq: -1 };
    return {
      run,
      received: this.received,
      reordered: this.reordered,
      duplicates: this.duplicates,
      highestSeq: this.highest,
    };
  }

  private reset(run: number): void {
    this.run = run;
    this.received = 0;
    this.reordered = 0;
    this.duplicates = 0;
    this.highest = -1;
    this.seen.fill(0);
  }
}
