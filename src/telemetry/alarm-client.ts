/**
 * The device side of the alarm channel: a client that never loses an alarm. `send(alarm)` writes
 * the alarm to the journal (alarm-journal.ts) before it goes on the wire, and the promise settles
 * on the server's ACK. Unacknowledged alarms are sent again after every reconnect, in order, so
 * after a server crash, a network cut or the client's own restart every alarm arrives; the server
 * stores each (device, alarmId, event) once and answers a duplicate as the original.
 *
 * Reconnection uses exponential back-off with jitter (100 ms doubling to 5 s), reset by a
 * successful HELLO. At most `window` alarms are on the wire unacknowledged at a time.
 */
import net from 'node:net';
import tls from 'node:tls';
import {
  ALARM_PROTOCOL_VERSION,
  type AlarmChannelFrame,
  AlarmFrameDecoder,
  type DeviceAlarm,
  encodeFrame,
  helloMac,
} from './alarm-frame.ts';
import { AlarmJournal, alarmKey, type JournalSync } from './alarm-journal.ts';
import type { DeviceKey } from './datagram.ts';

export interface AlarmClientOptions {
  host: string;
  port: number;
  deviceId: string;
  key: DeviceKey;
  /** Journal file of unacknowledged alarms. */
  journal: string;
  journalSync?: JournalSync;
  /** Connect with TLS; `ca` pins the server certificate (e.g. the self-signed one), `cert`/`key` for mutual TLS. */
  tls?:
    | { ca?: string | Buffer; cert?: string | Buffer; key?: string | Buffer; servername?: string }
    | undefined;
  window?: number;
  minBackoffMs?: number;
  maxBackoffMs?: number;
  /** Called for every ACK (also for alarms queued by an earlier run of the client). */
  onAck?: ((alarm: DeviceAlarm, duplicate: boolean) => void) | undefined;
  onNak?: ((alarm: DeviceAlarm, code: string, retry: boolean) => void) | undefined;
  onState?: ((state: 'connecting' | 'ready' | 'disconnected', detail?: string) => void) | undefined;
}

interface Waiter {
  resolve: (r: { duplicate: boolean }) => void;
  reject: (e: Error) => void;
}

export class AlarmClient {
  readonly #o: AlarmClientOptions;
  readonly journal: AlarmJournal;
  #socket: net.Socket | undefined;
  #ready = false;
  #stopped = false;
  #attempt = 0;
  #timer: NodeJS.Timeout | undefined;
  #ping: NodeJS.Timeout | undefined;
  /** Keys sent on this connection and not yet answered. */
  readonly #onWire = new Set<string>();
  readonly #waiters = new Map<string, Waiter[]>();
  readonly stats = { connects: 0, acks: 0, duplicates: 0, naks: 0, sent: 0 };

  constructor(o: AlarmClientOptions) {
    this.#o = o;
    this.journal = new AlarmJournal(o.journal, o.journalSync ?? 'always');
  }

  get connected(): boolean {
    return this.#ready;
  }

  get pending(): number {
    return this.journal.size;
  }

  start(): void {
    this.#connect();
  }

  /** Queues an alarm durably and resolves when the server has committed it. */
  send(alarm: DeviceAlarm): Promise<{ duplicate: boolean }> {
    if (this.#stopped) return Promise.reject(new Error('alarm client stopped'));
    const key = alarmKey(alarm);
    if (!this.journal.has(alarm)) this.journal.add(alarm);
    const p = new Promise<{ duplicate: boolean }>((resolve, reject) => {
      const list = this.#waiters.get(key) ?? [];
      list.push({ resolve, reject });
      this.#waiters.set(key, list);
    });
    this.#pump();
    return p;
  }

  #connect(): void {
    if (this.#stopped) return;
    this.#o.onState?.('connecting');
    const { host, port } = this.#o;
    const socket = this.#o.tls
      ? tls.connect({ host, port, ...this.#o.tls, servername: this.#o.tls.servername ?? host })
      : net.connect({ host, port });
    this.#socket = socket;
    socket.setNoDelay(true);
    const decoder = new AlarmFrameDecoder();
    socket.on('data', (chunk: Buffer) => {
      for (const ev of decoder.push(chunk)) {
        if (!ev.ok) {
          socket.destroy();
          return;
        }
        this.#onFrame(socket, ev.frame);
      }
    });
    socket.on('error', () => {
      // 'close' follows: reconnect there.
    });
    socket.on('close', () => {
      if (this.#socket !== socket) return;
      this.#socket = undefined;
      this.#ready = false;
      this.#onWire.clear();
      clearInterval(this.#ping);
      this.#o.onState?.('disconnected');
      this.#scheduleReconnect();
    });
  }

  #scheduleReconnect(): void {
    if (this.#stopped) return;
    const min = this.#o.minBackoffMs ?? 100;
    const max = this.#o.maxBackoffMs ?? 5000;
    const base = Math.min(max, min * 2 ** this.#attempt++);
    const delay = base / 2 + Math.random() * (base / 2);
    this.#timer = setTimeout(() => this.#connect(), delay);
  }

  #write(socket: net.Socket, f: AlarmChannelFrame): void {
    socket.write(encodeFrame(f));
  }

  #onFrame(socket: net.Socket, f: AlarmChannelFrame): void {
    switch (f.type) {
      case 'challenge': {
        const clientTime = Date.now();
        this.#write(socket, {
          type: 'hello',
          protocol: ALARM_PROTOCOL_VERSION,
          deviceId: this.#o.deviceId,
          clientTime,
          mac: helloMac(this.#o.key, this.#o.deviceId, f.nonce, clientTime),
        });
        return;
      }
      case 'welcome': {
        this.#ready = true;
        this.#attempt = 0;
        this.stats.connects++;
        this.#o.onState?.('ready');
        if (f.heartbeatMs > 0) {
          this.#ping = setInterval(
            () => this.#write(socket, { type: 'ping', nonce: String(Date.now()) }),
            f.heartbeatMs,
          );
          this.#ping.unref();
        }
        this.#pump();
        return;
      }
      case 'ack': {
        const key = alarmKey(f);
        this.#onWire.delete(key);
        const alarm = this.journal.pending().find((a) => alarmKey(a) === key);
        if (this.journal.settle(f)) {
          this.stats.acks++;
          if (f.duplicate) this.stats.duplicates++;
          if (alarm) this.#o.onAck?.(alarm, f.duplicate);
        }
        for (const w of this.#waiters.get(key) ?? []) w.resolve({ duplicate: f.duplicate });
        this.#waiters.delete(key);
        this.#pump();
        return;
      }
      case 'nak': {
        const key = alarmKey(f);
        this.#onWire.delete(key);
        this.stats.naks++;
        const alarm = this.journal.pending().find((a) => alarmKey(a) === key);
        if (alarm) this.#o.onNak?.(alarm, f.code, f.retry);
        if (!f.retry) {
          // Refused for good (the server will never take it): settle so it does not block the queue.
          this.journal.settle(f);
          for (const w of this.#waiters.get(key) ?? [])
            w.reject(new Error(`alarm refused: ${f.code}: ${f.message}`));
          this.#waiters.delete(key);
        } else {
          setTimeout(() => this.#pump(), 200).unref();
        }
        return;
      }
      case 'ping':
        this.#write(socket, { type: 'pong', nonce: f.nonce });
        return;
      case 'error':
        this.#o.onState?.('disconnected', `${f.code}: ${f.message}`);
        socket.destroy();
        return;
      default:
        return;
    }
  }

  /** Sends pending alarms not yet on the wire, oldest first, up to the window. */
  #pump(): void {
    const socket = this.#socket;
    if (!this.#ready || socket === undefined) return;
    const window = this.#o.window ?? 256;
    if (this.#onWire.size >= window) return;
    for (const a of this.journal.pending()) {
      if (this.#onWire.size >= window) break;
      const key = alarmKey(a);
      if (this.#onWire.has(key)) continue;
      this.#onWire.add(key);
      this.stats.sent++;
      this.#write(socket, { type: 'alarm', alarm: a });
    }
  }

  /** Closes the connection; unacknowledged alarms stay in the journal for the next start. */
  async stop(): Promise<void> {
    this.#stopped = true;
    clearTimeout(this.#timer);
    clearInterval(this.#ping);
    const s = this.#socket;
    this.#socket = undefined;
    this.#ready = false;
    if (s && !s.destroyed) {
      await new Promise<void>((resolve) => {
        s.once('close', () => resolve());
        s.end();
        setTimeout(() => {
          s.destroy();
          resolve();
        }, 500).unref();
      });
    }
    for (const list of this.#waiters.values())
      for (const w of list) w.reject(new Error('alarm client stopped'));
    this.#waiters.clear();
    this.journal.close();
  }
}
