/**
 * Room broadcasts written straight to each WebSocket's TCP socket.
 *
 * Socket.IO pre-encodes a broadcast's WebSocket frame once, then hands it to every socket through
 * Engine.IO (a packet object, `packetCreate`/`flush`/`drain` events, a write callback, a
 * writable flag toggled per send) and ws (cork, two writes, writev). Writing 1,000 sockets took
 * 13–15 ms, of which ~10 µs a socket is the kernel's loopback send and ~3–4 µs that machinery
 * (measured: `npm run bench -- realtime`, CPU profile and perf of the server). The fan-out's p99
 * is that whole loop, so here, for a socket whose Engine.IO and ws state show nothing queued or
 * in flight, the frame (header and payload joined once per broadcast) goes to `socket.write`
 * directly: the same bytes in the same order. Any other socket takes Socket.IO's own path.
 *
 * Reached through Socket.IO's internals (`_encode`, `apply`, engine and ws fields): they are
 * checked at every use, and when any is missing everything falls back to the normal path.
 */
import type { Server } from 'socket.io';

interface NetSocketLike {
  writable: boolean;
  write(b: Buffer): boolean;
}
interface WsLike {
  readyState: number;
  _socket?: NetSocketLike;
  _sender?: { _queue?: unknown[]; _state?: number };
}
interface EngineSocketLike {
  readyState: string;
  writeBuffer: unknown[];
  transport: { name: string; writable: boolean; perMessageDeflate?: unknown; socket?: WsLike };
}
interface IoSocketLike {
  client: { conn: EngineSocketLike };
  notifyOutgoingListeners?: (packet: unknown) => void;
}
interface PacketOpts {
  volatile?: boolean;
  wsPreEncodedFrame?: Buffer[];
}
interface AdapterLike {
  _encode?: (packet: { id?: number }, opts: PacketOpts) => unknown[];
  apply?: (opts: unknown, cb: (socket: IoSocketLike) => void) => void;
}

/** The ws TCP socket of `s`, when a frame written to it now cannot overtake anything. */
function directSocket(s: IoSocketLike): NetSocketLike | undefined {
  const conn = s.client?.conn;
  if (conn?.readyState !== 'open' || conn.writeBuffer.length !== 0) return undefined;
  const t = conn.transport;
  if (t.name !== 'websocket' || !t.writable || t.perMessageDeflate) return undefined;
  const ws = t.socket;
  if (ws?.readyState !== 1 || !ws._socket?.writable) return undefined;
  const sender = ws._sender;
  if (!sender || (sender._queue?.length ?? 0) !== 0 || (sender._state ?? 0) !== 0) return undefined;
  return ws._socket;
}

export interface FastBroadcastStats {
  direct: number;
  fallback: number;
}

/** Installs the direct path on the default namespace's adapter; returns its counters. */
export function installFastBroadcast(io: Server): FastBroadcastStats {
  const stats: FastBroadcastStats = { direct: 0, fallback: 0 };
  const adapter = io.of('/').adapter as unknown as AdapterLike;
  const encode = adapter._encode?.bind(adapter);
  const apply = adapter.apply?.bind(adapter);
  if (!encode || !apply) return stats;
  // Set by `_encode` for a plain broadcast and taken by the `apply` call that follows it in the
  // same synchronous `broadcast` (acknowledged broadcasts and `apply` for other uses leave it unset).
  let pending: { frame: Buffer; packet: unknown } | undefined;
  adapter._encode = (packet, opts) => {
    const out = encode(packet, opts);
    const f = opts.wsPreEncodedFrame;
    pending =
      packet.id === undefined && !opts.volatile && Array.isArray(f) && f.length > 0
        ? { frame: f.length === 1 ? f[0]! : Buffer.concat(f), packet }
        : undefined;
    return out;
  };
  adapter.apply = (opts, cb) => {
    const p = pending;
    pending = undefined;
    if (!p) return apply(opts, cb);
    apply(opts, (socket) => {
      const direct = directSocket(socket);
      if (!direct) {
        stats.fallback++;
        cb(socket);
        return;
      }
      socket.notifyOutgoingListeners?.(p.packet);
      direct.write(p.frame);
      stats.direct++;
    });
  };
  return stats;
}
