/**
 * The direct broadcast path (src/realtime/fast-broadcast.ts) on a real Socket.IO server and real
 * clients over loopback: same bytes and order as Socket.IO's own path, offsets for connection
 * state recovery kept, and Socket.IO's path taken whenever a socket has something in flight.
 */
import { createServer, type Server as HttpServer } from 'node:http';
import { Server, type Socket as ServerSocket } from 'socket.io';
import { io as client, type Socket } from 'socket.io-client';
import { afterEach, describe, expect, it } from 'vitest';
import { type FastBroadcastStats, installFastBroadcast } from '../../src/realtime/fast-broadcast.ts';

interface Rig {
  io: Server;
  http: HttpServer;
  url: string;
  stats: FastBroadcastStats;
  clients: Socket[];
  serverSockets: ServerSocket[];
}

let rig: Rig | undefined;

async function start(fast: boolean, n: number): Promise<Rig> {
  const http = createServer();
  const io = new Server(http, {
    serveClient: false,
    connectionStateRecovery: { maxDisconnectionDuration: 30_000 },
  });
  const stats = fast ? installFastBroadcast(io) : { direct: 0, fallback: 0 };
  const serverSockets: ServerSocket[] = [];
  io.on('connection', (s) => {
    void s.join('ward');
    serverSockets.push(s);
  });
  await new Promise<void>((r) => http.listen(0, '127.0.0.1', r));
  const url = `http://127.0.0.1:${(http.address() as { port: number }).port}`;
  const clients = Array.from({ length: n }, () =>
    client(url, { transports: ['websocket'], forceNew: true, reconnection: false }),
  );
  await Promise.all(clients.map((c) => new Promise((r) => c.once('connect', () => r(undefined)))));
  rig = { io, http, url, stats, clients, serverSockets };
  return rig;
}

afterEach(async () => {
  if (!rig) return;
  for (const c of rig.clients) c.disconnect();
  await rig.io.close();
  rig = undefined;
});

/** Every event each client receives, in order, with Socket.IO's offset argument when present. */
function record(clients: Socket[]): Array<Array<[string, unknown[]]>> {
  return clients.map((c) => {
    const got: Array<[string, unknown[]]> = [];
    c.onAny((event: string, ...args: unknown[]) => got.push([event, args]));
    return got;
  });
}

async function settle(got: Array<Array<unknown>>, each: number): Promise<void> {
  for (let i = 0; i < 200 && got.some((g) => g.length < each); i++)
    await new Promise((r) => setTimeout(r, 10));
}

describe('direct room broadcasts', () => {
  it('delivers the same events, in order with per-socket emits, as Socket.IO does', async () => {
    const runs: Array<Array<Array<[string, unknown[]]>>> = [];
    for (const fast of [false, true]) {
      const r = await start(fast, 20);
      const got = record(r.clients);
      for (let i = 0; i < 30; i++) {
        r.io.to('ward').emit('alarm', { n: i, text: 'é ✓ ünïcode' });
        // Interleaved with each socket's own traffic: the order must survive both paths.
        if (i % 7 === 0) for (const s of r.serverSockets) s.emit('own', { n: i });
      }
      await settle(got, 35);
      if (fast) {
        expect(r.stats.direct).toBeGreaterThan(0);
        // With connection state recovery a socket's own emits are broadcasts to its own room too.
        expect(r.stats.direct + r.stats.fallback).toBe(35 * 20);
      }
      // The offsets differ from run to run; compare what the events carry.
      runs.push(got.map((g) => g.map(([e, args]) => [e, [args[0]]] as [string, unknown[]])));
      // Each broadcast carries a recovery offset (a string after the payload) on both paths.
      for (const g of got)
        for (const [e, args] of g) if (e === 'alarm') expect(typeof args[1]).toBe('string');
      for (const c of r.clients) c.disconnect();
      await r.io.close();
      rig = undefined;
    }
    expect(runs[1]).toEqual(runs[0]);
    expect(runs[1]![0]).toHaveLength(35);
  });

  it("takes Socket.IO's path for a socket with a send in flight, and keeps the order", async () => {
    const r = await start(true, 3);
    const got = record(r.clients);
    // Hold one socket's transport as if a write were still in flight: its packets queue in Engine.IO.
    const busy = r.serverSockets[0]!.conn as unknown as {
      transport: { writable: boolean; emit(e: string): void };
    };
    busy.transport.writable = false;
    r.io.to('ward').emit('alarm', { n: 1 });
    r.io.to('ward').emit('alarm', { n: 2 });
    expect(r.stats.fallback).toBe(2);
    expect(r.stats.direct).toBe(4);
    // Writable again but its queue not yet flushed: the next packet must queue behind the two,
    // not overtake them on the direct path (Socket.IO's path then flushes all three in order).
    busy.transport.writable = true;
    r.io.to('ward').emit('alarm', { n: 3 });
    expect(r.stats.fallback).toBe(3);
    r.io.to('ward').emit('alarm', { n: 4 });
    await settle(got, 4);
    for (const g of got) expect(g.map(([, a]) => (a[0] as { n: number }).n)).toEqual([1, 2, 3, 4]);
  });

  it('leaves acknowledged and volatile broadcasts to Socket.IO', async () => {
    const r = await start(true, 2);
    for (const c of r.clients) c.on('ping-me', (_x: unknown, ack: (v: string) => void) => ack('pong'));
    const answers = await r.io.to('ward').timeout(5000).emitWithAck('ping-me', {});
    expect(answers).toEqual(['pong', 'pong']);
    r.io.to('ward').volatile.emit('alarm', { n: 1 });
    expect(r.stats.direct).toBe(0);
  });
});
