import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  type AlarmChannelFrame,
  AlarmFrameDecoder,
  type DeviceAlarm,
  encodeFrame,
  FrameError,
  type FrameEvent,
  helloMac,
  MAX_FRAME_PAYLOAD,
  verifyHelloMac,
} from '../../src/telemetry/alarm-frame.ts';

const alarm: DeviceAlarm = {
  alarmId: 'mon-7:000042',
  event: 'raised',
  kind: 'spo2-low',
  category: 'physiological',
  priority: 'medium',
  time: 1_763_700_000_000,
  text: 'SpO2 88 % < 90 %',
  patientId: 'p-1001',
  bed: 'ICU-3',
  code: 4,
  value: 88,
  limit: 90,
};

const nonce = 'Q2FyZVdpcmUtY2hhbGxlbmdl';
const frames: AlarmChannelFrame[] = [
  { type: 'challenge', protocol: 1, nonce, serverTime: 1 },
  { type: 'hello', protocol: 1, deviceId: 'mon-7', clientTime: 2, mac: 'A'.repeat(43) },
  { type: 'hello', protocol: 1, deviceId: 'mon-7', clientTime: 2 },
  { type: 'welcome', serverTime: 3, maxFrameBytes: 65536, heartbeatMs: 15_000 },
  { type: 'alarm', alarm },
  {
    type: 'alarm',
    alarm: {
      ...alarm,
      alarmId: 'x',
      event: 'ended',
      kind: 'lead-off',
      category: 'technical',
      text: 'Électrode débranchée ✓',
    },
  },
  { type: 'ack', alarmId: 'mon-7:000042', event: 'raised', duplicate: false },
  { type: 'nak', alarmId: 'mon-7:000042', event: 'raised', code: 'busy', message: 'try later', retry: true },
  { type: 'ping', nonce: 'n1' },
  { type: 'pong', nonce: 'n1' },
  { type: 'error', code: 'auth_failed', message: 'bad mac' },
];

function framesOf(events: FrameEvent[]): AlarmChannelFrame[] {
  return events.map((e) => {
    if (!e.ok) throw e.error;
    return e.frame;
  });
}

function errorsOf(events: FrameEvent[]): FrameError[] {
  return events.flatMap((e) => (e.ok ? [] : [e.error]));
}

/** Builds a raw frame by hand: length, type byte, body bytes. */
function raw(type: number, body: string | Uint8Array, length?: number): Buffer {
  const b = typeof body === 'string' ? Buffer.from(body, 'utf8') : Buffer.from(body);
  const head = Buffer.alloc(5);
  head.writeUInt32BE(length ?? b.length + 1);
  head[4] = type;
  return Buffer.concat([head, b]);
}

describe('frame layout', () => {
  it('is a 4-byte big-endian length, a type byte and a JSON body', () => {
    const buf = encodeFrame({ type: 'ping', nonce: 'a' });
    const body = '{"nonce":"a"}';
    expect(buf.toString('hex')).toBe(`0000000e20${Buffer.from(body).toString('hex')}`);
  });
});

describe('round trip', () => {
  it('decodes every frame type to what was encoded', () => {
    for (const f of frames) {
      expect(framesOf(new AlarmFrameDecoder().push(encodeFrame(f)))).toEqual([f]);
    }
  });

  it('decodes several frames in one chunk', () => {
    const d = new AlarmFrameDecoder();
    expect(framesOf(d.push(Buffer.concat(frames.map(encodeFrame))))).toEqual(frames);
    expect(d.bufferedBytes).toBe(0);
  });

  it('decodes the same frames for any split of the stream (property)', () => {
    const stream = Buffer.concat(frames.map(encodeFrame));
    fc.assert(
      fc.property(
        fc.uniqueArray(fc.integer({ min: 1, max: stream.length - 1 }), { maxLength: 40 }),
        (cuts) => {
          const points = [0, ...cuts.sort((a, b) => a - b), stream.length];
          const d = new AlarmFrameDecoder();
          const out: FrameEvent[] = [];
          for (let i = 1; i < points.length; i++)
            out.push(...d.push(stream.subarray(points[i - 1], points[i])));
          expect(framesOf(out)).toEqual(frames);
          expect(d.end()).toBeNull();
        },
      ),
      { numRuns: 500 },
    );
  });

  it('decodes a frame fed one byte at a time', () => {
    const d = new AlarmFrameDecoder();
    const buf = encodeFrame({ type: 'alarm', alarm });
    const out: FrameEvent[] = [];
    for (const byte of buf) out.push(...d.push(Uint8Array.of(byte)));
    expect(framesOf(out)).toEqual([{ type: 'alarm', alarm }]);
  });

  it('drops unknown body properties and keeps unknown but well-formed kinds', () => {
    const body = JSON.stringify({ ...alarm, kind: 'pacer-failure', extra: { deep: 1 } });
    const [f] = framesOf(new AlarmFrameDecoder().push(raw(0x10, body)));
    expect(f).toEqual({ type: 'alarm', alarm: { ...alarm, kind: 'pacer-failure' } });
  });
});

describe('bad input', () => {
  it('refuses an oversized length as soon as the prefix arrives, and then stops', () => {
    const d = new AlarmFrameDecoder();
    const head = Buffer.alloc(4);
    head.writeUInt32BE(MAX_FRAME_PAYLOAD + 1);
    const [e] = errorsOf(d.push(head));
    expect(e).toBeInstanceOf(FrameError);
    expect(e).toMatchObject({ reason: 'frame_too_large', fatal: true });
    expect(d.failed?.reason).toBe('frame_too_large');
    expect(d.push(encodeFrame({ type: 'ping', nonce: 'x' }))).toEqual([]);
    expect(d.bufferedBytes).toBe(0);
  });

  it('accepts the largest allowed length and refuses one more (custom bound)', () => {
    const d = new AlarmFrameDecoder({ maxPayload: 20 });
    expect(framesOf(d.push(raw(0x20, '{"nonce":"abcdefg"}')))).toHaveLength(1);
    expect(errorsOf(d.push(raw(0x20, '{"nonce":"abcdefgh"}')))[0]).toMatchObject({
      reason: 'frame_too_large',
    });
    expect(() => new AlarmFrameDecoder({ maxPayload: MAX_FRAME_PAYLOAD + 1 })).toThrow(RangeError);
  });

  it('refuses a zero length as fatal', () => {
    const [e] = errorsOf(new AlarmFrameDecoder().push(Buffer.alloc(4)));
    expect(e).toMatchObject({ reason: 'empty_frame', fatal: true });
  });

  it('skips a frame of unknown type and keeps decoding', () => {
    const d = new AlarmFrameDecoder();
    const out = d.push(Buffer.concat([raw(0x55, '{}'), encodeFrame({ type: 'ping', nonce: 'y' })]));
    expect(out[0]).toMatchObject({ ok: false, error: { reason: 'unknown_type', fatal: false } });
    expect(out[1]).toEqual({ ok: true, frame: { type: 'ping', nonce: 'y' } });
  });

  const badBodies: Array<[string, number, string | Uint8Array]> = [
    ['invalid UTF-8', 0x10, Uint8Array.of(0x7b, 0xff, 0x7d)],
    ['not JSON', 0x10, '{alarm'],
    ['JSON array', 0x10, '[]'],
    ['empty body', 0x20, ''],
    ['missing alarmId', 0x10, JSON.stringify({ ...alarm, alarmId: undefined })],
    ['bad priority', 0x10, JSON.stringify({ ...alarm, priority: 'urgent' })],
    ['bad kind', 0x10, JSON.stringify({ ...alarm, kind: 'SpO2 LOW!' })],
    ['text too long', 0x10, JSON.stringify({ ...alarm, text: 'x'.repeat(1025) })],
    ['alarm id with spaces', 0x10, JSON.stringify({ ...alarm, alarmId: 'a b' })],
    ['negative time', 0x10, JSON.stringify({ ...alarm, time: -1 })],
    ['ack without duplicate', 0x11, JSON.stringify({ alarmId: 'a', event: 'raised' })],
    ['short challenge nonce', 0x01, JSON.stringify({ protocol: 1, nonce: 'abc', serverTime: 1 })],
  ];
  for (const [name, type, body] of badBodies) {
    it(`${name} → non-fatal bad_body`, () => {
      const d = new AlarmFrameDecoder();
      const out = d.push(Buffer.concat([raw(type, body), encodeFrame({ type: 'pong', nonce: 'z' })]));
      expect(out[0]).toMatchObject({ ok: false, error: { reason: 'bad_body', fatal: false } });
      expect(out[1]).toEqual({ ok: true, frame: { type: 'pong', nonce: 'z' } });
    });
  }

  it('explains on demand which field was wrong', () => {
    const [e] = errorsOf(
      new AlarmFrameDecoder().push(raw(0x10, JSON.stringify({ ...alarm, priority: 'urgent' }))),
    );
    expect(e?.message).toBe('alarm body does not match the schema');
    expect(e?.detail).toContain('/priority');
  });

  it('reports a stream cut inside a frame', () => {
    const d = new AlarmFrameDecoder();
    const buf = encodeFrame({ type: 'alarm', alarm });
    expect(d.push(buf.subarray(0, 10))).toEqual([]);
    expect(d.end()).toMatchObject({ reason: 'truncated', fatal: true });
    expect(new AlarmFrameDecoder().end()).toBeNull();
  });

  it('refuses to encode an invalid body', () => {
    expect(() => encodeFrame({ type: 'alarm', alarm: { ...alarm, priority: 'urgent' as 'high' } })).toThrow(
      FrameError,
    );
    expect(() => encodeFrame({ type: 'alarm', alarm: { ...alarm, value: Number.NaN } })).toThrow(FrameError);
  });

  it('never throws on random byte streams (property)', () => {
    fc.assert(
      fc.property(fc.array(fc.uint8Array({ maxLength: 64 }), { maxLength: 10 }), (chunks) => {
        const d = new AlarmFrameDecoder({ maxPayload: 1024 });
        for (const c of chunks)
          for (const e of d.push(c)) if (!e.ok) expect(e.error).toBeInstanceOf(FrameError);
        d.end();
      }),
      { numRuns: 1000 },
    );
  });

  it('survives 100,000 mutated frames without a crash', () => {
    const good = encodeFrame({ type: 'alarm', alarm });
    let s = 0x9e3779b9;
    const rnd = (n: number) => {
      s ^= s << 13;
      s ^= s >>> 17;
      s ^= s << 5;
      return (s >>> 0) % n;
    };
    let fatal = 0;
    let decoded = 0;
    let bad = 0;
    for (let i = 0; i < 100_000; i++) {
      const b = Buffer.from(good);
      for (let e = 1 + rnd(3); e > 0; e--) b[rnd(b.length)] = rnd(256);
      const d = new AlarmFrameDecoder();
      const cut = rnd(b.length);
      for (const ev of [...d.push(b.subarray(0, cut)), ...d.push(b.subarray(cut))]) {
        if (ev.ok) decoded++;
        else if (ev.error.fatal) fatal++;
        else bad++;
      }
    }
    // Mutations hit the length (fatal), the type and the body (skipped), or only the text.
    expect(fatal).toBeGreaterThan(0);
    expect(decoded).toBeGreaterThan(0);
    expect(bad).toBeGreaterThan(0);
  });
});

describe('HELLO authentication', () => {
  const key = Buffer.alloc(32, 3);
  const hello = { protocol: 1, deviceId: 'mon-7', clientTime: 1_763_700_000_000 };
  it('accepts the MAC of the right key and nonce only', () => {
    const mac = helloMac(key, hello.deviceId, nonce, hello.clientTime);
    expect(mac).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(verifyHelloMac(key, { ...hello, mac }, nonce)).toBe(true);
    expect(verifyHelloMac(Buffer.alloc(32, 4), { ...hello, mac }, nonce)).toBe(false);
    expect(verifyHelloMac(key, { ...hello, mac }, `${nonce}x`)).toBe(false);
    expect(verifyHelloMac(key, { ...hello, deviceId: 'mon-8', mac }, nonce)).toBe(false);
    expect(verifyHelloMac(key, { ...hello, clientTime: hello.clientTime + 1, mac }, nonce)).toBe(false);
    expect(verifyHelloMac(key, hello, nonce)).toBe(false);
    expect(verifyHelloMac(key, { ...hello, mac: 'A'.repeat(43) }, nonce)).toBe(false);
  });

  it('a HELLO survives the codec with its MAC intact', () => {
    const mac = helloMac(key, hello.deviceId, nonce, hello.clientTime);
    const [f] = framesOf(new AlarmFrameDecoder().push(encodeFrame({ type: 'hello', ...hello, mac })));
    expect(f?.type === 'hello' && verifyHelloMac(key, f, nonce)).toBe(true);
  });
});
