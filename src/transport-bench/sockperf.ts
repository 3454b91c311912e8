/**
 * Runs sockperf (the C reference for socket latency, Debian package `sockperf`) beside our Node
 * measurement: servers on the bench-server side, ping-pong clients on the client side. Its
 * per-message log (--full-log) is summarised with our own stats so both columns use the same
 * percentile definition.
 */
import { spawn, spawnSync } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { pinnedCommand } from './pinning.ts';

/** sockperf refuses messages below 14 bytes (its header); UDP caps them at one datagram. */
export const SOCKPERF_MIN_SIZE = 14;
export const SOCKPERF_MAX_SIZE = 65_000;

/** The installed sockperf's version string, or null when it is not on PATH. */
export function sockperfVersion(bin = 'sockperf'): string | null {
  const r = spawnSync(bin, ['--version'], { encoding: 'utf8' });
  if (r.error || r.status !== 0) return null;
  const m = /version\s+([^\s,]+)/.exec(`${r.stdout}${r.stderr}`);
  return m ? m[1]! : 'unknown';
}

/** A port that was free a moment ago (sockperf cannot report an ephemeral port back to us). */
export async function freePort(host: string): Promise<number> {
  return await new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, host, () => {
      const { port } = s.address() as net.AddressInfo;
      s.close(() => resolve(port));
    });
  });
}

export interface SockperfServer {
  port: number;
  stop(): void;
}

/** Starts `sockperf server` and resolves once it says it is blocking on its socket. */
export async function startSockperfServer(opts: {
  host: string;
  tcp: boolean;
  cpu: number | null;
  bin?: string;
}): Promise<SockperfServer> {
  const port = await freePort(opts.host);
  const args = ['server', '-i', opts.host, '-p', String(port), ...(opts.tcp ? ['--tcp'] : [])];
  const [cmd, argv] = pinnedCommand(opts.cpu, opts.bin ?? 'sockperf', args);
  const child = spawn(cmd, argv, { stdio: ['ignore', 'pipe', 'pipe'] });
  await new Promise<void>((resolve, reject) => {
    let seen = '';
    const timer = setTimeout(() => fail(new Error(`sockperf server did not start: ${seen.trim()}`)), 5000);
    const onData = (d: Buffer): void => {
      seen += d.toString();
      // Printed once its receive thread is blocked on the socket, i.e. ready for traffic.
      if (seen.includes('to block on socket')) {
        clearTimeout(timer);
        resolve();
      }
    };
    const fail = (err: Error): void => {
      clearTimeout(timer);
      child.kill();
      reject(err);
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    child.once('error', fail);
    child.once('exit', (code) => fail(new Error(`sockperf server exited (${code}): ${seen.trim()}`)));
  });
  child.removeAllListeners('exit');
  child.stdout.resume();
  child.stderr.resume();
  return {
    port,
    stop: () => {
      if (child.exitCode === null) child.kill();
    },
  };
}

export interface SockperfRun {
  /** Round-trip times in microseconds, one per measured message. */
  rttUs: number[];
  dropped: number;
  outOfOrder: number;
}

/** Parses sockperf's --full-log CSV ("packet, txTime(sec), rxTime(sec), rtt(usec)"). */
export function parseSockperfLog(text: string): number[] {
  const out: number[] = [];
  let inTable = false;
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (line.startsWith('packet,')) {
      inTable = true;
      continue;
    }
    if (!inTable || line === '' || line.startsWith('---')) continue;
    const cols = line.split(',');
    if (cols.length < 4) throw new Error(`malformed sockperf log line: ${line}`);
    const rtt = Number(cols[3]);
    if (!Number.isFinite(rtt) || rtt < 0) throw new Error(`malformed sockperf RTT: ${line}`);
    out.push(rtt);
  }
  if (!inTable) throw new Error('sockperf log has no "packet," header');
  return out;
}

/** Reads "# dropped messages = N; ... # out-of-order messages = M" from sockperf's summary. */
export function parseSockperfCounters(output: string): { dropped: number; outOfOrder: number } {
  const dropped = /dropped messages = (\d+)/.exec(output);
  const ooo = /out-of-order messages = (\d+)/.exec(output);
  return { dropped: dropped ? Number(dropped[1]) : 0, outOfOrder: ooo ? Number(ooo[1]) : 0 };
}

/** One sockperf ping-pong run of `seconds` against a sockperf server. */
export async function runSockperfPingPong(opts: {
  host: string;
  port: number;
  tcp: boolean;
  size: number;
  seconds: number;
  cpu: number | null;
  bin?: string;
}): Promise<SockperfRun> {
  if (opts.size < SOCKPERF_MIN_SIZE || opts.size > SOCKPERF_MAX_SIZE) {
    throw new RangeError(
      `sockperf measures ${SOCKPERF_MIN_SIZE}..${SOCKPERF_MAX_SIZE} bytes, not ${opts.size}`,
    );
  }
  const dir = await mkdtemp(path.join(os.tmpdir(), 'carewire-sockperf-'));
  const log = path.join(dir, 'rtt.csv');
  try {
    // --dontwarmup skips a fixed 2 s warm-up stage: sockperf already leaves the first 400 ms of the
    // run out of its statistics, and we feed its samples through the same warm-up cut as ours.
    const args = ['ping-pong', '-i', opts.host, '-p', String(opts.port), '-m', String(opts.size)];
    args.push('-t', String(Math.max(1, Math.round(opts.seconds))), '--full-rtt', '--dontwarmup');
    args.push('--full-log', log, ...(opts.tcp ? ['--tcp'] : []));
    const [cmd, argv] = pinnedCommand(opts.cpu, opts.bin ?? 'sockperf', args);
    const output = await new Promise<string>((resolve, reject) => {
      const child = spawn(cmd, argv, { stdio: ['ignore', 'pipe', 'pipe'] });
      let text = '';
      child.stdout.on('data', (d: Buffer) => {
        text += d.toString();
      });
      child.stderr.on('data', (d: Buffer) => {
        text += d.toString();
      });
      child.once('error', reject);
      child.once('exit', (code) =>
        code === 0 ? resolve(text) : reject(new Error(`sockperf ping-pong exited ${code}: ${text}`)),
      );
    });
    if (output.includes('No messages were received')) {
      throw new Error(`sockperf got no replies from ${opts.host}:${opts.port}`);
    }
    const rttUs = parseSockperfLog(await readFile(log, 'utf8'));
    if (rttUs.length === 0) throw new Error('sockperf logged no round trips');
    return { rttUs, ...parseSockperfCounters(output) };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
