import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ReplayGuard, SequenceTracker } from '../../src/telemetry/replay.ts';

const NOW = 1_763_700_000_000;

function feed(t: SequenceTracker, seqs: number[]) {
  return seqs.map((s) => t.check(s, NOW, NOW));
}

describe('SequenceTracker', () => {
  it('accepts in-order sequence numbers and counts nothing lost', () => {
    const t = new SequenceTracker();
    expect(feed(t, [10, 11, 12]).map((v) => v.accepted && v.kind)).toEqual(['first', 'next', 'next']);
    expect(t.stats()).toMatchObject({ accepted: 3, lost: 0, reordered: 0, duplicates: 0, highest: 12 });
  });

  it('counts a gap as lost and a late arrival as reordered (no longer lost)', () => {
    const t = new SequenceTracker();
    feed(t, [1, 2, 5]);
    expect(t.stats().lost).toBe(2);
    expect(t.check(3, NOW, NOW)).toEqual({ accepted: true, kind: 'reordered' });
    expect(t.stats()).toMatchObject({ lost: 1, reordered: 1, accepted: 4 });
  });

  it('refuses duplicates and counts them', () => {
    const t = new SequenceTracker();
    feed(t, [1, 2, 3]);
    expect(t.check(2, NOW, NOW)).toEqual({ accepted: false, reason: 'duplicate' });
    expect(t.check(3, NOW, NOW)).toEqual({ accepted: false, reason: 'duplicate' });
    expect(t.stats()).toMatchObject({ duplicates: 2, accepted: 3 });
  });

  it('window edge: highest − (W−1) is accepted once, highest − W is too old', () => {
    const t = new SequenceTracker({ windowSize: 64 });
    t.check(1000, NOW, NOW);
    expect(t.check(1000 - 63, NOW, NOW).accepted).toBe(true);
    expect(t.check(1000 - 63, NOW, NOW)).toEqual({ accepted: false, reason: 'duplicate' });
    expect(t.check(1000 - 64, NOW, NOW)).toEqual({ accepted: false, reason: 'too_old' });
    expect(t.check(0, NOW, NOW)).toEqual({ accepted: false, reason: 'too_old' });
    expect(t.stats().tooOld).toBe(2);
  });

  it('moving the window forgets slots that left it and keeps those still inside', () => {
    const t = new SequenceTracker({ windowSize: 32 });
    feed(t, [0, 1, 2, 3]);
    t.check(33, NOW, NOW); // window is now 2..33
    expect(t.check(1, NOW, NOW).accepted).toBe(false);
    expect(t.check(2, NOW, NOW)).toEqual({ accepted: false, reason: 'duplicate' });
    expect(t.check(20, NOW, NOW)).toEqual({ accepted: true, kind: 'reordered' });
    t.check(33 + 32 + 5, NOW, NOW); // jump ≥ W clears everything
    expect(t.check(33 + 32 + 4, NOW, NOW)).toEqual({ accepted: true, kind: 'reordered' });
  });

  it('refuses timestamps beyond ±maxSkew, accepts exactly at the bound, and does not burn the sequence', () => {
    const t = new SequenceTracker({ maxSkewMs: 30_000 });
    expect(t.check(1, NOW + 30_001, NOW)).toEqual({ accepted: false, reason: 'future_timestamp' });
    expect(t.check(1, NOW - 30_001, NOW)).toEqual({ accepted: false, reason: 'stale_timestamp' });
    expect(t.check(1, NOW + 30_000, NOW).accepted).toBe(true);
    expect(t.check(2, NOW - 30_000, NOW).accepted).toBe(true);
    expect(t.stats()).toMatchObject({ skewed: 2, accepted: 2, highest: 2 });
    // A replay of an accepted datagram an hour later fails on time even with a fresh tracker.
    expect(new SequenceTracker().check(1, NOW, NOW + 3_600_000)).toEqual({
      accepted: false,
      reason: 'stale_timestamp',
    });
  });

  it('treats a huge forward jump as a device restart, not as loss', () => {
    const t = new SequenceTracker({ resyncGap: 1_000_000 });
    feed(t, [1, 2, 4]); // 3 is lost
    expect(t.check(5_000_000, NOW, NOW)).toEqual({ accepted: true, kind: 'resync' });
    t.check(5_000_002, NOW, NOW); // 5_000_001 lost
    expect(t.stats()).toMatchObject({ lost: 2, resyncs: 1, accepted: 5 });
    // A jump of exactly resyncGap is still counted as loss.
    const u = new SequenceTracker({ resyncGap: 1_000_000 });
    feed(u, [0, 1_000_000]);
    expect(u.stats()).toMatchObject({ lost: 999_999, resyncs: 0 });
  });

  it('resumes after a restart without accepting old numbers', () => {
    const t = new SequenceTracker({ resumeAfter: 500 });
    expect(t.check(500, NOW, NOW).accepted).toBe(false);
    expect(t.check(480, NOW, NOW).accepted).toBe(false);
    expect(t.check(503, NOW, NOW)).toEqual({ accepted: true, kind: 'gap' });
    expect(t.stats()).toMatchObject({ lost: 2, accepted: 1, highest: 503 });
  });

  it('validates its options', () => {
    expect(() => new SequenceTracker({ windowSize: 33 })).toThrow(RangeError);
    expect(() => new SequenceTracker({ windowSize: 16 })).toThrow(RangeError);
    expect(() => new SequenceTracker({ maxSkewMs: -1 })).toThrow(RangeError);
    expect(() => new SequenceTracker({ windowSize: 1024, resyncGap: 10 })).toThrow(RangeError);
    expect(() => new SequenceTracker({ resumeAfter: -5 })).toThrow(RangeError);
  });

  it('loss accounting is exact when the sender drops known datagrams', () => {
    const t = new SequenceTracker();
    let dropped = 0;
    for (let s = 0; s < 10_000; s++) {
      if (s % 97 === 13 || s % 1009 === 7) {
        dropped++;
        continue;
      }
      expect(t.check(s, NOW, NOW).accepted).toBe(true);
    }
    expect(t.stats()).toMatchObject({ lost: dropped, accepted: 10_000 - dropped, reordered: 0 });
  });

  it('agrees with a set-based reference model on any arrival order (property)', () => {
    const W = 64;
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 0, max: 300 }), { maxLength: 400 }), (seqs) => {
        const t = new SequenceTracker({ windowSize: W });
        const seen = new Set<number>();
        let highest = -1;
        let lowest = Number.POSITIVE_INFINITY;
        for (const s of seqs) {
          const expectAccept = highest < 0 || (s > highest - W && !seen.has(s));
          const v = t.check(s, NOW, NOW);
          expect(v.accepted).toBe(expectAccept);
          if (!v.accepted) expect(v.reason).toBe(s <= highest - W ? 'too_old' : 'duplicate');
          if (expectAccept) {
            seen.add(s);
            highest = Math.max(highest, s);
            lowest = Math.min(lowest, s);
          }
        }
        const st = t.stats();
        expect(st.accepted).toBe(seen.size);
        expect(st.lost).toBe(seen.size === 0 ? 0 : highest - lowest + 1 - seen.size);
      }),
      { numRuns: 500 },
    );
  });
});

describe('ReplayGuard', () => {
  it('tracks devices independently and sums their stats', () => {
    const g = new ReplayGuard({ windowSize: 64 });
    expect(g.check('a', 1, NOW, NOW).accepted).toBe(true);
    expect(g.check('b', 1, NOW, NOW).accepted).toBe(true);
    expect(g.check('a', 1, NOW, NOW).accepted).toBe(false);
    g.check('b', 4, NOW, NOW);
    expect(g.stats('a')).toMatchObject({ accepted: 1, duplicates: 1 });
    expect(g.stats('c')).toBeUndefined();
    expect(g.totals()).toMatchObject({ accepted: 3, duplicates: 1, lost: 2 });
    g.resume('a', 100);
    expect(g.check('a', 100, NOW, NOW).accepted).toBe(false);
    g.forget('b');
    expect(g.size).toBe(1);
    expect(() => new ReplayGuard({ windowSize: 7 })).toThrow(RangeError);
  });
});
