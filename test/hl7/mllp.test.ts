import { describe, expect, it } from 'vitest';
import { frame, MllpDeframer, MllpError, parseHl7 } from '../../src/hl7/index.ts';

const A = 'MSH|^~\\&|A|B|C|D|2024||ADT^A01|1|P|2.5\rPID|1||Zoë\r';
const B = 'MSH|^~\\&|A|B|C|D|2024||ADT^A08|2|P|2.5\r';

function texts(frames: Buffer[]): string[] {
  return frames.map((f) => f.toString('utf8'));
}

describe('frame()', () => {
  it('wraps a message in VT ... FS CR', () => {
    const f = frame(B);
    expect(f[0]).toBe(0x0b);
    expect(f.subarray(-2)).toEqual(Buffer.from([0x1c, 0x0d]));
    expect(f.subarray(1, -2).toString()).toBe(B);
    expect(frame(Buffer.from('x'))).toEqual(Buffer.from([0x0b, 0x78, 0x1c, 0x0d]));
  });

  it('refuses payloads containing VT or FS', () => {
    expect(() => frame('a\u000bb')).toThrow(MllpError);
    expect(() => frame(Buffer.from([0x41, 0x1c]))).toThrow(/start \(0x0B\) or end \(0x1C\)/);
  });
});

describe('MllpDeframer', () => {
  it('returns one frame per complete message, several per chunk', () => {
    const d = new MllpDeframer();
    const out = d.push(Buffer.concat([frame(A), frame(B), frame(A)]));
    expect(texts(out)).toEqual([A, B, A]);
    expect(d.frameCount).toBe(3);
    expect(d.skippedBytes).toBe(0);
    expect(d.inFrame).toBe(false);
  });

  it('handles every split point of a two-frame stream, including inside a UTF-8 character', () => {
    const stream = Buffer.concat([frame(A), frame(B)]);
    const zoe = stream.indexOf(Buffer.from('ë'));
    expect(zoe).toBeGreaterThan(0);
    for (let cut = 0; cut <= stream.length; cut++) {
      const d = new MllpDeframer();
      const out = [...d.push(stream.subarray(0, cut)), ...d.push(stream.subarray(cut))];
      expect(texts(out), `cut at ${cut}`).toEqual([A, B]);
      expect(parseHl7(out[0]!).get('PID-3')).toBe('Zoë');
    }
  });

  it('handles byte-by-byte delivery', () => {
    const stream = Buffer.concat([frame(A), Buffer.from('\n'), frame(B)]);
    const d = new MllpDeframer();
    const out: Buffer[] = [];
    for (const b of stream) out.push(...d.push(Buffer.of(b)));
    expect(texts(out)).toEqual([A, B]);
    expect(d.skippedBytes).toBe(1);
  });

  it('skips and counts junk before a start block', () => {
    const d = new MllpDeframer();
    expect(d.push(Buffer.from('GET / HTTP/1.1\r\n'))).toEqual([]);
    expect(d.skippedBytes).toBe(16);
    expect(texts(d.push(Buffer.concat([Buffer.from('xyz'), frame(B), Buffer.from('\r\n')])))).toEqual([B]);
    expect(d.skippedBytes).toBe(21);
  });

  it('treats FS without CR as data', () => {
    const d = new MllpDeframer();
    const body = Buffer.from([0x41, 0x1c, 0x42]);
    const out = d.push(Buffer.concat([Buffer.of(0x0b), body, Buffer.of(0x1c, 0x0d)]));
    expect(out).toEqual([body]);
    // Same with the lone FS at a chunk boundary.
    const d2 = new MllpDeframer();
    expect(d2.push(Buffer.from([0x0b, 0x41, 0x1c]))).toEqual([]);
    expect(d2.push(Buffer.from([0x42, 0x1c, 0x0d]))).toEqual([body]);
  });

  it('drops an unfinished frame when a new start block arrives', () => {
    const d = new MllpDeframer();
    const out = d.push(Buffer.concat([Buffer.from([0x0b]), Buffer.from('partial'), frame(B)]));
    expect(texts(out)).toEqual([B]);
    expect(d.abortedFrames).toBe(1);
    expect(d.skippedBytes).toBe(7);
    const d2 = new MllpDeframer();
    d2.push(Buffer.from([0x0b, 0x41, 0x42]));
    expect(texts(d2.push(frame(B)))).toEqual([B]);
    expect(d2.abortedFrames).toBe(1);
  });

  it('accepts a frame of exactly maxFrameSize bytes', () => {
    const d = new MllpDeframer({ maxFrameSize: 10 });
    const ten = Buffer.from('0123456789');
    expect(d.push(frame(ten))).toEqual([ten]);
    expect(d.error).toBeUndefined();
  });

  it('reports an oversize frame within one chunk, after returning the frames before it', () => {
    const d = new MllpDeframer({ maxFrameSize: 10 });
    const out = d.push(Buffer.concat([frame('short'), frame('01234567890'), frame('ok')]));
    expect(texts(out)).toEqual(['short']);
    expect(d.error).toBeInstanceOf(MllpError);
    expect(d.error?.kind).toBe('FRAME_TOO_LARGE');
    expect(d.error?.limit).toBe(10);
    expect(d.push(frame('later'))).toEqual([]);
  });

  it('reports an oversize frame spread over chunks without buffering it all', () => {
    const d = new MllpDeframer({ maxFrameSize: 1000 });
    expect(d.push(Buffer.from([0x0b]))).toEqual([]);
    for (let i = 0; i < 3; i++) d.push(Buffer.alloc(300, 0x41));
    expect(d.error).toBeUndefined();
    expect(d.bufferedBytes).toBe(900);
    d.push(Buffer.alloc(300, 0x41));
    expect(d.error?.kind).toBe('FRAME_TOO_LARGE');
    expect(d.bufferedBytes).toBe(0);
  });

  it('has a 1 MiB default limit', () => {
    const d = new MllpDeframer();
    expect(d.maxFrameSize).toBe(1024 * 1024);
    d.push(Buffer.concat([Buffer.of(0x0b), Buffer.alloc(1024 * 1024, 0x41)]));
    expect(d.error).toBeUndefined();
    d.push(Buffer.of(0x41));
    expect(d.error?.kind).toBe('FRAME_TOO_LARGE');
  });

  it('reports the bytes lost when the stream ends inside a frame', () => {
    const d = new MllpDeframer();
    d.push(Buffer.from([0x0b, 0x41, 0x42, 0x1c]));
    expect(d.end()).toBe(3);
    expect(d.end()).toBe(0);
    expect(new MllpDeframer().end()).toBe(0);
  });

  it('refuses a bad limit', () => {
    expect(() => new MllpDeframer({ maxFrameSize: 0 })).toThrow(RangeError);
    expect(() => new MllpDeframer({ maxFrameSize: 1.5 })).toThrow(RangeError);
  });

  it('accepts Uint8Array chunks', () => {
    const d = new MllpDeframer();
    const u = new Uint8Array(frame(B));
    expect(texts(d.push(u))).toEqual([B]);
  });
});
