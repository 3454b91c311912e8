/**
 * The outside sample corpus over a real MLLP connection: every file is answered (AA, or AE/AR with
 * an ERR that names the problem; nothing for NE/NE), stored raw with its ACK, and the server stays
 * up — both as the files are stored (LF/CRLF) and with CR terminators. On both engines.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readHeaderLoosely } from '../../src/hl7/header.ts';
import { prepareMessage } from '../../src/hl7/ingest.ts';
import { frame } from '../../src/hl7/mllp.ts';
import { ENGINES } from '../helpers/app.ts';
import {
  errSegments,
  exchange,
  framed,
  type Hl7App,
  msa,
  startHl7App,
  storedRows,
} from './gateway-helpers.ts';
import { loadSamples, withCr } from './samples.ts';

const samples = loadSamples();
const HEALTHY =
  'MSH|^~\\&|PROBE|LAB|CW|CW|20240101000000||ADT^A08^ADT_A01|PROBE-{n}|P|2.5\rPID|1||P-1^^^H^MR||Probe^Pat\r';

describe.each(ENGINES)('HL7 sample corpus over MLLP on %s', (engine) => {
  let t: Hl7App;
  beforeAll(async () => {
    t = await startHl7App(engine);
  });
  afterAll(async () => {
    await t.close();
  });

  it('answers every sample as stored and with CR terminators, stores each raw, and stays up', async () => {
    let sent = 0;
    const acks: Array<string | undefined> = [];
    for (const s of samples) {
      for (const variant of ['as stored', 'with CR'] as const) {
        const bytes = variant === 'as stored' ? s.bytes : withCr(s.bytes);
        const h = readHeaderLoosely(bytes);
        // MSH-15/16 may ask for no acknowledgement at all (NE/NE, or NE with an empty MSH-15).
        const noAck = prepareMessage(bytes, Date.now()).frames.length === 0;
        // Each sample on its own connection, followed by a healthy message: the server is still up.
        const probe = framed(HEALTHY.replace('{n}', String(++sent)));
        const r = await exchange(t.port, [frame(bytes), probe], { expect: noAck ? 1 : 2 });
        const label = `${s.name} ${variant}`;
        expect(r.replies.length, label).toBe(noAck ? 1 : 2);
        const last = msa(r.replies.at(-1)!);
        expect(last, label).toEqual({ code: 'AA', controlId: `PROBE-${sent}` });
        acks.push(noAck ? undefined : r.replies[0]);
        if (!noAck) {
          const ack = r.replies[0]!;
          const { code, controlId } = msa(ack);
          expect(['AA', 'AE', 'AR', 'CA', 'CE', 'CR'], label).toContain(code);
          if (h?.controlId) expect(controlId, label).toBe(h.controlId);
          if (code !== 'AA' && code !== 'CA') {
            const errs = errSegments(ack);
            expect(errs.length, label).toBeGreaterThan(0);
            // ERR-3 carries a table-0357 code and the text says what and where.
            expect(errs[0], label).toMatch(/\|\d{3}\^[^|]+\^HL70357\|/);
            expect(errs[0]!.split('|').at(-1)!.length, label).toBeGreaterThan(10);
          }
        }
      }
    }
    const rows = await storedRows(t.services);
    // A frame whose MSH-3 + MSH-10 was seen before (the same file with CR terminators, or
    // sample_unix/sample_win) is a duplicate: answered as the original, not stored again.
    const frames = samples.flatMap((s) => [s.bytes, withCr(s.bytes)]);
    const keys = frames.map((b) => prepareMessage(b, 0).row.dedup_key);
    const unique = new Set(keys.filter((k) => k !== null)).size + keys.filter((k) => k === null).length;
    expect(unique).toBeLessThan(frames.length);
    expect(rows.length).toBe(unique + sent);
    const samplesStored = rows.filter((r) => !r.control_id.startsWith('PROBE-'));
    expect(samplesStored.length).toBe(unique);
    for (const row of samplesStored) {
      const i = keys.findIndex(
        (k, n) => (row.dedup_key === null ? k === null : k === row.dedup_key) && n >= 0,
      );
      expect(i).toBeGreaterThanOrEqual(0);
      expect(['AA', 'AE', 'AR']).toContain(row.ack_code);
      if (row.ack_code !== 'AA') expect(row.error).toMatch(/^\d{3} /);
      expect(row.raw.startsWith('MSH') || row.raw.startsWith('\uFEFFMSH') || row.dedup_key === null).toBe(
        true,
      );
    }
    for (const [n, s] of samples.entries()) {
      const [a, b] = [acks[2 * n]!, acks[2 * n + 1]!];
      if (keys[2 * n] !== null && keys[2 * n] === keys[2 * n + 1]) {
        // The duplicate got the original's ACK byte for byte (same MSH-10 of the ACK, same time).
        expect(b, s.name).toBe(a);
      }
    }
  });

  it('refuses two messages in one frame with AR 100 naming the second MSH, and stores the frame once', async () => {
    const two = samples.find((s) => s.name.includes('twoMSH'))!;
    const r = await exchange(t.port, [frame(withCr(two.bytes))], { expect: 1 });
    const { code } = msa(r.replies[0]!);
    expect(code).toBe('AR');
    expect(errSegments(r.replies[0]!)[0]).toMatch(/\|100\^/);
  });
});

// The block above answers each CR copy from the store when its file was stored first (same
// MSH-3 + MSH-10). Here the CR copies alone go to a fresh store, so each one is parsed, applied
// and answered for itself.
describe.each(ENGINES)('HL7 sample corpus with CR terminators, fresh store, on %s', (engine) => {
  let t: Hl7App;
  beforeAll(async () => {
    t = await startHl7App(engine);
  });
  afterAll(async () => {
    await t.close();
  });

  it('processes every CR copy itself: its own ACK code, stored with its own key', async () => {
    const seen = new Set<string>();
    let fresh = 0;
    for (const s of samples) {
      const bytes = withCr(s.bytes);
      const planned = prepareMessage(bytes, Date.now());
      const key = planned.row.dedup_key ?? null;
      // NE/NE asks for no answer to read back: the block above covers those.
      if (planned.frames.length === 0) continue;
      const repeat = key !== null && seen.has(key);
      if (key !== null) seen.add(key);
      if (!repeat) fresh++;
      const r = await exchange(t.port, [frame(bytes)], { expect: 1 });
      expect(r.replies, s.name).toHaveLength(1);
      const { code } = msa(r.replies[0]!);
      // The ACK code the pure pipeline plans for this very frame (a repeat of an earlier sample
      // in the corpus is answered as that one was).
      if (!repeat) expect(code.replace(/^C/, 'A'), s.name).toBe(planned.row.ack_code);
    }
    const rows = await storedRows(t.services);
    expect(rows.length).toBe(fresh);
    for (const row of rows) expect(row.raw.includes('\n')).toBe(false);
  });
});
