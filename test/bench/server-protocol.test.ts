import dgram from 'node:dgram';
import http from 'node:http';
import net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ControlClient } from '../../src/transport-bench/control-client.ts';
import { parseCount, parseProtocols, parseSizes } from '../../src/transport-bench/options.ts';
import { pingPong } from '../../src/transport-bench/pingpong.ts';
import {
  lineSplitter,
  MAX_CONTROL_LINE,
  MAX_MESSAGE_BYTES,
  parseControlRequest,
  type ServerInfo,
} from '../../src/transport-bench/protocol.ts';
import { type BenchServer, startBenchServer } from '../../src/transport-bench/server.ts';
import { measureSetup } from '../../src/transport-bench/setup.ts';
import { UdpSinkCounter } from '../../src/transport-bench/sink.ts';
import { parseSockperfCounters, parseSockperfLog } from '../../src/transport-bench/sockperf.ts';
import { formatTable, markdownTable } from '../../src/transport-bench/table.ts';
import { udpSweep } from '../../src/transport-bench/udp-sweep.ts';

let server: BenchServer;
let info: ServerInfo;
let control: ControlClient;

beforeAll(async () => {
  server = await startBenchServer({ host: '127.0.0.1', controlPort: 0, sockperf: false, sockperfCpu: null });
  control = await ControlClient.connect('127.0.0.1', server.controlPort);
  info = await control.hello();
});

afterAll(async () => {
  control.close();
  await server.close();
});

/** Sends raw bytes to the control port and collects what comes back until the server closes or 500 ms pass. */
function rawControl(payload: string | Buffer): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = net.connect(server.controlPort, '127.0.0.1');
    let got = '';
    const timer = setTimeout(() => {
      s.destroy();
      resolve(got);
    }, 500);
    s.on('data', (d) => {
      got += d.toString();
    });
    s.on('close', () => {
      clearTimeout(timer);
      resolve(got);
    });
    s.on('error', reject);
    s.write(payload);
  });
}

describe('bench server control protocol', () => {
  it('answers hello with its ports and the certificate to pin', () => {
    expect(info.version).toBe(1);
    for (const p of Object.values(info.ports)) expect(p).toBeGreaterThan(0);
    expect(info.tlsCert).toMatch(/^-----BEGIN CERTIFICATE-----/);
    expect(info.sockperf).toBeNull();
    expect(info.pid).toBe(process.pid);
  });

  it('answers malformed requests with an error and keeps serving', async () => {
    const r = await rawControl('not json\n{"op":"launch"}\n{"op":"sink-stats","run":-1}\n{"op":"hello"}\n');
    const lines = r
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { ok: boolean; error?: string });
    expect(lines[0]).toEqual({ ok: false, error: 'control request is not JSON' });
    expect(lines[1]).toEqual({ ok: false, error: 'unknown control op "launch"' });
    expect(lines[2]?.error).toMatch(/integer run id/);
    expect(lines[3]?.ok).toBe(true);
  });

  it('drops a peer that sends an endless line', async () => {
    const r = await rawControl(Buffer.alloc(MAX_CONTROL_LINE + 10, 0x61));
    expect(JSON.parse(r.trim())).toEqual({
      ok: false,
      error: `control line longer than ${MAX_CONTROL_LINE} bytes`,
    });
  });

  it('parses requests strictly', () => {
    expect(parseControlRequest('{"op":"hello"}')).toEqual({ op: 'hello' });
    expect(parseControlRequest('{"op":"sink-stats","run":7}')).toEqual({ op: 'sink-stats', run: 7 });
    expect(() => parseControlRequest('null')).toThrow(/object/);
    expect(() => parseControlRequest('{"op":"sink-stats","run":1.5}')).toThrow(/integer/);
    expect(() => parseControlRequest('{"op":"sink-stats","run":4294967296}')).toThrow(/integer/);
    const lines: string[] = [];
    const push = lineSplitter(10, (l) => lines.push(l));
    push(Buffer.from('ab\ncd'));
    push(Buffer.from('e\n\n'));
    expect(lines).toEqual(['ab', 'cde']);
    expect(() => push(Buffer.from('0123456789ab'))).toThrow(/longer than 10/);
  });
});

describe('echo servers', () => {
  it('echo every protocol byte for byte (round trips complete and are counted)', async () => {
    for (const protocol of ['udp', 'tcp', 'tls', 'ws', 'http', 'tcp-nagle'] as const) {
      const r = await pingPong({ host: '127.0.0.1', info, protocol, size: 100, messages: 20, warmup: 2 });
      expect(r.rttUs).toHaveLength(20);
      expect(r.lost).toBe(0);
      for (const v of r.rttUs) expect(v).toBeGreaterThan(0);
    }
  });

  it('refuses an oversized or lying HTTP body', async () => {
    const status = (headers: Record<string, string>, body: Buffer): Promise<number> =>
      new Promise((resolve, reject) => {
        const req = http.request(
          { host: '127.0.0.1', port: info.ports.http, method: 'POST', path: '/echo', headers, agent: false },
          (res) => {
            res.resume();
            resolve(res.statusCode ?? 0);
          },
        );
        req.on('error', reject);
        req.end(body);
      });
    expect(await status({ 'content-length': String(MAX_MESSAGE_BYTES + 1) }, Buffer.alloc(0))).toBe(413);
    expect(await status({ 'transfer-encoding': 'chunked' }, Buffer.alloc(10))).toBe(411);
    expect(await status({ 'content-length': '3' }, Buffer.from('abc'))).toBe(200);
  });

  it('measures connection set-up, with TLS really resumed from a ticket', async () => {
    const r = await measureSetup({ host: '127.0.0.1', info, kind: 'tls-resumed', count: 3, warmup: 1 });
    expect(r.us).toHaveLength(3);
    expect(r.resumed).toBe(3);
    const full = await measureSetup({ host: '127.0.0.1', info, kind: 'tls-full', count: 2, warmup: 0 });
    expect(full.resumed).toBe(0);
  });

  it('counts UDP sink datagrams per run, with reordering, duplicates and junk', async () => {
    const c = new UdpSinkCounter();
    const dgram8 = (run: number, seq: number): Buffer => {
      const b = Buffer.alloc(8);
      b.writeUInt32BE(run, 0);
      b.writeUInt32BE(seq, 4);
      return b;
    };
    for (const seq of [0, 1, 3, 2, 3, 4]) c.add(dgram8(5, seq));
    c.add(Buffer.alloc(3));
    expect(c.stats(5)).toEqual({ run: 5, received: 5, reordered: 1, duplicates: 1, highestSeq: 4 });
    expect(c.malformed).toBe(1);
    c.add(dgram8(6, 0)); // a new run starts from zero
    expect(c.stats(6).received).toBe(1);
    expect(c.stats(5).received).toBe(0);

    const sweep = await udpSweep({
      host: '127.0.0.1',
      port: info.ports.sink,
      control,
      size: 64,
      seconds: 0.02,
      startRate: 1000,
      maxRate: 2000,
      lossThreshold: 0.5,
    });
    expect(sweep.steps.map((s) => s.targetRate)).toEqual([1000, 2000]);
    for (const s of sweep.steps) expect(s.received).toBe(s.sent);
    await expect(
      udpSweep({
        host: '127.0.0.1',
        port: info.ports.sink,
        control,
        size: 4,
        seconds: 0.01,
        startRate: 1,
        maxRate: 1,
        lossThreshold: 0,
      }),
    ).rejects.toThrow(/≥ 8 bytes/);
  });

  it('counts a UDP echo that never answers as lost, then gives up', async () => {
    const silent = dgram.createSocket('udp4');
    await new Promise<void>((r) => silent.bind(0, '127.0.0.1', () => r()));
    const fake = { ...info, ports: { ...info.ports, udp: silent.address().port } };
    await expect(
      pingPong({
        host: '127.0.0.1',
        info: fake,
        protocol: 'udp',
        size: 64,
        messages: 1,
        warmup: 0,
        udpTimeoutMs: 20,
      }),
    ).rejects.toThrow(/does not answer/);
    silent.close();
  });
});

describe('options, sockperf output and tables', () => {
  it('parses sizes, protocols and counts, refusing nonsense', () => {
    expect(parseSizes('1024,64,16k,64')).toEqual([64, 1024, 16384]);
    expect(() => parseSizes('64,')).toThrow(/list like/);
    expect(() => parseSizes('12')).toThrow(/outside 16/);
    expect(() => parseSizes('2048k')).toThrow(/outside/);
    expect(() => parseSizes('1e3')).toThrow(/not a size/);
    expect(parseProtocols('UDP,tcp,udp')).toEqual(['udp', 'tcp']);
    expect(() => parseProtocols('udp,sctp')).toThrow(/unknown "sctp"/);
    expect(parseCount('2000', '--messages')).toBe(2000);
    expect(() => parseCount('0', '--messages')).toThrow(/between 1/);
    expect(() => parseCount('12abc', '--messages')).toThrow(/whole number/);
  });

  it('reads sockperf full logs and counters, refusing malformed logs', () => {
    const log = [
      '------------------------------',
      'packet, txTime(sec), rxTime(sec), rtt(usec)',
      '0, 2.418674369, 2.418793240, 118.871',
      '1, 2.418793411, 2.418907703, 114.292',
      '------------------------------',
    ].join('\n');
    expect(parseSockperfLog(log)).toEqual([118.871, 114.292]);
    expect(() => parseSockperfLog('no header\n1,2,3,4')).toThrow(/no "packet," header/);
    expect(() => parseSockperfLog('packet, a, b, c\n0, 1, 2')).toThrow(/malformed sockperf log line/);
    expect(() => parseSockperfLog('packet, a, b, c\n0, 1, 2, -5')).toThrow(/malformed sockperf RTT/);
    expect(
      parseSockperfCounters('# dropped messages = 3; # duplicated messages = 0; # out-of-order messages = 2'),
    ).toEqual({
      dropped: 3,
      outOfOrder: 2,
    });
  });

  it('formats console and Markdown tables', () => {
    const t = {
      columns: ['what', 'p50'],
      rows: [
        ['udp', '87 µs'],
        ['tls | x', '1.2 ms'],
      ],
    };
    expect(formatTable(t).split('\n')).toEqual([
      'what        p50',
      '───────  ──────',
      'udp       87 µs',
      'tls | x  1.2 ms',
    ]);
    expect(markdownTable(t).split('\n')).toEqual([
      '| what | p50 |',
      '|:---|---:|',
      '| udp | 87 µs |',
      '| tls \\| x | 1.2 ms |',
    ]);
  });
});
