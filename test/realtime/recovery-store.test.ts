/**
 * The mechanism of src/realtime/recovery-store.ts, on a real server and client over loopback: one
 * event kept out of Socket.IO's connection-state-recovery store, another kept in it. Both still
 * arrive live (through the direct broadcast path too), and a recovered socket gets the kept events
 * it missed and none of the skipped ones (the client replays those from the database by
 * resubscribing). The events are named `vitals` (skipped) and `alarm` (kept) here; the server
 * itself skips both, and keeps escalations and NEWS2 (realtime/server.ts).
 */
import { createServer } from 'node:http';
import { Server } from 'socket.io';
import { io as client, type Socket } from 'socket.io-client';
import { afterEach, describe, expect, it } from 'vitest';
import { installFastBroadcast } from '../../src/realtime/fast-broadcast.ts';
import { skipRecoveryStore } from '../../src/realtime/recovery-store.ts';

let io: Server | undefined;
let sock: Socket | undefined;

afterEach(async () => {
  sock?.disconnect();
  await io?.close();
  io = undefined;
  sock = undefined;
});

async function until(cond: () => boolean): Promise<void> {
  for (let i = 0; i < 300 && !cond(); i++) await new Promise((r) => setTimeout(r, 10));
  expect(cond()).toBe(true);
}

async function start(recovery: boolean): Promise<{ server: Server; url: string }> {
  const http = createServer();
  const server = new Server(http, {
    serveClient: false,
    ...(recovery ? { connectionStateRecovery: { maxDisconnectionDuration: 30_000 } } : {}),
  });
  io = server;
  installFastBroadcast(server);
  server.on('connection', (s) => void s.join('ward'));
  await new Promise<void>((r) => http.listen(0, '127.0.0.1', r));
  return { server, url: `http://127.0.0.1:${(http.address() as { port: number }).port}` };
}

describe('skipRecoveryStore', () => {
  it('stores the kept event for recovery but not the skipped one, and a recovered socket gets only the missed kept ones', async () => {
    const { server, url } = await start(true);
    expect(skipRecoveryStore(server, ['vitals'])).toBe(true);
    const packets = (server.of('/').adapter as unknown as { packets: Array<{ data: unknown[] }> }).packets;
    const got: string[] = [];
    sock = client(url, { transports: ['websocket'], forceNew: true, reconnectionDelay: 50 });
    sock.onAny((event: string, body: { n: number }) => got.push(`${event}:${body.n}`));
    await new Promise((r) => sock?.once('connect', () => r(undefined)));

    for (let n = 0; n < 3; n++) {
      server.to('ward').emit('vitals', { n });
      server.to('ward').emit('alarm', { n });
    }
    await until(() => got.length === 6);
    expect(got).toEqual(['vitals:0', 'alarm:0', 'vitals:1', 'alarm:1', 'vitals:2', 'alarm:2']);
    expect(packets.map((p) => p.data[0])).toEqual(['alarm', 'alarm', 'alarm']);

    // A network blip: the transport closes under the client, which reconnects and recovers.
    const recovered = new Promise<boolean>((r) => sock?.once('connect', () => r(sock?.recovered === true)));
    (sock.io.engine as unknown as { close(): void }).close();
    await until(() => server.of('/').sockets.size === 0);
    server.to('ward').emit('vitals', { n: 3 });
    server.to('ward').emit('alarm', { n: 3 });
    expect(await recovered).toBe(true);
    await until(() => got.length === 7);
    expect(got[6]).toBe('alarm:3');
  });

  it('changes nothing when recovery is off', async () => {
    const { server } = await start(false);
    expect(skipRecoveryStore(server, ['vitals'])).toBe(false);
  });
});
