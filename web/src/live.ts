/**
 * The live state of the station: patients, their vitals, alarms, NEWS2 and escalations, fed by
 * the Socket.IO stream. Keeps the stream's offsets and sends them on every (re)subscription, so
 * the server replays what was missed across a reconnect or a server restart; payloads are
 * snapshots or timestamped samples, so replays that overlap what we have change nothing.
 *
 * Data age is measured on this clock from when a sample arrived (or, for replayed samples, would
 * have arrived), so a device clock that runs fast or slow never makes stale data look live.
 */
import { io, type Socket } from 'socket.io-client';
import type { AlarmSnapshot } from '../../src/monitoring/alarm-lifecycle.ts';
import type {
  AlarmEventPayload,
  EscalationPayload,
  News2Payload,
  PatientInfo,
  SubscribeAck,
  SubscribeScope,
  Values,
  VitalsEvent,
  VitalsSample,
  VitalsUpdate,
} from '../../src/realtime/protocol.ts';
import { renewSession, toLogin } from './api.ts';

export type { AlarmSnapshot, News2Payload, PatientInfo, Values, VitalsSample };
export type Connection = 'connecting' | 'live' | 'reconnecting' | 'offline';

/** Feeds silent this long are stale (shown greyed, with their age). */
export const STALE_MS = 5000;
/** After this long without a connection the indicator says offline, not reconnecting. */
const OFFLINE_AFTER_MS = 10_000;
/** Trend history kept per patient (the tiles' trend line). */
const HISTORY_MS = 5 * 60_000;
const MAX_SAMPLES = 1200;

export interface PatientLive {
  samples: VitalsSample[];
  /** Latest value of each sign. */
  latest: Values;
  /** When each sign's latest value was measured (device time). */
  latestAt: Partial<Record<keyof Values, number>>;
  lastTs: number;
  /** This browser's clock when the newest sample arrived (or would have, for a replay). */
  receivedAt: number;
}

const STATE_RANK: Record<string, number> = { active: 0, acknowledged: 1, resolved: 2 };

export class LiveStation {
  readonly scope: SubscribeScope;
  patients = new Map<string, PatientInfo>();
  vitals = new Map<string, PatientLive>();
  alarms = new Map<string, AlarmSnapshot>();
  news2 = new Map<string, News2Payload>();
  escalations = new Map<string, EscalationPayload>();
  deviceAlarms: Array<{ deviceId: string; text: string; at: number }> = [];
  connection: Connection = 'connecting';
  /** Per patient, a number that changes whenever anything shown for them changes (tile memo). */
  rev = new Map<string, number>();
  error: string | null = null;
  /** Server clock minus ours, from the last subscription answer. */
  skewMs = 0;
  #alarmOffset: number | undefined;
  #socket: Socket | undefined;
  #listeners = new Set<() => void>();
  #scheduled = false;
  #downSince = 0;
  #offlineTimer: number | undefined;
  /** Called for every alarm raised while the page is open (the station's tone). */
  onAlarmRaised: ((a: AlarmSnapshot) => void) | undefined;

  constructor(scope: SubscribeScope) {
    this.scope = scope;
  }

  subscribe(fn: () => void): () => void {
    this.#listeners.add(fn);
    return () => this.#listeners.delete(fn);
  }

  #bump(patientId: string): void {
    this.rev.set(patientId, (this.rev.get(patientId) ?? 0) + 1);
  }

  /**
   * Coalesces bursts of events into one render per animation frame; alarms (`urgent`) render in
   * this task, without waiting for the next frame.
   */
  #changed(urgent = false): void {
    if (urgent) {
      queueMicrotask(() => {
        for (const fn of this.#listeners) fn();
      });
      return;
    }
    if (this.#scheduled) return;
    this.#scheduled = true;
    requestAnimationFrame(() => {
      this.#scheduled = false;
      for (const fn of this.#listeners) fn();
    });
  }

  start(): void {
    const socket = io({ transports: ['websocket'], withCredentials: true, reconnectionDelayMax: 3000 });
    this.#socket = socket;
    socket.on('connect', () => this.#resubscribe());
    socket.on('disconnect', (reason) => {
      this.#down();
      // A server-side disconnect (token expired, buffer bound) does not reconnect by itself.
      if (reason === 'io server disconnect') this.#retry(300);
    });
    socket.on('connect_error', (err: Error & { data?: { status?: number } }) => {
      this.#down();
      // The transport failed (server down): Socket.IO retries by itself. A refusal by the server
      // (middleware) does not, and says why.
      if (!socket.active) void this.#refused(err.data?.status);
    });
    socket.on('session-expired', () => this.#down());
    socket.on('vitals', (e: VitalsEvent) => {
      for (const u of e.updates) this.#applyVitals(u, false);
      this.#changed();
    });
    socket.on('alarm', (e: AlarmEventPayload) => {
      this.#alarmOffset = Math.max(this.#alarmOffset ?? 0, e.offset);
      const fresh = this.applyAlarm(e.alarm);
      if (fresh && e.type === 'raised') this.onAlarmRaised?.(e.alarm);
      this.#changed(true);
    });
    socket.on('news2', (n: News2Payload) => {
      this.news2.set(n.patientId, n);
      this.#bump(n.patientId);
      this.#changed();
    });
    socket.on('escalation', (e: EscalationPayload) => {
      this.escalations.set(e.alarm.id, e);
      this.applyAlarm(e.alarm);
      this.#changed(true);
    });
    socket.on('device-alarm', (m: { deviceId: string; alarm: { text: string; time: number } }) => {
      this.deviceAlarms = [
        { deviceId: m.deviceId, text: m.alarm.text, at: m.alarm.time },
        ...this.deviceAlarms,
      ].slice(0, 20);
      this.#changed();
    });
    socket.on('denied', (d: { message: string }) => {
      this.error = d.message;
      this.#changed();
    });
    window.addEventListener('offline', () => this.#down());
  }

  stop(): void {
    this.#socket?.close();
    window.clearTimeout(this.#offlineTimer);
  }

  #down(): void {
    if (this.connection === 'live' || this.connection === 'connecting') {
      this.#downSince = Date.now();
      this.connection = navigator.onLine === false ? 'offline' : 'reconnecting';
      window.clearTimeout(this.#offlineTimer);
      this.#offlineTimer = window.setTimeout(() => {
        if (this.connection === 'reconnecting') {
          this.connection = 'offline';
          this.#changed();
        }
      }, OFFLINE_AFTER_MS);
      this.#changed();
    }
  }

  #retry(ms: number): void {
    window.setTimeout(() => {
      if (this.#socket && !this.#socket.connected) this.#socket.connect();
    }, ms);
  }

  async #refused(status?: number): Promise<void> {
    if (status === 403) {
      this.error = 'The server refused this connection.';
      this.#changed();
      return;
    }
    if (status !== 401) {
      this.#retry(2000); // busy or restarting
      return;
    }
    const r = await renewSession();
    if (r === 'ok') this.#socket?.connect();
    else if (r === 'signed-out') toLogin();
    else this.#retry(2000);
  }

  #resubscribe(): void {
    const socket = this.#socket;
    if (!socket) return;
    const vitals: Record<string, number> = {};
    for (const [id, v] of this.vitals) vitals[id] = v.lastTs;
    const since = this.#alarmOffset === undefined ? undefined : { alarms: this.#alarmOffset, vitals };
    socket
      .timeout(15_000)
      .emitWithAck('subscribe', { sub: this.scope, ...(since ? { since } : {}) })
      .then((ack: SubscribeAck) => this.#applyAck(ack))
      .catch(() => socket.disconnect().connect());
  }

  #applyAck(ack: SubscribeAck): void {
    if (!ack.ok) {
      this.error = ack.error.message;
      this.connection = 'live';
      this.#changed();
      return;
    }
    this.error = null;
    this.skewMs = ack.now - Date.now();
    for (const p of ack.patients) this.patients.set(p.id, p);
    for (const a of ack.alarms) this.applyAlarm(a);
    this.#alarmOffset = Math.max(this.#alarmOffset ?? 0, ack.alarmOffset);
    for (const u of ack.vitals) this.#applyVitals(u, true);
    for (const n of ack.news2) {
      this.news2.set(n.patientId, n);
      this.#bump(n.patientId);
    }
    window.clearTimeout(this.#offlineTimer);
    this.connection = 'live';
    this.#changed();
  }

  /** Applies an alarm snapshot; never moves an alarm back in its lifecycle. True if it was new. */
  applyAlarm(a: AlarmSnapshot): boolean {
    const old = this.alarms.get(a.id);
    if (old && (STATE_RANK[a.state] ?? 0) < (STATE_RANK[old.state] ?? 0)) return false;
    this.alarms.set(a.id, a);
    this.#bump(a.patientId);
    return old === undefined;
  }

  #applyVitals(u: VitalsUpdate, replay: boolean): void {
    let live = this.vitals.get(u.patientId);
    if (!live) {
      live = { samples: [], latest: {}, latestAt: {}, lastTs: 0, receivedAt: 0 };
      this.vitals.set(u.patientId, live);
    }
    const now = Date.now();
    this.#bump(u.patientId);
    for (const s of u.samples) {
      if (s.ts <= live.lastTs) continue; // seen (ward and patient rooms, or an overlapping replay)
      live.samples.push(s);
      Object.assign(live.latest, s.values);
      for (const k of Object.keys(s.values) as Array<keyof Values>) live.latestAt[k] = s.ts;
      live.lastTs = s.ts;
      // A replayed sample arrived, in effect, when it was measured (on the server's clock).
      live.receivedAt = replay ? Math.min(now, s.ts - this.skewMs) : now;
    }
    const cut = live.lastTs - HISTORY_MS;
    let drop = 0;
    while (
      drop < live.samples.length &&
      (live.samples[drop]!.ts < cut || live.samples.length - drop > MAX_SAMPLES)
    )
      drop++;
    if (drop > 0) live.samples.splice(0, drop);
  }

  /** Open alarms (active or acknowledged), most urgent first. */
  openAlarms(): AlarmSnapshot[] {
    const rank = { high: 3, medium: 2, low: 1 } as Record<string, number>;
    return [...this.alarms.values()]
      .filter((a) => a.state !== 'resolved' && this.patients.has(a.patientId))
      .sort(
        (a, b) =>
          (a.state === 'active' ? 0 : 1) - (b.state === 'active' ? 0 : 1) ||
          (rank[b.priority] ?? 0) - (rank[a.priority] ?? 0) ||
          b.raisedAt - a.raisedAt,
      );
  }

  /** How long since a patient's feed last spoke, on this clock; Infinity when it never did. */
  ageMs(patientId: string, now = Date.now()): number {
    const v = this.vitals.get(patientId);
    return v && v.receivedAt > 0 ? Math.max(0, now - v.receivedAt) : Number.POSITIVE_INFINITY;
  }

  /** When the next live feed turns stale (so the view can re-render exactly then), or undefined. */
  nextStaleAt(now = Date.now()): number | undefined {
    let next: number | undefined;
    for (const v of this.vitals.values()) {
      const at = v.receivedAt + STALE_MS + 1;
      if (at > now && (next === undefined || at < next)) next = at;
    }
    return next;
  }

  get downForMs(): number {
    return this.connection === 'live' ? 0 : Date.now() - this.#downSince;
  }
}
