import { createHmac, createSecretKey } from 'node:crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  type DatagramError,
  type DatagramResult,
  decodeDatagram,
  encodeDatagram,
  FLAG_SIMULATED,
  importDeviceKey,
  initialSequence,
  MAX_DATAGRAM_BYTES,
  MAX_MEASUREMENTS,
  MIN_DATAGRAM_BYTES,
  openDatagram,
  type VitalsMessage,
  verifyDatagram,
} from '../../src/telemetry/datagram.ts';

const key = Buffer.alloc(32, 7);
const otherKey = Buffer.alloc(32, 8);

const sample: VitalsMessage = {
  deviceId: 'bed-12.monitor',
  sequence: 123_456_789_012,
  timestamp: 1_763_700_000_000,
  measurements: [
    { code: 1, value: 72 },
    { code: 4, value: 97 },
    { code: 5, value: 36.1 },
    { code: 6, value: 118 },
  ],
};

function errorOf<T>(r: DatagramResult<T>): DatagramError {
  if (r.ok) throw new Error('expected an error result');
  return r.error;
}

function open(buf: Uint8Array, k: Uint8Array = key) {
  const d = decodeDatagram(buf);
  return d.ok ? verifyDatagram(d.value, k) : d;
}

/** Sets the tag of a hand-modified datagram so only the structural check can refuse it. */
function resign(buf: Buffer): Buffer {
  const body = buf.subarray(0, buf.length - 16);
  const tag = createHmac('sha256', key).update(body).digest().subarray(0, 16);
  return Buffer.concat([body, tag]);
}

describe('datagram byte layout', () => {
  it('matches the byte table of docs/protocols/telemetry.md', () => {
    const msg: VitalsMessage = {
      deviceId: 'm1',
      sequence: 2 ** 32 + 5,
      timestamp: 1_000,
      measurements: [{ code: 4, value: 95.5 }],
      flags: FLAG_SIMULATED,
    };
    const hex = (h: string) => Buffer.from(h, 'hex');
    const header = Buffer.concat([
      hex('4357'), // magic "CW"
      hex('01'), // version
      hex('01'), // flags: simulated
      hex('02'), // device id length
      hex('6d31'), // "m1"
      hex('0000000100000005'), // sequence 2^32 + 5
      hex('00000000000003e8'), // timestamp 1000
      hex('01'), // one measurement
      hex('0004'), // code 4 (SpO2)
    ]);
    const value = Buffer.alloc(8);
    value.writeDoubleBE(95.5);
    const signed = Buffer.concat([header, value]);
    const tag = createHmac('sha256', key).update(signed).digest().subarray(0, 16);
    expect(encodeDatagram(msg, key).toString('hex')).toBe(Buffer.concat([signed, tag]).toString('hex'));
  });
});

describe('round trip', () => {
  it('decodes, verifies and returns exactly what was encoded', () => {
    const buf = encodeDatagram(sample, key);
    const d = decodeDatagram(buf);
    expect(d.ok && d.value.deviceId).toBe('bed-12.monitor');
    const v = open(buf);
    expect(v.ok).toBe(true);
    if (!v.ok) return;
    expect(v.value).toEqual({ verified: true, version: 1, flags: 0, ...sample });
    // float64 keeps the sender's number exactly: 36.1 stays 36.1 at the NEWS2 band edge.
    expect(v.value.measurements[2]!.value).toBe(36.1);
  });

  it('round-trips any valid message (property)', () => {
    const arbMsg = fc.record({
      deviceId: fc
        .string({ unit: 'grapheme', minLength: 1, maxLength: 16 })
        .filter((s) => Buffer.byteLength(s) <= 64 && !/\p{Cc}/u.test(s)),
      sequence: fc.maxSafeNat(),
      timestamp: fc.maxSafeNat(),
      measurements: fc.uniqueArray(
        fc.record({
          code: fc.integer({ min: 1, max: 65535 }),
          value: fc.double({ noNaN: true, noDefaultInfinity: true }),
        }),
        { maxLength: MAX_MEASUREMENTS, selector: (m) => m.code },
      ),
      flags: fc.constantFrom(0, FLAG_SIMULATED),
    });
    fc.assert(
      fc.property(arbMsg, (msg) => {
        const buf = encodeDatagram(msg, key);
        expect(buf.length).toBeLessThanOrEqual(MAX_DATAGRAM_BYTES);
        const v = open(buf);
        expect(v.ok).toBe(true);
        if (v.ok) expect(v.value).toEqual({ verified: true, version: 1, ...msg });
      }),
      { numRuns: 300 },
    );
  });

  it('accepts a KeyObject as well as raw key bytes', () => {
    const buf = encodeDatagram(sample, createSecretKey(key));
    expect(open(buf).ok).toBe(true);
    const d = decodeDatagram(buf);
    expect(d.ok && verifyDatagram(d.value, importDeviceKey(key)).ok).toBe(true);
    expect(d.ok && verifyDatagram(d.value, importDeviceKey(otherKey)).ok).toBe(false);
    expect(() => importDeviceKey(Buffer.alloc(15))).toThrow(expect.objectContaining({ reason: 'weak_key' }));
  });

  it('the largest possible datagram stays under the MTU bound', () => {
    const msg: VitalsMessage = {
      ...sample,
      deviceId: 'x'.repeat(64),
      measurements: Array.from({ length: MAX_MEASUREMENTS }, (_, i) => ({ code: i + 1, value: i })),
    };
    const buf = encodeDatagram(msg, key);
    expect(buf.length).toBeLessThanOrEqual(MAX_DATAGRAM_BYTES);
    expect(open(buf).ok).toBe(true);
  });
});

describe('authentication', () => {
  it('refuses a tag made with another key', () => {
    const forged = encodeDatagram(sample, otherKey);
    expect(errorOf(open(forged)).reason).toBe('bad_tag');
  });

  it('refuses a forged tag of zeros and a tag copied from another datagram', () => {
    const buf = encodeDatagram(sample, key);
    const zeros = Buffer.from(buf);
    zeros.fill(0, zeros.length - 16);
    expect(errorOf(open(zeros)).reason).toBe('bad_tag');
    const other = encodeDatagram({ ...sample, sequence: sample.sequence + 1 }, key);
    const spliced = Buffer.concat([other.subarray(0, other.length - 16), buf.subarray(buf.length - 16)]);
    expect(errorOf(open(spliced)).reason).toBe('bad_tag');
  });

  it('rejects every single-bit flip of a datagram (exhaustive)', () => {
    const buf = encodeDatagram(sample, key);
    for (let bit = 0; bit < buf.length * 8; bit++) {
      const copy = Buffer.from(buf);
      copy[bit >> 3]! ^= 1 << (bit & 7);
      expect(open(copy).ok, `bit ${bit}`).toBe(false);
    }
  });

  it('rejects any single-bit flip of any datagram (property)', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 2 ** 40 }),
        fc.array(fc.double({ noNaN: true, noDefaultInfinity: true }), { maxLength: 8 }),
        fc.nat(),
        (sequence, values, pick) => {
          const msg = {
            ...sample,
            sequence,
            measurements: values.map((value, i) => ({ code: i + 1, value })),
          };
          const buf = encodeDatagram(msg, key);
          const bit = pick % (buf.length * 8);
          buf[bit >> 3]! ^= 1 << (bit & 7);
          expect(open(buf).ok).toBe(false);
        },
      ),
      { numRuns: 2000 },
    );
  });

  it('refuses a weak key on both sides', () => {
    expect(() => encodeDatagram(sample, Buffer.alloc(15))).toThrow(
      expect.objectContaining({ reason: 'weak_key' }),
    );
    const d = decodeDatagram(encodeDatagram(sample, key));
    if (!d.ok) throw d.error;
    expect(errorOf(verifyDatagram(d.value, Buffer.alloc(8))).reason).toBe('weak_key');
  });

  it('openDatagram reports unknown devices and verifies known ones', () => {
    const buf = encodeDatagram(sample, key);
    const keys = new Map([['bed-12.monitor', key]]);
    expect(openDatagram(buf, (id) => keys.get(id)).ok).toBe(true);
    expect(errorOf(openDatagram(buf, () => undefined)).reason).toBe('unknown_device');
    expect(errorOf(openDatagram(buf, () => otherKey)).reason).toBe('bad_tag');
    expect(errorOf(openDatagram(Buffer.alloc(3), () => key)).reason).toBe('too_short');
  });
});

describe('malformed datagrams give typed errors', () => {
  const good = encodeDatagram(sample, key);

  it('truncation at every length is refused', () => {
    for (let n = 0; n < good.length; n++) {
      const e = errorOf(open(good.subarray(0, n)));
      expect(e.reason, `length ${n}`).toBe(n < MIN_DATAGRAM_BYTES ? 'too_short' : 'truncated');
    }
  });

  it('refuses trailing bytes and oversize datagrams', () => {
    expect(errorOf(decodeDatagram(Buffer.concat([good, Buffer.from([0])]))).reason).toBe('trailing_bytes');
    expect(errorOf(decodeDatagram(Buffer.alloc(MAX_DATAGRAM_BYTES + 1))).reason).toBe('too_long');
    expect(errorOf(decodeDatagram(Buffer.alloc(65_535, 0x43))).reason).toBe('too_long');
  });

  const cases: Array<[string, (b: Buffer) => void, string]> = [
    ['bad magic', (b) => (b[0] = 0x44), 'bad_magic'],
    ['version 2', (b) => (b[2] = 2), 'unsupported_version'],
    ['version 0', (b) => (b[2] = 0), 'unsupported_version'],
    ['unknown flag bit', (b) => (b[3] = 0x80), 'unknown_flags'],
    ['device id length 0', (b) => (b[4] = 0), 'bad_device_id'],
    ['device id length 65', (b) => (b[4] = 65), 'bad_device_id'],
    ['device id invalid UTF-8', (b) => (b[5] = 0xff), 'bad_device_id'],
    ['device id control char', (b) => (b[5] = 0x0a), 'bad_device_id'],
    ['sequence ≥ 2^53', (b) => b.writeUInt32BE(0x0020_0000, 5 + 14), 'sequence_out_of_range'],
    ['timestamp ≥ 2^53', (b) => b.writeUInt32BE(0xffff_ffff, 13 + 14), 'bad_timestamp'],
    ['65 measurements', (b) => (b[21 + 14] = 65), 'too_many_measurements'],
    ['count larger than the body', (b) => (b[21 + 14] = 5), 'truncated'],
    ['count smaller than the body', (b) => (b[21 + 14] = 3), 'trailing_bytes'],
    ['code 0', (b) => b.writeUInt16BE(0, 22 + 14), 'bad_code'],
    ['NaN value', (b) => b.writeDoubleBE(Number.NaN, 24 + 14), 'bad_value'],
    ['infinite value', (b) => b.writeDoubleBE(Number.POSITIVE_INFINITY, 24 + 14), 'bad_value'],
    ['duplicate code', (b) => b.writeUInt16BE(1, 32 + 14), 'duplicate_code'],
  ];
  for (const [name, mutate, reason] of cases) {
    it(`${name} → ${reason} (even with a valid tag)`, () => {
      const b = Buffer.from(good);
      mutate(b);
      expect(errorOf(decodeDatagram(resign(b))).reason).toBe(reason);
    });
  }

  it('never throws on random bytes (property)', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 1400 }), (bytes) => {
        const r = decodeDatagram(bytes);
        if (r.ok) expect(verifyDatagram(r.value, key).ok).toBe(false);
        else expect(typeof r.error.reason).toBe('string');
      }),
      { numRuns: 2000 },
    );
  });

  it('survives 100,000 mutated datagrams without a crash or a forged accept', () => {
    // Deterministic xorshift so a failure reproduces.
    let s = 0x2545f491;
    const rnd = (n: number) => {
      s ^= s << 13;
      s ^= s >>> 17;
      s ^= s << 5;
      return (s >>> 0) % n;
    };
    const reasons = new Map<string, number>();
    let accepted = 0;
    for (let i = 0; i < 100_000; i++) {
      let b = Buffer.from(good);
      const edits = 1 + rnd(4);
      for (let e = 0; e < edits; e++) {
        const op = rnd(4);
        if (op === 0) b[rnd(b.length)] = rnd(256);
        else if (op === 1) b = b.subarray(0, rnd(b.length + 1));
        else if (op === 2) b = Buffer.concat([b, Buffer.alloc(rnd(20), rnd(256))]);
        else if (b.length > 0) b[rnd(b.length)]! ^= 1 << rnd(8);
      }
      const r = open(b);
      if (r.ok) {
        // Only an edit that restored the original bytes may verify.
        expect(b.equals(good)).toBe(true);
        accepted++;
      } else reasons.set(r.error.reason, (reasons.get(r.error.reason) ?? 0) + 1);
    }
    expect(accepted + [...reasons.values()].reduce((a, b) => a + b, 0)).toBe(100_000);
    expect(reasons.get('bad_tag')).toBeGreaterThan(0);
    expect(reasons.get('truncated')).toBeGreaterThan(0);
  });
});

describe('encoding refuses messages a sender must not build', () => {
  const bad: Array<[string, Partial<VitalsMessage>, string]> = [
    ['empty device id', { deviceId: '' }, 'bad_device_id'],
    ['65-byte device id', { deviceId: `${'é'.repeat(32)}a` }, 'bad_device_id'],
    ['device id with newline', { deviceId: 'a\nb' }, 'bad_device_id'],
    ['lone surrogate', { deviceId: 'a\ud800' }, 'bad_device_id'],
    ['negative sequence', { sequence: -1 }, 'sequence_out_of_range'],
    ['unsafe sequence', { sequence: 2 ** 53 }, 'sequence_out_of_range'],
    ['fractional timestamp', { timestamp: 1.5 }, 'bad_timestamp'],
    ['unknown flags', { flags: 0x40 }, 'unknown_flags'],
    [
      'too many',
      { measurements: Array.from({ length: 65 }, (_, i) => ({ code: i + 1, value: 1 })) },
      'too_many_measurements',
    ],
    ['code 0', { measurements: [{ code: 0, value: 1 }] }, 'bad_code'],
    ['code 65536', { measurements: [{ code: 65536, value: 1 }] }, 'bad_code'],
    ['NaN', { measurements: [{ code: 1, value: Number.NaN }] }, 'bad_value'],
    [
      'duplicate',
      {
        measurements: [
          { code: 1, value: 1 },
          { code: 1, value: 2 },
        ],
      },
      'duplicate_code',
    ],
  ];
  for (const [name, patch, reason] of bad) {
    it(`${name} → ${reason}`, () => {
      expect(() => encodeDatagram({ ...sample, ...patch }, key)).toThrow(expect.objectContaining({ reason }));
    });
  }
});

describe('initialSequence', () => {
  it('is above any counter of an earlier boot and below 2^53 for centuries', () => {
    const boot1 = 1_763_700_000_000;
    const usedBeforeReboot = initialSequence(boot1) + 1023;
    expect(initialSequence(boot1 + 1)).toBeGreaterThan(usedBeforeReboot);
    expect(Number.isSafeInteger(initialSequence(Date.UTC(2200, 0, 1)))).toBe(true);
  });
});
