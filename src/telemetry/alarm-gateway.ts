/**
 * The TCP alarm channel (gateway `alarm`): TLS when the server has TLS (mutual TLS when
 * --alarm-client-ca is set), else plain TCP on loopback. Each connection is challenged, the device
 * proves it holds its key with a HELLO MAC over the fresh nonce (or is named by its client
 * certificate), and then sends ALARM frames. Each alarm is stored exactly once by the alarm
 * service (keyed by device, alarmId, event) and ACKed only after its commit; a duplicate is
 * answered as the original was. Frames are bounded (64 KiB) and so is the number of alarms a
 * connection may have waiting for their commit; beyond it the device gets a NAK with retry.
 */
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import net from 'node:net';
import tls from 'node:tls';
import type { Logger } from 'pino';
import type { AuditLog } from '../audit/log.ts';
import type { Gateway, GatewayContext } from '../gateways.ts';
import type { TlsMaterial } from '../http/tls.ts';
import type { AlarmService } from '../monitoring/alarm-service.ts';
import {
  ALARM_PROTOCOL_VERSION,
  type AlarmChannelFrame,
  AlarmFrameDecoder,
  type DeviceAlarm,
  encodeFrame,
  MAX_FRAME_BYTES,
  verifyHelloMac,
} from './alarm-frame.ts';
import type { DeviceEntry, DeviceRegistry } from './device-registry.ts';
import { RejectionMonitor } from './rejection-monitor.ts';

export interface AlarmGatewayDeps {
  host: string;
  port: number;
  devices: DeviceRegistry;
  alarms: AlarmService;
  audit: AuditLog;
  tls?: TlsMaterial | undefined;
  /** PEM CA bundle for device client certificates: enables mutual TLS. */
  clientCa?: string | undefined;
  logger?: Logger | undefined;
  heartbeatMs?: number;
  helloTimeoutMs?: number;
  /** Alarms one connection may have waiting for their commit. */
  maxPendingPerConnection?: number;
  maxConnections?: number;
}

export class AlarmGateway implements Gateway {
  readonly name = 'alarm';
  readonly monitor: RejectionMonitor;
  readonly #d: AlarmGatewayDeps;
  #server: net.Server | undefined;
  readonly #sessions = new Set<Session>();
  readonly counts = { connections: 0, authenticated: 0, alarms: 0, acks: 0, naks: 0, duplicates: 0 };

  constructor(d: AlarmGatewayDeps) {
    this.#d = d;
    this.monitor = new RejectionMonitor({ source: 'alarm', audit: d.audit, logger: d.logger });
  }

  async start(): Promise<number> {
    const onConnection = (socket: net.Socket | tls.TLSSocket) => this.#accept(socket);
    let server: net.Server;
    if (this.#d.tls) {
      server = tls.createServer(
        {
          key: this.#d.tls.key,
          cert: this.#d.tls.cert,
          minVersion: 'TLSv1.2',
          ...(this.#d.clientCa ? { ca: this.#d.clientCa, requestCert: true, rejectUnauthorized: true } : {}),
        },
        onConnection,
      );
      server.on('tlsClientError', (err, socket) =>
        this.monitor.reject('tls_error', socket.remoteAddress ?? '?', null, true, () => err.message),
      );
    } else {
      server = net.createServer(onConnection);
    }
    server.maxConnections = this.#d.maxConnections ?? 4096;
    this.#server = server;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.#d.port, this.#d.host, () => {
        server.off('error', reject);
        resolve();
      });
    });
    this.monitor.start();
    return (server.address() as net.AddressInfo).port;
  }

  #accept(socket: net.Socket | tls.TLSSocket): void {
    this.counts.connections++;
    const s = new Session(socket, this.#d, this);
    this.#sessions.add(s);
    socket.once('close', () => this.#sessions.delete(s));
  }

  async stop(): Promise<void> {
    const server = this.#server;
    this.#server = undefined;
    const closed = server ? new Promise<void>((resolve) => server.close(() => resolve())) : Promise.resolve();
    // Answer every alarm already taken in (their commits finish), then close the connections.
    await Promise.all([...this.#sessions].map((s) => s.drainAndClose()));
    await closed;
    await this.monitor.stop();
  }
}

class Session {
  readonly #socket: net.Socket | tls.TLSSocket;
  readonly #d: AlarmGatewayDeps;
  readonly #gw: AlarmGateway;
  readonly #decoder = new AlarmFrameDecoder();
  readonly #nonce = randomBytes(24).toString('base64url');
  readonly #address: string;
  #device: DeviceEntry | undefined;
  #pending = new Set<Promise<void>>();
  #closing = false;
  #helloTimer: NodeJS.Timeout | undefined;
  #idleTimer: NodeJS.Timeout | undefined;
  readonly #heartbeatMs: number;

  constructor(socket: net.Socket | tls.TLSSocket, d: AlarmGatewayDeps, gw: AlarmGateway) {
    this.#socket = socket;
    this.#d = d;
    this.#gw = gw;
    this.#address = socket.remoteAddress ?? '?';
    this.#heartbeatMs = d.heartbeatMs ?? 15_000;
    socket.setNoDelay(true);
    socket.on('data', (chunk: Buffer) => this.#onData(chunk));
    socket.on('error', () => {
      // A reset peer is normal for devices; 'close' follows and cleans up.
    });
    socket.on('end', () => {
      const err = this.#decoder.end();
      if (err) this.#gw.monitor.reject(err.reason, this.#address, this.#device?.id ?? null, false);
    });
    socket.on('close', () => this.#clearTimers());
    this.#helloTimer = setTimeout(
      () => this.#fail('hello_timeout', 'no HELLO in time'),
      d.helloTimeoutMs ?? 10_000,
    );
    this.#send({
      type: 'challenge',
      protocol: ALARM_PROTOCOL_VERSION,
      nonce: this.#nonce,
      serverTime: Date.now(),
    });
  }

  #clearTimers(): void {
    clearTimeout(this.#helloTimer);
    clearTimeout(this.#idleTimer);
    // A cleared Timeout would start again on refresh(): forget it.
    this.#idleTimer = undefined;
  }

  #touch(): void {
    if (this.#heartbeatMs <= 0) return;
    // Restarted in place: this runs for every chunk read, and a new Timeout each time was garbage
    // on the alarm ACK's path.
    if (this.#idleTimer) {
      this.#idleTimer.refresh();
      return;
    }
    // Three missed heartbeats: the device is gone (its TCP may never tell us).
    this.#idleTimer = setTimeout(
      () => this.#fail('idle', 'no frame for 3 heartbeats'),
      3 * this.#heartbeatMs,
    );
    this.#idleTimer.unref();
  }

  #send(frame: AlarmChannelFrame): void {
    if (this.#socket.destroyed) return;
    this.#socket.write(encodeFrame(frame));
  }

  #fail(code: string, message: string, security = false): void {
    if (this.#closing) return;
    this.#closing = true;
    this.#clearTimers();
    if (security) this.#gw.monitor.reject(code, this.#address, this.#device?.id ?? null, true, () => message);
    this.#send({ type: 'error', code, message });
    this.#socket.end();
    // A peer that never reads must not hold the socket open forever.
    setTimeout(() => this.#socket.destroy(), 2000).unref();
  }

  #onData(chunk: Buffer): void {
    if (this.#closing) return;
    this.#touch();
    for (const ev of this.#decoder.push(chunk)) {
      if (this.#closing) return;
      if (!ev.ok) {
        this.#gw.monitor.reject(
          ev.error.reason,
          this.#address,
          this.#device?.id ?? null,
          false,
          () => ev.error.detail,
        );
        this.#fail(ev.error.reason, ev.error.message);
        return;
      }
      this.#onFrame(ev.frame);
    }
  }

  #onFrame(f: AlarmChannelFrame): void {
    if (this.#device === undefined) {
      if (f.type === 'hello') this.#hello(f);
      else this.#fail('hello_required', 'the first frame must be HELLO', true);
      return;
    }
    switch (f.type) {
      case 'alarm':
        this.#alarm(f.alarm);
        return;
      case 'ping':
        this.#send({ type: 'pong', nonce: f.nonce });
        return;
      case 'pong':
        return;
      case 'error':
        this.#socket.end();
        return;
      default:
        this.#fail('unexpected_frame', `a device may not send ${f.type}`);
    }
  }

  #hello(h: Extract<AlarmChannelFrame, { type: 'hello' }>): void {
    // Pause reading while the registry may reload: frames after HELLO wait in the socket.
    this.#socket.pause();
    const finish = (device: DeviceEntry | undefined) => {
      this.#socket.resume();
      if (this.#closing) return;
      if (h.protocol !== ALARM_PROTOCOL_VERSION)
        return this.#fail('unsupported_protocol', `protocol ${h.protocol} is not supported`);
      if (device === undefined) return this.#fail('auth_failed', 'unknown device or bad credentials', true);
      const certName = this.#peerName();
      const byCert = certName !== null && certName === h.deviceId;
      if (!byCert && !verifyHelloMac(device.key, h, this.#nonce))
        return this.#fail('auth_failed', 'unknown device or bad credentials', true);
      clearTimeout(this.#helloTimer);
      this.#device = device;
      this.#gw.counts.authenticated++;
      this.#send({
        type: 'welcome',
        serverTime: Date.now(),
        maxFrameBytes: MAX_FRAME_BYTES,
        heartbeatMs: this.#heartbeatMs,
      });
      this.#d.audit
        .append({
          type: 'alarm.session',
          action: 'E',
          outcome: 0,
          source: 'alarm',
          agent: { username: `device:${device.id}`, role: 'device', address: this.#address },
          patientId: device.patientId ?? undefined,
          entity: { type: 'Device', id: device.id },
          detail: {
            auth: byCert ? 'client-certificate' : 'hello-mac',
            tls: this.#socket instanceof tls.TLSSocket,
          },
        })
        .catch((err: unknown) => this.#d.logger?.error({ err }, 'auditing alarm session failed'));
    };
    const known = this.#d.devices.get(h.deviceId);
    if (known) {
      finish(known);
      return;
    }
    this.#d.devices.refresh().then(
      () => finish(this.#d.devices.get(h.deviceId)),
      () => finish(undefined),
    );
  }

  /** The client certificate's common name, when mutual TLS verified one. */
  #peerName(): string | null {
    const s = this.#socket;
    if (!(s instanceof tls.TLSSocket) || !s.authorized) return null;
    const cn = s.getPeerCertificate()?.subject?.CN;
    return typeof cn === 'string' ? cn : Array.isArray(cn) ? (cn[0] ?? null) : null;
  }

  #alarm(a: DeviceAlarm): void {
    const device = this.#device!;
    this.#gw.counts.alarms++;
    if (this.#pending.size >= (this.#d.maxPendingPerConnection ?? 1024)) {
      this.#gw.counts.naks++;
      this.#send({
        type: 'nak',
        alarmId: a.alarmId,
        event: a.event,
        code: 'busy',
        message: 'too many alarms waiting',
        retry: true,
      });
      return;
    }
    const p = this.#d.alarms.deviceAlarm(device, a).then(
      (r) => {
        this.#gw.counts.acks++;
        if (r.duplicate) this.#gw.counts.duplicates++;
        this.#send({ type: 'ack', alarmId: a.alarmId, event: a.event, duplicate: r.duplicate });
      },
      (err: unknown) => {
        this.#gw.counts.naks++;
        this.#d.logger?.error(
          { err, deviceId: device.id, alarmId: a.alarmId },
          'storing a device alarm failed',
        );
        this.#send({
          type: 'nak',
          alarmId: a.alarmId,
          event: a.event,
          code: 'store_failed',
          message: 'not stored; send again',
          retry: true,
        });
      },
    );
    this.#pending.add(p);
    p.finally(() => this.#pending.delete(p));
  }

  async drainAndClose(): Promise<void> {
    this.#closing = true;
    this.#socket.pause();
    await Promise.allSettled([...this.#pending]);
    this.#clearTimers();
    await new Promise<void>((resolve) => {
      if (this.#socket.destroyed) return resolve();
      this.#socket.once('close', () => resolve());
      this.#socket.end();
      setTimeout(() => {
        this.#socket.destroy();
        resolve();
      }, 1000).unref();
    });
  }
}

export function alarmGateway(ctx: GatewayContext): Gateway {
  const s = ctx.services;
  return new AlarmGateway({
    host: ctx.config.host,
    port: ctx.config.alarmPort,
    devices: s.devices,
    alarms: s.alarms,
    audit: s.audit,
    tls: ctx.tls,
    clientCa: ctx.config.alarmClientCa ? readFileSync(ctx.config.alarmClientCa, 'utf8') : undefined,
    logger: ctx.logger,
  });
}
