/**
 * Ping-pong round trips, one message outstanding: send, wait for the whole echo, record, repeat.
 * This is the latency a device or an integration sees per transaction. The hot loop reuses one
 * payload buffer (safe: the previous send is complete once its echo is back), records into a
 * preallocated Float64Array, and takes `performance.now()` (a double, no BigInt) right before the
 * send and first thing in the reply handler, so Node's own work is all that sits between them.
 */
import dgram from 'node:dgram';
import http from 'node:http';
import net from 'node:net';
import tls from 'node:tls';
import { WebSocket } from 'ws';
import type { ServerInfo } from './protocol.ts';

/** `tcp-nagle` is TCP with Nagle left on and each message written in two parts (see docs/transport.md). */
export const PROTOCOLS = ['udp', 'tcp', 'tls', 'ws', 'http', 'tcp-nagle'] as const;
export type Protocol = (typeof PROTOCOLS)[number];

export interface PingPongSpec {
  host: string;
  info: ServerInfo;
  protocol: Protocol;
  size: number;
  /** Measured round trips. */
  messages: number;
  /** Round trips before measuring starts (JIT, caches, TCP window), not recorded. */
  warmup: number;
  /** A UDP message without reply for this long counts as lost and the next one is sent. */
  udpTimeoutMs?: number;
  /** Any other protocol that stalls this long fails the run. */
  stallTimeoutMs?: number;
  onProgress?: (roundTrips: number) => void;
}

export interface PingPongRun {
  /** Round-trip times in microseconds, one per measured message. */
  rttUs: Float64Array;
  /** UDP messages (or their replies) that never came back. */
  lost: number;
  /** Wall-clock seconds of the measured part. */
  seconds: number;
}

const PROGRESS_EVERY = 64;

/** Counts round trips and records their times; shared by every protocol's loop. */
class RoundTrips {
  readonly rttUs: Float64Array;
  private i: number;
  private t0 = 0;
  private measuredStart = 0;
  private readonly onProgress: ((n: number) => void) | undefined;
  private sinceProgress = 0;

  constructor(spec: PingPongSpec) {
    this.rttUs = new Float64Array(spec.messages);
    this.i = -spec.warmup;
    this.onProgress = spec.onProgress;
  }

  /** Sequence number of the round trip in flight (wraps at 2^32). */
  get seq(): number {
    return (this.i + 0x100000000) >>> 0;
  }

  get sentAt(): number {
    return this.t0;
  }

  markSent(): void {
    this.t0 = performance.now();
    if (this.measuredStart === 0 && this.i >= 0) this.measuredStart = this.t0;
  }

  /** Records the reply that just arrived; returns true while more round trips are due. */
  replied(): boolean {
    const t = performance.now();
    if (this.i >= 0) this.rttUs[this.i] = (t - this.t0) * 1000;
    this.i++;
    if (this.onProgress && ++this.sinceProgress === PROGRESS_EVERY) {
      this.onProgress(this.sinceProgress);
      this.sinceProgress = 0;
    }
    return this.i < this.rttUs.length;
  }

  finish(lost: number): PingPongRun {
    if (this.onProgress && this.sinceProgress > 0) this.onProgress(this.sinceProgress);
    return { rttUs: this.rttUs, lost, seconds: (performance.now() - this.measuredStart) / 1000 };
  }
}

function payload(size: number): Buffer {
  // Not zeros: a compressing middlebox or a dedup bug would flatter an all-zero payload.
  const b = Buffer.alloc(size);
  for (let i = 0; i < size; i++) b[i] = (i * 131 + 7) & 0xff;
  return b;
}

function stallGuard(rt: RoundTrips, ms: number, onStall: () => void): NodeJS.Timeout {
  return setInterval(
    () => {
      if (performance.now() - rt.sentAt > ms) onStall();
    },
    Math.max(50, ms / 4),
  ).unref();
}

export function pingPong(spec: PingPongSpec): Promise<PingPongRun> {
  if (!Number.isInteger(spec.messages) || spec.messages < 1) throw new RangeError('messages must be ≥ 1');
  switch (spec.protocol) {
    case 'udp':
      return udpPingPong(spec);
    case 'tcp':
    case 'tcp-nagle':
      return streamPingPong(spec, connectTcp);
    case 'tls':
      return streamPingPong(spec, connectTls);
    case 'ws':
      return wsPingPong(spec);
    case 'http':
      return httpPingPong(spec);
  }
}

function udpPingPong(spec: PingPongSpec): Promise<PingPongRun> {
  const timeoutMs = spec.udpTimeoutMs ?? 200;
  const type = net.isIPv6(spec.host) ? 'udp6' : 'udp4';
  const sock = dgram.createSocket(type);
  const buf = payload(spec.size);
  const rt = new RoundTrips(spec);
  let lost = 0;
  return new Promise((resolve, reject) => {
    const send = (): void => {
      buf.writeUInt32BE(rt.seq, 0);
      rt.markSent();
      sock.send(buf);
    };
    const done = (err: Error | null): void => {
      clearInterval(guard);
      sock.close();
      if (err) reject(err);
      else resolve(rt.finish(lost));
    };
    const guard = stallGuard(rt, timeoutMs, () => {
      lost++;
      if (lost > spec.messages + spec.warmup) {
        done(new Error(`UDP echo at ${spec.host}:${spec.info.ports.udp} does not answer`));
        return;
      }
      send();
    });
    sock.on('message', (msg) => {
      // A reply we already gave up on arrives late: not this round trip's.
      if (msg.length !== spec.size || msg.readUInt32BE(0) !== rt.seq) return;
      if (rt.replied()) send();
      else done(null);
    });
    sock.on('error', (err) => done(err));
    sock.connect(spec.info.ports.udp, spec.host, () => send());
  });
}

/** Receives the length of each chunk that arrived; the bytes themselves are never looked at. */
type OnChunk = (bytes: number) => void;

/**
 * TCP through `onread`: the socket reads into one buffer we own and calls back with the byte
 * count, skipping the Readable stream machinery and a fresh Buffer per read. Measured on the
 * 2-core VM: about 4 µs less per round trip than a 'data' listener.
 */
function connectTcp(spec: PingPongSpec, onChunk: OnChunk): Promise<net.Socket> {
  const buffer = Buffer.allocUnsafe(64 * 1024);
  return new Promise((resolve, reject) => {
    const s = net.connect({
      host: spec.host,
      port: spec.info.ports.tcp,
      noDelay: spec.protocol === 'tcp',
      onread: {
        buffer,
        callback: (n) => {
          onChunk(n);
          return true;
        },
      },
    });
    s.once('error', reject);
    s.once('connect', () => {
      s.off('error', reject);
      resolve(s);
    });
  });
}

const contexts = new WeakMap<ServerInfo, tls.SecureContext>();

/**
 * Connection options trusting exactly the bench server's certificate. The SecureContext is built
 * once per server and reused, as a real client keeps one: `tls.connect({ ca })` would parse the
 * CA and build a fresh OpenSSL context for every connection, a cost a long-running client never
 * pays and that would blur the handshake numbers.
 */
export function tlsOptions(spec: { host: string; info: ServerInfo }): tls.ConnectionOptions {
  let secureContext = contexts.get(spec.info);
  if (!secureContext) {
    secureContext = tls.createSecureContext({ ca: [spec.info.tlsCert], minVersion: 'TLSv1.3' });
    contexts.set(spec.info, secureContext);
  }
  return {
    host: spec.host,
    port: spec.info.ports.tls,
    secureContext,
    servername: spec.info.tlsServerName,
    minVersion: 'TLSv1.3',
  };
}

function connectTls(spec: PingPongSpec, onChunk: OnChunk): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const s = tls.connect(tlsOptions(spec));
    s.once('error', reject);
    s.once('secureConnect', () => {
      s.off('error', reject);
      s.setNoDelay(true);
      s.on('data', (d: Buffer) => onChunk(d.length));
      resolve(s);
    });
  });
}

async function streamPingPong(
  spec: PingPongSpec,
  connect: (spec: PingPongSpec, onChunk: OnChunk) => Promise<net.Socket>,
): Promise<PingPongRun> {
  const buf = payload(spec.size);
  // The Nagle demo writes a small header then the rest: the write-write-read pattern that meets
  // the peer's delayed ACK. Both parts are views into one buffer, so no copy per message.
  const split = spec.protocol === 'tcp-nagle' ? Math.min(8, spec.size - 1) : 0;
  const head = buf.subarray(0, split);
  const tail = buf.subarray(split);
  const rt = new RoundTrips(spec);
  let got = 0;
  let socket: net.Socket | null = null;
  let settle: ((err: Error | null) => void) | null = null;
  const send = (s: net.Socket): void => {
    got = 0;
    rt.markSent();
    if (split > 0) {
      s.write(head);
      s.write(tail);
    } else {
      s.write(buf);
    }
  };
  const onChunk = (n: number): void => {
    got += n;
    if (got < spec.size || !socket || !settle) return;
    if (got > spec.size) settle(new Error(`${spec.protocol} echo returned ${got} bytes for ${spec.size}`));
    else if (rt.replied()) send(socket);
    else settle(null);
  };
  const s = await connect(spec, onChunk);
  socket = s;
  return await new Promise((resolve, reject) => {
    const guard = stallGuard(rt, spec.stallTimeoutMs ?? 10_000, () =>
      done(new Error(`${spec.protocol} echo stalled`)),
    );
    const done = (err: Error | null): void => {
      settle = null;
      clearInterval(guard);
      s.destroy();
      if (err) reject(err);
      else resolve(rt.finish(0));
    };
    settle = done;
    s.on('error', (err) => done(err));
    send(s);
  });
}

function wsPingPong(spec: PingPongSpec): Promise<PingPongRun> {
  const url = `ws://${net.isIPv6(spec.host) ? `[${spec.host}]` : spec.host}:${spec.info.ports.http}${spec.info.wsPath}`;
  const ws = new WebSocket(url, { perMessageDeflate: false });
  const buf = payload(spec.size);
  const rt = new RoundTrips(spec);
  return new Promise((resolve, reject) => {
    const send = (): void => {
      rt.markSent();
      ws.send(buf);
    };
    const done = (err: Error | null): void => {
      clearInterval(guard);
      ws.terminate();
      if (err) reject(err);
      else resolve(rt.finish(0));
    };
    const guard = stallGuard(rt, spec.stallTimeoutMs ?? 10_000, () => done(new Error('ws echo stalled')));
    ws.on('message', (data: Buffer) => {
      if (data.length !== spec.size) {
        done(new Error(`ws echo returned ${data.length} bytes for ${spec.size}`));
        return;
      }
      if (rt.replied()) send();
      else done(null);
    });
    ws.on('error', (err) => done(err));
    ws.once('open', () => send());
  });
}

function httpPingPong(spec: PingPongSpec): Promise<PingPongRun> {
  // One keep-alive connection, one request at a time: the per-request cost, not connection set-up.
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  const buf = payload(spec.size);
  const rt = new RoundTrips(spec);
  const headers = { 'content-type': 'application/octet-stream', 'content-length': String(spec.size) };
  return new Promise((resolve, reject) => {
    let finished = false;
    const done = (err: Error | null): void => {
      if (finished) return;
      finished = true;
      clearInterval(guard);
      agent.destroy();
      if (err) reject(err);
      else resolve(rt.finish(0));
    };
    const send = (): void => {
      rt.markSent();
      const req = http.request(
        { host: spec.host, port: spec.info.ports.http, method: 'POST', path: '/echo', agent, headers },
        (res) => {
          let got = 0;
          res.on('data', (d: Buffer) => {
            got += d.length;
          });
          res.on('end', () => {
            if (res.statusCode !== 200 || got !== spec.size) {
              done(new Error(`http echo answered ${res.statusCode} with ${got} bytes for ${spec.size}`));
            } else if (rt.replied()) send();
            else done(null);
          });
        },
      );
      req.on('error', (err) => done(err));
      req.end(buf);
    };
    const guard = stallGuard(rt, spec.stallTimeoutMs ?? 10_000, () => done(new Error('http echo stalled')));
    send();
  });
}
