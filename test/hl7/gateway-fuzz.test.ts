/**
 * Fuzz against the running gateway: 100,000 frames — mutated messages (flipped, inserted, deleted
 * and duplicated bytes, including MLLP control bytes) and raw byte noise — over 16 concurrent
 * connections. The server never crashes; every complete frame gets its acknowledgement(s), or the
 * connection is closed cleanly after an AR NAK for an oversized frame. The expected count per
 * connection comes from running the same bytes through the pure deframer and ACK planner.
 */
import net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEMO_PATIENTS, demoVitals, labOru, vitalsOru } from '../../src/hl7/demo-messages.ts';
import { prepareMessage } from '../../src/hl7/ingest.ts';
import { MllpDeframer } from '../../src/hl7/mllp.ts';
import { exchange, framed, type Hl7App, msa, startHl7App } from './gateway-helpers.ts';
import { loadSamples, withCr } from './samples.ts';

const TOTAL = 100_000;
const CONNECTIONS = 16;
const MAX_FRAME = 8192;
const SEED = Number(process.env.HL7_FUZZ_SEED ?? 20261121);

/** xorshift32: reproducible from SEED (printed on failure). */
function prng(seed: number) {
  let x = seed >>> 0 || 1;
  return (n: number) => {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    return x % n;
  };
}

const INTERESTING = [0x0b, 0x1c, 0x0d, 0x0a, 0x00, 0xff, 0x7c, 0x5e, 0x7e, 0x5c, 0x26, 0xc3, 0x80];

function bases(): string[] {
  const p = DEMO_PATIENTS[0]!;
  const at = new Date('2026-01-01T00:00:00Z');
  return [
    vitalsOru(p, '{ID}', demoVitals(1), at, { original: true }),
    vitalsOru(p, '{ID}', demoVitals(2), at),
    labOru(p, '{ID}', 1, at),
    'MSH|^~\\&|FZ|F|CW|CW|20260101||ADT^A08^ADT_A01|{ID}|P|2.5\rPID|1||FZ-1^^^H^MR||Fuzz^Fred||19800101|M\rPV1|1|I|W^^1\r',
    ...loadSamples()
      .map((s) => withCr(s.bytes).toString('latin1'))
      .filter((t) => t.startsWith('MSH'))
      .map((t) => t.replace(/^(MSH(.)(?:[^\r]*?\2){8})[^\r|]*/, '$1{ID}')),
  ];
}

function mutate(msg: Buffer, rnd: (n: number) => number): Buffer {
  let b = Buffer.from(msg);
  const n = 1 + rnd(4);
  for (let i = 0; i < n; i++) {
    const at = rnd(Math.max(1, b.length));
    const byte = rnd(3) === 0 ? INTERESTING[rnd(INTERESTING.length)]! : rnd(256);
    switch (rnd(5)) {
      case 0:
        b[at] = byte;
        break;
      case 1:
        b = Buffer.concat([b.subarray(0, at), Buffer.of(byte), b.subarray(at)]);
        break;
      case 2:
        b = Buffer.concat([b.subarray(0, at), b.subarray(at + 1 + rnd(8))]);
        break;
      case 3:
        b = Buffer.concat([b.subarray(0, at), b.subarray(at, at + 40), b.subarray(at)]);
        break;
      default:
        b = b.subarray(0, at);
    }
  }
  return b;
}

interface Plan {
  stream: Buffer;
  expectedReplies: number;
  tooLarge: boolean;
}

/** The bytes of one connection and how many replies the server owes for them. */
function plan(conn: number, count: number, rnd: (n: number) => number, templates: string[]): Plan {
  const parts: Buffer[] = [];
  for (let i = 0; i < count; i++) {
    const id = `FZ${conn.toString(36)}x${i.toString(36).padStart(5, '0')}`;
    const kind = rnd(100);
    if (kind < 8) {
      // Raw noise, sometimes with control bytes in it.
      const noise = Buffer.alloc(1 + rnd(120));
      for (let k = 0; k < noise.length; k++)
        noise[k] = rnd(4) === 0 ? INTERESTING[rnd(INTERESTING.length)]! : rnd(256);
      parts.push(noise);
      continue;
    }
    const text = templates[rnd(templates.length)]!.replaceAll('{ID}', id);
    const body = Buffer.from(text, 'latin1');
    const payload = kind < 75 ? mutate(body, rnd) : body;
    // Frame by hand: a mutated payload may itself contain VT or FS (framing chaos on purpose).
    parts.push(Buffer.concat([Buffer.of(0x0b), payload, Buffer.of(0x1c, 0x0d)]));
    // Now and then a frame far beyond the limit ends the connection with a NAK.
    if (rnd(40_000) === 0) parts.push(Buffer.concat([Buffer.of(0x0b), Buffer.alloc(MAX_FRAME + 10, 0x41)]));
  }
  const stream = Buffer.concat(parts);
  const deframer = new MllpDeframer({ maxFrameSize: MAX_FRAME });
  const seen = new Map<string, number>();
  let expectedReplies = 0;
  for (const f of deframer.push(stream)) {
    const p = prepareMessage(f, 0);
    const key = p.row.dedup_key ?? null;
    if (key !== null && seen.has(key)) {
      expectedReplies += seen.get(key)!; // a duplicate is answered with the original's ACKs
    } else {
      if (key !== null) seen.set(key, p.frames.length);
      expectedReplies += p.frames.length;
    }
  }
  const tooLarge = deframer.error !== undefined;
  return { stream, expectedReplies: expectedReplies + (tooLarge ? 1 : 0), tooLarge };
}

function run(port: number, p: Plan): Promise<{ replies: string[]; closed: boolean }> {
  return new Promise((resolve) => {
    const socket = net.connect({ host: '127.0.0.1', port });
    const deframer = new MllpDeframer({ maxFrameSize: 1 << 20 });
    const replies: string[] = [];
    let done = false;
    const finish = (closed: boolean) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      socket.destroy();
      resolve({ replies, closed });
    };
    const timer = setTimeout(() => finish(false), 60_000);
    socket.on('data', (d) => {
      for (const f of deframer.push(d)) replies.push(f.toString('latin1'));
      if (!p.tooLarge && replies.length >= p.expectedReplies) finish(false);
    });
    socket.on('error', () => {}); // writes after the server's close after a NAK
    socket.on('close', () => finish(true));
    socket.on('connect', () => {
      // Then a final end-of-input: the server answers what is pending and closes.
      socket.end(p.stream);
    });
  });
}

describe('fuzzing the running MLLP gateway', () => {
  let t: Hl7App;
  beforeAll(async () => {
    t = await startHl7App('sqlite', { hl7MaxFrame: String(MAX_FRAME) });
  });
  afterAll(async () => {
    await t.close();
  });

  it(`${TOTAL.toLocaleString('en')} mutated messages and noise: no crash, every frame answered or NAK and close`, async () => {
    const rnd = prng(SEED);
    const templates = bases();
    const plans = Array.from({ length: CONNECTIONS }, (_, c) => plan(c, TOTAL / CONNECTIONS, rnd, templates));
    const results = await Promise.all(plans.map((p) => run(t.port, p)));
    for (const [c, r] of results.entries()) {
      const p = plans[c]!;
      const where = `connection ${c} (seed ${SEED})`;
      expect(r.replies.length, where).toBe(p.expectedReplies);
      for (const a of r.replies) expect(a.startsWith('MSH'), where).toBe(true);
      if (p.tooLarge) {
        expect(r.closed, where).toBe(true);
        expect(msa(r.replies.at(-1)!).code, where).toBe('AR');
      }
    }
    const total = plans.reduce((a, p) => a + p.expectedReplies, 0);
    expect(total).toBeGreaterThan(TOTAL / 2);
    // Still up and well.
    const ok = await exchange(t.port, [framed(labOru(DEMO_PATIENTS[1]!, 'AFTER-FUZZ', 1))], { expect: 1 });
    expect(msa(ok.replies[0]!)).toEqual({ code: 'AA', controlId: 'AFTER-FUZZ' });
  }, 120_000);
});
