/**
 * Options of a transport benchmark run, their defaults and the parsers for the command-line forms
 * (`--sizes 64,1024,16384`, `--protocols udp,tcp`), shared by the CLI and bench/transport.ts.
 */

import { PROTOCOLS, type Protocol } from './pingpong.ts';
import type { PinMode } from './pinning.ts';
import { DEFAULT_CONTROL_PORT, MAX_MESSAGE_BYTES } from './protocol.ts';

export interface TransportBenchOptions {
  /** Measured round trips per protocol and size. */
  messages: number;
  sizes: number[];
  protocols: Protocol[];
  /** Connections per set-up kind; default derived from messages. */
  connections: number;
  /** Host of a running `carewire bench serve`, or null to start a local server process. */
  peer: string | null;
  peerPort: number;
  sockperf: boolean;
  sockperfSeconds: number;
  sweep: boolean;
  sweepSeconds: number;
  sweepMaxRate: number;
  /** Where a local run puts client and server (see PinMode); ignored with --peer. */
  pin: PinMode;
}

export const DEFAULT_SIZES = [64, 1024, 16384];
export const DEFAULT_PROTOCOLS: Protocol[] = ['udp', 'tcp', 'tls', 'ws', 'http'];
/** Smallest message: the UDP ping-pong carries a 4-byte sequence number and sockperf a 14-byte header. */
export const MIN_SIZE = 16;
export const MAX_MESSAGES = 10_000_000;

export function defaultConnections(messages: number): number {
  return Math.min(200, Math.max(10, Math.round(messages / 10)));
}

/**
 * Unmeasured round trips before each series: the new connection's slow start and the new size's
 * buffers. Small, because the JIT is already warm from prewarmFor.
 */
export function warmupFor(messages: number): number {
  return Math.min(100, Math.max(10, Math.round(messages / 20)));
}

/**
 * Unmeasured round trips per protocol before the first series. Generous, because both ends must
 * be warm: V8 optimises the send and receive paths only after some thousand calls, on the server
 * too.
 */
export function prewarmFor(messages: number): number {
  return Math.min(2000, Math.max(200, messages));
}

export function defaultTransportOptions(over: Partial<TransportBenchOptions> = {}): TransportBenchOptions {
  const messages = over.messages ?? 2000;
  return {
    messages,
    sizes: DEFAULT_SIZES,
    protocols: DEFAULT_PROTOCOLS,
    connections: defaultConnections(messages),
    peer: null,
    peerPort: DEFAULT_CONTROL_PORT,
    sockperf: true,
    sockperfSeconds: 1,
    sweep: true,
    sweepSeconds: 0.25,
    sweepMaxRate: 1_280_000,
    pin: 'off',
    ...over,
  };
}

export function parseCount(text: string, what: string, max = MAX_MESSAGES): number {
  if (!/^\d+$/.test(text.trim())) throw new Error(`${what} must be a whole number, got "${text}"`);
  const n = Number(text);
  if (n < 1 || n > max) throw new Error(`${what} must be between 1 and ${max}, got ${n}`);
  return n;
}

/** "64,1024,16k" → [64, 1024, 16384]; sizes are bytes, k = 1024. */
export function parseSizes(text: string): number[] {
  const parts = text.split(',').map((s) => s.trim());
  if (parts.length === 0 || parts.some((p) => p === ''))
    throw new Error(`--sizes needs a list like 64,1024,16384`);
  const sizes = parts.map((p) => {
    const m = /^(\d+)(k?)$/i.exec(p);
    if (!m) throw new Error(`--sizes: "${p}" is not a size in bytes`);
    const n = Number(m[1]) * (m[2] ? 1024 : 1);
    if (n < MIN_SIZE || n > MAX_MESSAGE_BYTES) {
      throw new Error(`--sizes: ${n} is outside ${MIN_SIZE}..${MAX_MESSAGE_BYTES} bytes`);
    }
    return n;
  });
  return [...new Set(sizes)].sort((a, b) => a - b);
}

export function parseProtocols(text: string): Protocol[] {
  const parts = text.split(',').map((s) => s.trim().toLowerCase());
  const out: Protocol[] = [];
  for (const p of parts) {
    if (!(PROTOCOLS as readonly string[]).includes(p)) {
      throw new Error(`--protocols: unknown "${p}" (known: ${PROTOCOLS.join(', ')})`);
    }
    if (!out.includes(p as Protocol)) out.push(p as Protocol);
  }
  if (out.length === 0) throw new Error('--protocols needs at least one protocol');
  return out;
}
