/**
 * The small control protocol between `carewire bench transport` (client) and `carewire bench serve`
 * (server): newline-delimited JSON over one TCP connection. The client asks for `hello` to learn
 * the ports, the TLS certificate to trust and whether sockperf runs there, and for `sink-stats`
 * after each UDP rate step to learn what arrived. Also the header of UDP rate-test datagrams.
 */
import type { MachineInfo } from './machine.ts';

export const PROTOCOL_VERSION = 1;
/** Default control port of `carewire bench serve`; the measured listeners use ephemeral ports. */
export const DEFAULT_CONTROL_PORT = 7870;
/** Longest control line accepted: the hello reply carries a PEM certificate, requests are tiny. */
export const MAX_CONTROL_LINE = 64 * 1024;
/** Largest message the echo servers accept (HTTP body, WebSocket message); keeps the server bounded. */
export const MAX_MESSAGE_BYTES = 1024 * 1024;
/** The biggest payload a single IPv4 UDP datagram can carry. */
export const MAX_UDP_PAYLOAD = 65_507;
/** UDP rate-test datagrams start with: u32 run id, u32 sequence number (big-endian). */
export const SINK_HEADER_BYTES = 8;

export interface ServerInfo {
  version: number;
  /** Ports of the echo listeners (all on the host the client connected to). */
  ports: { udp: number; tcp: number; tls: number; http: number; sink: number };
  /** WebSocket echo lives on the HTTP port under this path. */
  wsPath: string;
  /** Self-signed certificate (PEM) the client pins, and the name it was issued for. */
  tlsCert: string;
  tlsServerName: string;
  /** sockperf servers started beside ours, or null when sockperf is not installed there. */
  sockperf: { version: string; udpPort: number; tcpPort: number } | null;
  sinkRecvBufferBytes: number;
  machine: MachineInfo;
  pid: number;
}

export interface SinkStats {
  run: number;
  received: number;
  /** Datagrams that arrived with a sequence number lower than one already seen. */
  reordered: number;
  duplicates: number;
  highestSeq: number;
}

export type ControlRequest = { op: 'hello' } | { op: 'sink-stats'; run: number };
export type ControlReply = ({ ok: true } & (ServerInfo | SinkStats)) | { ok: false; error: string };

/** Parses one control request line, rejecting anything that is not exactly a known request. */
export function parseControlRequest(line: string): ControlRequest {
  let value: unknown;
  try {
    value = JSON.parse(line);
  } catch {
    throw new Error('control request is not JSON');
  }
  if (typeof value !== 'object' || value === null) throw new Error('control request must be an object');
  const op = (value as { op?: unknown }).op;
  if (op === 'hello') return { op };
  if (op === 'sink-stats') {
    const run = (value as { run?: unknown }).run;
    if (typeof run !== 'number' || !Number.isInteger(run) || run < 0 || run > 0xffffffff) {
      throw new Error('sink-stats needs an integer run id 0..2^32-1');
    }
    return { op, run };
  }
  throw new Error(`unknown control op ${JSON.stringify(op)}`);
}

/**
 * Splits a byte stream into lines, refusing any line longer than `maxLine` so a peer cannot make
 * us buffer without bound. Returns a push function; it throws when the limit is crossed.
 */
export function lineSplitter(maxLine: number, onLine: (line: string) => void): (chunk: Buffer) => void {
  let pending = '';
  return (chunk) => {
    pending += chunk.toString('utf8');
    let nl = pending.indexOf('\n');
    while (nl !== -1) {
      const line = pending.slice(0, nl);
      pending = pending.slice(nl + 1);
      if (line.length > maxLine) throw new Error(`control line longer than ${maxLine} bytes`);
      if (line.trim() !== '') onLine(line);
      nl = pending.indexOf('\n');
    }
    if (pending.length > maxLine) throw new Error(`control line longer than ${maxLine} bytes`);
  };
}
