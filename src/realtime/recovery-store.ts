/**
 * Keeps chosen events out of Socket.IO's connection-state-recovery store.
 *
 * With recovery on, the in-memory adapter keeps every non-volatile broadcast (its data and its
 * room set) for replay to a socket that reconnects within the window, and expires them only once a
 * minute: up to 90 s of packets. Vitals go out 4 times a second per patient, so with 1,000
 * patients that is ~360,000 retained packets; the old generation grew ~15 MB per 10 s round of
 * `npm run bench -- telemetry` and its major collections stole the CPU the UDP receiver needed.
 * Vitals need no such store: every (re)connect resubscribes with its per-patient vitals offsets and
 * the server replays the gap from the database (replay.ts), so a recovered socket loses nothing.
 * Alarm events are replayed the same way (by the alarm offset), and an alarm storm (1,000 frames/s
 * in `npm run bench -- telemetry`) kept ~1 MB/s of packets alive: each young-generation collection
 * copied them, and those pauses sat on the alarm ACK's path. Escalations and NEWS2 stay in it.
 *
 * Volatile emits would skip the store too, but they also drop a packet for any socket that is busy
 * sending, which a trend chart would show as a gap.
 */
import type { Server } from 'socket.io';

interface Packet {
  type: number;
  data?: unknown[];
}
type Broadcast = (packet: Packet, opts: unknown) => void;
interface RecoveringAdapter {
  packets?: unknown[];
  broadcast: Broadcast;
}

/**
 * Broadcasts of the named events skip the recovery store of the default namespace's in-memory
 * adapter. Returns false (and changes nothing) when that adapter keeps no such store (recovery off,
 * or the Redis adapter, which replays from its stream).
 */
export function skipRecoveryStore(io: Server, events: readonly string[]): boolean {
  const adapter = io.of('/').adapter as unknown as RecoveringAdapter;
  if (!Array.isArray(adapter.packets)) return false;
  const storing = Object.getPrototypeOf(adapter) as RecoveringAdapter;
  // The session-aware adapter's `broadcast` stores, then calls its parent's, which only sends.
  const plain = (Object.getPrototypeOf(storing) as Partial<RecoveringAdapter>).broadcast;
  if (typeof plain !== 'function' || plain === storing.broadcast) return false;
  const skip = new Set(events);
  const store = adapter.broadcast;
  adapter.broadcast = function (this: RecoveringAdapter, packet, opts) {
    const name = packet.data?.[0];
    if (typeof name === 'string' && skip.has(name)) plain.call(this, packet, opts);
    else store.call(this, packet, opts);
  };
  return true;
}
