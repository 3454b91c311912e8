/**
 * The real-time core: Socket.IO 4 on the HTTP server's own port. Sockets authenticate like HTTP
 * requests, join rooms through the access policy (subscriptions.ts), and receive bus events routed
 * to patient and ward rooms: alarms, escalations and NEWS2 at once, vitals coalesced to 4 per
 * second per patient.
 *
 * Several nodes: with a Redis URL, Socket.IO uses the Redis Streams adapter (connection state
 * recovery then works across nodes, and server-side broadcasts reach every node). Bus events are
 * emitted with `io.local`: every node already receives every bus event, so a cluster-wide emit
 * would deliver each one once per node.
 *
 * Nothing lost across a reconnect or a restart: events carry store offsets, and a client that
 * resubscribes with its offsets gets what it missed from the store (replay.ts). Socket.IO's own
 * connection state recovery sits on top (a short network blip costs no query).
 *
 * Bounded: handshake size, request rate per socket, sockets per node, and each socket's outgoing
 * buffer; a socket whose buffer passes the bound is disconnected (it then reconnects and replays
 * from its offsets), so one slow browser cannot grow the server's memory.
 */
import type { Server as HttpServer } from 'node:http';
import type { Logger } from 'pino';
import { Counter, Gauge, type Registry } from 'prom-client';
import { createClient } from 'redis';
import { Server, type Socket } from 'socket.io';
import type { Actor } from '../auth/policy.ts';
import type { Config } from '../config.ts';
import { AppError } from '../errors.ts';
import { cookieNames } from '../http/auth-hook.ts';
import type { AlarmEvent } from '../monitoring/alarm-lifecycle.ts';
import type { Services } from '../services.ts';
import { FLUSH_MS, VitalsCoalescer } from './coalescer.ts';
import { installFastBroadcast } from './fast-broadcast.ts';
import { authenticateHandshake, handshakeError } from './handshake.ts';
import { PatientDirectory } from './patient-directory.ts';
import {
  type AlarmEventPayload,
  type DeniedPayload,
  type EscalationPayload,
  EVENTS,
  type Values,
  type VitalsUpdate,
} from './protocol.ts';
import { skipRecoveryStore } from './recovery-store.ts';
import { news2FromBus } from './replay.ts';
import {
  DEVICES_ROOM,
  parseSubscribe,
  patientRoom,
  RequestBudget,
  Subscriptions,
  wardRoom,
} from './subscriptions.ts';

export interface RealtimeOptions {
  server: HttpServer;
  services: Services;
  config: Config;
  logger: Logger;
  tls: boolean;
  registry?: Registry | undefined;
  /** Sockets per node; more are refused at the handshake. Default 20,000. */
  maxSockets?: number;
  /** A socket with more unsent packets than this is disconnected. Default 5,000. */
  maxBufferedPackets?: number;
  /** …or more unsent bytes on its WebSocket. Default 8 MiB. */
  maxBufferedBytes?: number;
  /** How often sockets' credentials are checked again (expired token, ended session). Default 10 s. */
  authSweepMs?: number;
}

export interface Realtime {
  readonly io: Server;
  readonly stats: { connections: number; overflows: number; expired: number; denied: number };
  close(): Promise<void>;
}

interface SocketData {
  actor: Actor;
  token: string;
}

export async function attachRealtime(o: RealtimeOptions): Promise<Realtime> {
  const { services, config, logger } = o;
  const log = logger.child({ part: 'realtime' });
  const cookie = cookieNames(o.tls).access;
  const allowedOrigins = new Set(config.corsOrigins);
  if (config.publicUrl) allowedOrigins.add(new URL(config.publicUrl).origin);
  const maxSockets = o.maxSockets ?? 20_000;
  const maxPackets = o.maxBufferedPackets ?? 5000;
  const maxBytes = o.maxBufferedBytes ?? 8 * 1024 * 1024;
  const stats = { connections: 0, overflows: 0, expired: 0, denied: 0 };

  let redis: ReturnType<typeof createClient> | undefined;
  let adapter: Parameters<Server['adapter']>[0] | undefined;
  if (config.redisUrl) {
    const { createAdapter } = await import('@socket.io/redis-streams-adapter');
    redis = createClient({ url: config.redisUrl });
    redis.on('error', (err: Error) => log.warn({ err }, 'redis (socket.io adapter)'));
    await redis.connect();
    adapter = createAdapter(redis, { streamName: 'carewire:socket.io' }) as Parameters<Server['adapter']>[0];
  }

  const io = new Server(o.server, {
    serveClient: false,
    // Subscribe requests are small; anything bigger is not ours.
    maxHttpBufferSize: 64 * 1024,
    pingInterval: 10_000,
    pingTimeout: 5000,
    connectionStateRecovery: { maxDisconnectionDuration: 30_000, skipMiddlewares: false },
    ...(adapter ? { adapter } : {}),
  });

  installFastBroadcast(io);
  // Vitals and alarms are replayed from the store on resubscribe; keeping them for recovery only
  // costs memory (and, kept for 90 s at alarm-storm rates, garbage-collector pauses).
  skipRecoveryStore(io, [EVENTS.vitals, EVENTS.alarm]);
  const directory = new PatientDirectory(services.store.db);
  await directory.start();
  const subscriptions = new Subscriptions(services, directory);

  io.use((socket, next) => {
    if (io.engine.clientsCount > maxSockets) {
      next(handshakeError(new AppError(503, 'busy', `this node serves ${maxSockets} sockets at most`)));
      return;
    }
    const h = socket.handshake;
    authenticateHandshake(
      services.auth,
      { headers: h.headers, auth: h.auth, address: h.address, secure: o.tls },
      cookie,
      allowedOrigins,
    ).then(
      ({ actor, credentials }) => {
        (socket.data as SocketData) = { actor, token: credentials.token };
        next();
      },
      (err: unknown) => next(handshakeError(err)),
    );
  });

  io.on('connection', (socket: Socket) => {
    stats.connections++;
    // The handshake (headers, address) is copied into socket.handshake; the upgrade request
    // itself is kept by Engine.IO for nothing after that (Socket.IO's memory advice): about a
    // third of a socket's memory at 10,000 sockets.
    (socket.conn as unknown as { request: unknown }).request = null;
    const budget = new RequestBudget();
    socket.on(EVENTS.subscribe, (raw: unknown, ack?: unknown) => {
      const reply = typeof ack === 'function' ? (ack as (a: unknown) => void) : () => {};
      const { actor } = socket.data as SocketData;
      Promise.resolve()
        .then(() => {
          budget.take();
          return subscriptions.subscribe(socket, actor, parseSubscribe(raw));
        })
        .then(reply, (err: unknown) => {
          const error = deniedOf(err);
          if (error.code === 'internal') log.error({ err }, 'subscribe failed');
          stats.denied++;
          socket.emit(EVENTS.denied, error);
          reply({ ok: false, error });
        });
    });
  });

  // Bus → rooms.
  const coalescer = new VitalsCoalescer();
  const unsubscribe: Array<() => Promise<void>> = [];
  const bus = services.bus;
  unsubscribe.push(
    await bus.subscribe<{ samples?: Array<{ patientId: string | null; ts: number; values: Values }> }>(
      'vitals',
      (m) => {
        for (const s of m.samples ?? []) if (s.patientId) coalescer.add(s.patientId, s.ts, s.values);
      },
    ),
    await bus.subscribe<AlarmEvent>('alarm', (e) => {
      // Audio pause events carry no alarm; the station keeps its own mute.
      if (!e || !('alarm' in e) || !e.alarm?.patientId) return;
      const payload: AlarmEventPayload = { type: e.type, at: e.at, offset: e.at, alarm: e.alarm };
      toPatient(e.alarm.patientId, EVENTS.alarm, payload);
    }),
    await bus.subscribe<EscalationPayload & { clinicianIds?: string[] }>('alarm.escalated', (e) => {
      if (!e?.patientId) return;
      const { clinicianIds: _who, ...payload } = e;
      toPatient(e.patientId, EVENTS.escalation, payload);
    }),
    await bus.subscribe<Record<string, unknown>>('news2', (m) => {
      const p = news2FromBus(m);
      if (p) toPatient(p.patientId, EVENTS.news2, p);
    }),
    await bus.subscribe<unknown>('alarm.device', (m) => {
      io.local.to(DEVICES_ROOM).emit(EVENTS.deviceAlarm, m);
    }),
  );

  function toPatient(patientId: string, event: string, payload: unknown): void {
    directory.with(patientId, (p) => {
      const rooms = p?.ward ? [patientRoom(patientId), wardRoom(p.ward)] : [patientRoom(patientId)];
      io.local.to(rooms).emit(event, payload);
    });
  }

  const flushTimer = setInterval(() => {
    if (coalescer.size === 0) return;
    const byWard = new Map<string, VitalsUpdate[]>();
    for (const [patientId, sample] of coalescer.drain()) {
      const update: VitalsUpdate = { patientId, samples: [sample] };
      io.local.to(patientRoom(patientId)).emit(EVENTS.vitals, { updates: [update] });
      const ward = directory.get(patientId)?.ward;
      if (ward) {
        const list = byWard.get(ward);
        if (list) list.push(update);
        else byWard.set(ward, [update]);
      } else if (ward === undefined) {
        // Not yet known: look it up, so the next flush routes it to its ward.
        directory.with(patientId, () => {});
      }
    }
    // One packet per ward per flush, encoded once for every socket watching the ward.
    for (const [ward, updates] of byWard) io.local.to(wardRoom(ward)).emit(EVENTS.vitals, { updates });
  }, FLUSH_MS);
  flushTimer.unref();

  const watchdog = setInterval(() => {
    for (const socket of io.of('/').sockets.values()) {
      const conn = socket.conn as unknown as {
        writeBuffer: unknown[];
        transport: { socket?: { bufferedAmount?: number } };
      };
      const bytes = conn.transport.socket?.bufferedAmount ?? 0;
      if (conn.writeBuffer.length > maxPackets || bytes > maxBytes) {
        stats.overflows++;
        log.warn(
          { user: (socket.data as SocketData).actor.username, packets: conn.writeBuffer.length, bytes },
          'socket buffer over its bound: disconnected',
        );
        socket.disconnect(true);
      }
    }
  }, 1000);
  watchdog.unref();

  const authSweep = setInterval(() => {
    for (const socket of io.of('/').sockets.values()) {
      const d = socket.data as SocketData;
      let ok: boolean | undefined;
      try {
        ok = services.auth.authenticateCached(d.token) !== undefined ? true : undefined;
      } catch {
        ok = false;
      }
      const expire = () => {
        stats.expired++;
        socket.emit(EVENTS.sessionExpired, {
          message: 'access token expired or session ended; refresh and reconnect',
        });
        socket.disconnect(true);
      };
      if (ok === false) expire();
      else if (ok === undefined) services.auth.authenticate(d.token).catch(expire);
    }
  }, o.authSweepMs ?? 10_000);
  authSweep.unref();

  if (o.registry) {
    const registry = o.registry;
    registry.registerMetric(
      new Gauge({
        name: 'carewire_realtime_sockets',
        help: 'Connected Socket.IO sockets on this node',
        registers: [],
        collect() {
          this.set(io.engine.clientsCount);
        },
      }),
    );
    registry.registerMetric(
      new Counter({
        name: 'carewire_realtime_overflow_disconnects_total',
        help: 'Sockets disconnected because their outgoing buffer passed its bound',
        registers: [],
        collect() {
          this.reset();
          this.inc(stats.overflows);
        },
      }),
    );
  }

  let closing: Promise<void> | undefined;
  return {
    io,
    stats,
    close() {
      closing ??= (async () => {
        clearInterval(flushTimer);
        clearInterval(watchdog);
        clearInterval(authSweep);
        directory.stop();
        await Promise.allSettled(unsubscribe.map((u) => u()));
        // Not io.close(): that would also close the HTTP server, which Fastify closes itself.
        // Closing the transports (not a Socket.IO disconnect) tells clients to reconnect, which
        // they do on their own to this node after a restart or to another one.
        io.engine.close();
        await io.of('/').adapter.close();
        await redis?.close().catch(() => {});
      })();
      return closing;
    },
  };
}

function deniedOf(err: unknown): DeniedPayload {
  if (err instanceof AppError) {
    const code =
      err.status === 403
        ? 'forbidden'
        : err.status === 404
          ? 'not-found'
          : err.status === 429
            ? 'rate-limited'
            : err.status < 500
              ? 'bad-request'
              : 'internal';
    return { code, message: err.message };
  }
  return { code: 'internal', message: 'internal error' };
}
