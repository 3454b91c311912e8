/**
 * The UDP receive thread (src/telemetry/udp-receiver.ts) over real loopback sockets: every datagram
 * is reported once and in order, accepted with its exact fields when its tag verifies, rejected
 * with the reason otherwise (forged tag, unknown device, malformed, oversized, empty); key updates
 * take effect; close() delivers what was read; a port already taken fails start() clearly.
 */
import { randomBytes } from 'node:crypto';
import dgram from 'node:dgram';
import { afterEach, describe, expect, it } from 'vitest';
import { encodeDatagram, importDeviceKey } from '../../src/telemetry/datagram.ts';
import { type ReceivedDatagram, type ReceiverSink, UdpReceiver } from '../../src/telemetry/udp-receiver.ts';

const open: Array<{ close(): unknown }> = [];
afterEach(async () => {
  for (const o of open.splice(0)) await o.close();
});

type Event =
  | { kind: 'ok'; deviceId: string; seq: number; ts: number; flags: number; m: Array<[number, number]> }
  | { kind: 'rejected'; reason: string; deviceId: string | null; detail: string };

function sink(events: Event[], errors: Error[] = []): ReceiverSink {
  return {
    accepted(d: ReceivedDatagram) {
      const m: Array<[number, number]> = [];
      for (let i = 0; i < d.count; i++)
        m.push([d.numbers[d.offset + 2 * i]!, d.numbers[d.offset + 2 * i + 1]!]);
      expect(d.address).toBe('127.0.0.1');
      events.push({ kind: 'ok', deviceId: d.deviceId, seq: d.sequence, ts: d.timestamp, flags: d.flags, m });
    },
    rejected(reason, address, deviceId, detail) {
      expect(address).toBe('127.0.0.1');
      events.push({ kind: 'rejected', reason, deviceId, detail });
    },
    error: (e) => errors.push(e),
  };
}

const keyA = importDeviceKey(randomBytes(32));
const keyB = importDeviceKey(randomBytes(32));

function start(s: ReceiverSink, keys: Array<[string, ReturnType<typeof importDeviceKey>]>, port = 0) {
  return UdpReceiver.start({ type: 'udp4', host: '127.0.0.1', port, recvBufferSize: 4 << 20 }, keys, s);
}

async function sendAll(port: number, datagrams: Buffer[]): Promise<void> {
  const sender = dgram.createSocket('udp4');
  // In slices, so the loopback receive buffer never overflows and every count must be exact.
  for (let i = 0; i < datagrams.length; i += 100) {
    await Promise.all(
      datagrams.slice(i, i + 100).map((b) => new Promise((r) => sender.send(b, port, '127.0.0.1', r))),
    );
    await new Promise((r) => setTimeout(r, 2));
  }
  sender.close();
}

async function until(cond: () => boolean): Promise<void> {
  for (let i = 0; i < 500 && !cond(); i++) await new Promise((r) => setTimeout(r, 10));
}

describe('UdpReceiver', () => {
  it('accepts authentic datagrams with their exact fields and rejects the rest, in arrival order', async () => {
    const events: Event[] = [];
    const { receiver, port, recvBufferBytes } = await start(sink(events), [['mon-a', keyA]]);
    expect(recvBufferBytes).toBeGreaterThan(0);
    const good = (seq: number) =>
      encodeDatagram(
        {
          deviceId: 'mon-a',
          sequence: seq,
          timestamp: 1_700_000_000_000 + seq,
          flags: seq % 2,
          measurements: [
            { code: 1, value: 60 + (seq % 50) + 0.25 },
            { code: 7, value: -seq },
          ],
        },
        keyA,
      );
    const datagrams: Buffer[] = [];
    const expected: Array<Event['kind'] | string> = [];
    for (let seq = 1; seq <= 1500; seq++) {
      datagrams.push(good(seq));
      expected.push('ok');
      if (seq % 100 === 0) {
        const forged = Buffer.from(good(seq + 10_000));
        forged[forged.length - 1]! ^= 1;
        const stranger = encodeDatagram(
          { deviceId: 'mon-x', sequence: seq, timestamp: 1, measurements: [] },
          keyA,
        );
        datagrams.push(forged, stranger, Buffer.from(`MSH|^~\\&|${'x'.repeat(100)}`), Buffer.alloc(0));
        expected.push('bad_tag', 'unknown_device', 'bad_magic', 'too_short');
      }
    }
    datagrams.push(Buffer.alloc(65_507, 7));
    expected.push('too_long');
    await sendAll(port, datagrams);
    await until(() => events.length >= datagrams.length);
    await receiver.close();
    expect(events.map((e) => (e.kind === 'ok' ? 'ok' : e.reason))).toEqual(expected);
    const ok = events.filter((e) => e.kind === 'ok');
    expect(ok.map((e) => e.seq)).toEqual(Array.from({ length: 1500 }, (_, i) => i + 1));
    expect(ok[41]).toEqual({
      kind: 'ok',
      deviceId: 'mon-a',
      seq: 42,
      ts: 1_700_000_000_042,
      flags: 0,
      m: [
        [1, 102.25],
        [7, -42],
      ],
    });
    const rejected = events.filter((e) => e.kind === 'rejected');
    expect(rejected.find((e) => e.reason === 'unknown_device')?.deviceId).toBe('mon-x');
    expect(rejected.find((e) => e.reason === 'bad_tag')?.detail).toMatch(/tag/);
  });

  it('verifies with the keys it was last given', async () => {
    const events: Event[] = [];
    const { receiver, port } = await start(sink(events), [['mon-a', keyA]]);
    const msg = (key: typeof keyA) =>
      encodeDatagram({ deviceId: 'mon-a', sequence: 1, timestamp: 1, measurements: [] }, key);
    await sendAll(port, [msg(keyB)]);
    await until(() => events.length === 1);
    receiver.setKeys([['mon-a', keyB]]);
    await new Promise((r) => setTimeout(r, 50));
    await sendAll(port, [msg(keyB), msg(keyA)]);
    await until(() => events.length === 3);
    await receiver.close();
    expect(events.map((e) => (e.kind === 'ok' ? 'ok' : e.reason))).toEqual(['bad_tag', 'ok', 'bad_tag']);
  });

  it('refuses a port that is already bound, with the socket error', async () => {
    const taken = dgram.createSocket('udp4');
    await new Promise<void>((r) => taken.bind(0, '127.0.0.1', r));
    open.push({ close: () => new Promise((r) => taken.close(() => r(undefined))) });
    await expect(start(sink([]), [], taken.address().port)).rejects.toThrow(/EADDRINUSE/);
  });
});
