/**
 * The device simulator: one PatientModel per monitor, sending signed vitals datagrams over UDP at
 * `rateHz` and technical alarms (lead off, SpO2 sensor off, battery low) over the TCP alarm
 * channel through the real AlarmClient (journal, resend, back-off). Packet loss is simulated by
 * skipping the send of a datagram whose sequence number was used, so the server's loss counter
 * sees it exactly.
 */

import type { KeyObject } from 'node:crypto';
import { randomUUID } from 'node:crypto';
import dgram from 'node:dgram';
import { mkdirSync } from 'node:fs';
import { isIP } from 'node:net';
import path from 'node:path';
import { type VitalKey, vitalByKey } from '../clinical/vital-signs.ts';
import { AlarmClient } from '../telemetry/alarm-client.ts';
import type { DeviceAlarm } from '../telemetry/alarm-frame.ts';
import { encodeDatagram, FLAG_SIMULATED, importDeviceKey, initialSequence } from '../telemetry/datagram.ts';
import { PatientModel, rng, type ScenarioName } from './patient-model.ts';

export interface SimDevice {
  deviceId: string;
  /** base64url device key. */
  key: string;
  label: string;
  scenario?: ScenarioName | undefined;
}

export interface SimulatorOptions {
  devices: readonly SimDevice[];
  host: string;
  telemetryPort: number;
  alarmPort: number;
  rateHz?: number;
  loss?: number;
  journalDir: string;
  tls?: { ca?: string | Buffer } | undefined;
  /** Scenario ramp (ms). */
  rampMs?: number;
  /** Technical alarms per device per hour. Default 2. */
  technicalPerHour?: number;
  seed?: number;
  /** Send no alarms (vitals only). */
  noAlarms?: boolean;
}

interface Running {
  dev: SimDevice;
  key: KeyObject;
  model: PatientModel;
  seq: number;
  client: AlarmClient | undefined;
  /** Open technical alarm per kind: its alarmId and when it ends. */
  open: Map<string, { alarmId: string; until: number }>;
}

const CODES: Array<[VitalKey, number]> = (
  [
    'heartRate',
    'pulseRate',
    'spo2',
    'respiratoryRate',
    'temperature',
    'systolicBp',
    'diastolicBp',
  ] as VitalKey[]
).map((k) => [k, vitalByKey(k).code]);

export interface SimulatorStatus {
  devices: number;
  sent: number;
  dropped: number;
  alarmsSent: number;
  alarmsAcked: number;
  alarmsPending: number;
  connected: number;
  scenarios: Array<{ label: string; scenario: string; severity: number }>;
}

export class Simulator {
  readonly #o: SimulatorOptions;
  readonly #running: Running[] = [];
  readonly #rand: () => number;
  #socket: dgram.Socket | undefined;
  #timer: NodeJS.Timeout | undefined;
  #last = 0;
  #stopped = false;
  readonly counts = { sent: 0, dropped: 0, alarmsSent: 0, alarmsAcked: 0 };

  constructor(o: SimulatorOptions) {
    this.#o = o;
    this.#rand = rng(o.seed ?? Date.now());
    const boot = Date.now();
    for (const [i, dev] of o.devices.entries()) {
      this.#running.push({
        dev,
        key: importDeviceKey(Buffer.from(dev.key, 'base64url')),
        model: new PatientModel({
          seed: (o.seed ?? boot) + i * 7919,
          scenario: dev.scenario,
          onsetMs: dev.scenario ? 10_000 + this.#rand() * 20_000 : 0,
          rampMs: o.rampMs ?? 180_000,
        }),
        // A simulated device does not persist its counter: it starts from its boot time.
        seq: initialSequence(boot) + i,
        client: undefined,
        open: new Map(),
      });
    }
  }

  start(): void {
    this.#socket = dgram.createSocket(isIP(this.#o.host) === 6 ? 'udp6' : 'udp4');
    this.#socket.on('error', () => {
      // ICMP port unreachable while the server restarts: vitals are loss-tolerant.
    });
    mkdirSync(this.#o.journalDir, { recursive: true, mode: 0o700 });
    if (!this.#o.noAlarms) {
      for (const r of this.#running) {
        r.client = new AlarmClient({
          host: this.#o.host,
          port: this.#o.alarmPort,
          deviceId: r.dev.deviceId,
          key: r.key,
          journal: path.join(this.#o.journalDir, `${r.dev.deviceId}.journal`),
          journalSync: 'none',
          tls: this.#o.tls,
          onAck: () => {
            this.counts.alarmsAcked++;
          },
        });
        r.client.start();
      }
    }
    this.#last = Date.now();
    const period = 1000 / (this.#o.rateHz ?? 1);
    this.#timer = setInterval(() => this.#tick(), period);
  }

  #tick(): void {
    const now = Date.now();
    const dt = now - this.#last;
    this.#last = now;
    for (const r of this.#running) {
      const sample = r.model.step(dt, now);
      const measurements = [];
      for (const [k, code] of CODES) {
        const v = sample[k];
        if (v !== undefined) measurements.push({ code, value: v });
      }
      const seq = r.seq++;
      if (this.#rand() < (this.#o.loss ?? 0)) {
        this.counts.dropped++;
      } else {
        const buf = encodeDatagram(
          { deviceId: r.dev.deviceId, sequence: seq, timestamp: now, measurements, flags: FLAG_SIMULATED },
          r.key,
        );
        this.#socket?.send(buf, this.#o.telemetryPort, this.#o.host);
        this.counts.sent++;
      }
      if (r.client) this.#technical(r, now, dt);
    }
  }

  /** Random technical alarms, each raised and later ended. */
  #technical(r: Running, now: number, dt: number): void {
    for (const [kind, a] of r.open) {
      if (now >= a.until) {
        r.open.delete(kind);
        this.#alarm(r, {
          alarmId: a.alarmId,
          event: 'ended',
          kind,
          priority: kind === 'battery-low' ? 'low' : 'medium',
          text: `${kind} cleared`,
        });
      }
    }
    const perMs = (this.#o.technicalPerHour ?? 2) / 3_600_000;
    if (this.#rand() >= perMs * dt) return;
    const pick = this.#rand();
    const kind = pick < 0.5 ? 'lead-off' : pick < 0.85 ? 'sensor-off' : 'battery-low';
    if (r.open.has(kind)) return;
    const duration = kind === 'battery-low' ? 120_000 : 8_000 + this.#rand() * 20_000;
    const alarmId = `${kind}-${randomUUID().slice(0, 8)}`;
    r.open.set(kind, { alarmId, until: now + duration });
    if (kind === 'lead-off') r.model.leadOffUntil = Number.POSITIVE_INFINITY;
    const priority = kind === 'battery-low' ? 'low' : 'medium';
    this.#alarm(r, { alarmId, event: 'raised', kind, priority, text: TEXT[kind] ?? kind });
    if (kind === 'lead-off') setTimeout(() => (r.model.leadOffUntil = -1), duration).unref();
  }

  #alarm(
    r: Running,
    a: {
      alarmId: string;
      event: 'raised' | 'ended';
      kind: string;
      priority: 'low' | 'medium' | 'high';
      text: string;
    },
  ): void {
    const alarm: DeviceAlarm = { ...a, category: 'technical', time: Date.now() };
    this.counts.alarmsSent++;
    r.client?.send(alarm).catch(() => {
      // Stopped before the ACK: the alarm stays in the journal for the next run.
    });
  }

  status(): SimulatorStatus {
    return {
      devices: this.#running.length,
      sent: this.counts.sent,
      dropped: this.counts.dropped,
      alarmsSent: this.counts.alarmsSent,
      alarmsAcked: this.counts.alarmsAcked,
      alarmsPending: this.#running.reduce((n, r) => n + (r.client?.pending ?? 0), 0),
      connected: this.#running.filter((r) => r.client?.connected).length,
      scenarios: this.#running
        .filter((r) => r.model.scenario)
        .map((r) => ({ label: r.dev.label, scenario: r.model.scenario!, severity: r.model.severity() })),
    };
  }

  async stop(): Promise<void> {
    if (this.#stopped) return;
    this.#stopped = true;
    clearInterval(this.#timer);
    await Promise.all(this.#running.map((r) => r.client?.stop()));
    this.#socket?.close();
  }
}

const TEXT: Record<string, string> = {
  'lead-off': 'ECG lead off',
  'sensor-off': 'SpO2 sensor off',
  'battery-low': 'Battery low',
};

export function formatStatus(s: SimulatorStatus): string {
  const sc = s.scenarios
    .map((x) => `${x.label}:${x.scenario} ${Math.round(x.severity * 100)}%`)
    .join(' ')
    .slice(0, 80);
  return `sim ${s.devices} monitors | vitals sent ${s.sent} lost(sim) ${s.dropped} | alarms ${s.alarmsAcked}/${s.alarmsSent} acked, ${s.alarmsPending} pending | ${s.connected}/${s.devices} connected${sc ? ` | ${sc}` : ''}`;
}
