/**
 * The UDP vitals listener (gateway `telemetry`). A receive thread (udp-receiver.ts) owns the socket,
 * decodes each datagram and verifies its tag under the device key; this class, on the main thread,
 * checks the replay window, hands the sample to the vitals service (which stores it by group
 * commit and publishes it), and counts everything else. Per datagram there is no promise and no
 * log line; rejections are counted, logged at a limited rate and audited once per burst
 * (RejectionMonitor). The socket gets a large receive buffer, so a busy moment costs latency, not
 * data.
 */
import type { KeyObject } from 'node:crypto';
import { isIP } from 'node:net';
import { Counter, Gauge, type Registry } from 'prom-client';
import type { AuditLog } from '../audit/log.ts';
import { isPlausible, type VitalKey, vitalByCode } from '../clinical/vital-signs.ts';
import type { Gateway, GatewayContext } from '../gateways.ts';
import type { VitalsService } from '../monitoring/vitals-service.ts';
import type { Db } from '../store/db.ts';
import type { DeviceRegistry } from './device-registry.ts';
import { RejectionMonitor } from './rejection-monitor.ts';
import { ReplayGuard, type ReplayOptions } from './replay.ts';
import { type ReceivedDatagram, UdpReceiver } from './udp-receiver.ts';

/** Requested SO_RCVBUF; the kernel caps it at net.core.rmem_max (the gateway logs what it got). */
export const RECEIVE_BUFFER_BYTES = 16 * 1024 * 1024;

export interface UdpGatewayDeps {
  host: string;
  port: number;
  db: Db;
  audit: AuditLog;
  devices: DeviceRegistry;
  vitals: VitalsService;
  registry?: Registry | undefined;
  logger?: GatewayContext['logger'] | undefined;
  replay?: Omit<ReplayOptions, 'resumeAfter'>;
  now?: () => number;
}

const SECURITY = new Set([
  'unknown_device',
  'bad_tag',
  'duplicate',
  'too_old',
  'stale_timestamp',
  'future_timestamp',
]);

export class UdpGateway implements Gateway {
  readonly name = 'telemetry';
  readonly guard: ReplayGuard;
  readonly monitor: RejectionMonitor;
  readonly #d: UdpGatewayDeps;
  readonly #now: () => number;
  #receiver: UdpReceiver | undefined;
  readonly #seen = new Set<string>();
  /** Counters (read by /metrics at scrape time, so the hot path only adds to numbers). */
  readonly counts = { received: 0, accepted: 0, rejected: 0, implausible: 0, unknownCodes: 0, dropped: 0 };
  receiveBufferBytes = 0;

  constructor(d: UdpGatewayDeps) {
    this.#d = d;
    this.#now = d.now ?? Date.now;
    this.guard = new ReplayGuard(d.replay ?? {});
    this.monitor = new RejectionMonitor({ source: 'telemetry', audit: d.audit, logger: d.logger });
    d.devices.onChange = (removed) => {
      for (const id of removed) this.guard.forget(id);
      this.#receiver?.setKeys(this.#keys());
    };
    if (d.registry) this.#metrics(d.registry);
  }

  async start(): Promise<number> {
    // Resume each device's window where the store left it, so a restart does not reopen replays.
    const marks = await this.#d.db.selectFrom('device_sequences').select(['device_id', 'high_seq']).execute();
    for (const m of marks) this.guard.resume(m.device_id, Number(m.high_seq));
    const logger = this.#d.logger;
    const { receiver, port, recvBufferBytes } = await UdpReceiver.start(
      {
        type: isIP(this.#d.host) === 6 ? 'udp6' : 'udp4',
        host: this.#d.host,
        port: this.#d.port,
        recvBufferSize: RECEIVE_BUFFER_BYTES,
      },
      this.#keys(),
      {
        accepted: (datagram) => this.accept(datagram),
        rejected: (reason, address, deviceId, detail) => {
          this.counts.received++;
          // A miss may be a device registered on another node: the registry reloads (rate-limited).
          if (reason === 'unknown_device' && deviceId !== null) this.#d.devices.get(deviceId);
          this.#reject(reason, address, deviceId, () => detail);
        },
        error: (err) => logger?.error({ err }, 'telemetry socket error'),
      },
    );
    this.#receiver = receiver;
    this.receiveBufferBytes = recvBufferBytes;
    this.monitor.start();
    return port;
  }

  #keys(): Array<[string, KeyObject]> {
    const keys: Array<[string, KeyObject]> = [];
    for (const e of this.#d.devices.entries()) keys.push([e.id, e.key]);
    return keys;
  }

  /**
   * The main-thread part of the receive path, for a datagram the receive thread decoded and
   * authenticated: device → patient, replay window, values, storage. Returns true when accepted.
   */
  accept(v: ReceivedDatagram): boolean {
    this.counts.received++;
    const address = v.address;
    // Removed since the thread checked it (its key set follows the registry a moment later).
    const device = this.#d.devices.get(v.deviceId);
    if (device === undefined) return this.#reject('unknown_device', address, v.deviceId);
    const now = this.#now();
    const verdict = this.guard.check(v.deviceId, v.sequence, v.timestamp, now);
    if (!verdict.accepted) return this.#reject(verdict.reason, address, v.deviceId);
    // One object shape for every sample (all signs present, undefined when absent): the alarm
    // rules read these by key on every datagram, and varying shapes made those reads megamorphic
    // (measured: rule evaluation was the largest cost of our own receive path).
    const values: Record<VitalKey, number | undefined> = {
      heartRate: undefined,
      pulseRate: undefined,
      respiratoryRate: undefined,
      spo2: undefined,
      temperature: undefined,
      systolicBp: undefined,
      diastolicBp: undefined,
    };
    let other: Record<string, number> | null = null;
    const n = v.numbers;
    for (let i = 0, o = v.offset; i < v.count; i++, o += 2) {
      const code = n[o]!;
      const value = n[o + 1]!;
      const sign = vitalByCode(code);
      if (sign === undefined) {
        this.counts.unknownCodes++;
        other ??= {};
        other[code] = value;
      } else if (!isPlausible(sign, value)) this.counts.implausible++;
      else values[sign.key] = value;
    }
    const ok = this.#d.vitals.ingest({
      deviceId: v.deviceId,
      seq: v.sequence,
      patientId: device.patientId,
      ts: v.timestamp,
      receivedAt: now,
      values,
      other,
      flags: v.flags,
    });
    if (!this.#seen.has(v.deviceId)) this.#online(v.deviceId, device.patientId, address);
    if (ok) this.counts.accepted++;
    else this.counts.dropped++;
    return ok;
  }

  /** One audit entry per device and gateway run, not per datagram (trusted gateway writes). */
  #online(deviceId: string, patientId: string | null, address: string): void {
    this.#seen.add(deviceId);
    this.#d.audit
      .append({
        type: 'telemetry.device.online',
        action: 'C',
        outcome: 0,
        source: 'telemetry',
        agent: { username: `device:${deviceId}`, role: 'device', address },
        patientId: patientId ?? undefined,
        entity: { type: 'Device', id: deviceId },
      })
      .catch((err: unknown) => this.#d.logger?.error({ err }, 'auditing device online failed'));
  }

  #reject(reason: string, address: string, deviceId: string | null, detail?: () => string): false {
    this.counts.rejected++;
    this.monitor.reject(reason, address, deviceId, SECURITY.has(reason), detail);
    return false;
  }

  #metrics(registry: Registry): void {
    const counts = this.counts;
    const monitor = this.monitor;
    const guard = this.guard;
    const vitals = this.#d.vitals;
    // Metric objects are registered once per registry: a restarted gateway reuses them.
    const existing = registry.getSingleMetric('carewire_telemetry_datagrams_total');
    if (existing) registry.removeSingleMetric('carewire_telemetry_datagrams_total');
    for (const name of [
      'carewire_telemetry_rejected_total',
      'carewire_telemetry_sequence_total',
      'carewire_telemetry_samples_stored_total',
      'carewire_telemetry_store_queue',
      'carewire_telemetry_devices',
    ]) {
      if (registry.getSingleMetric(name)) registry.removeSingleMetric(name);
    }
    new Counter({
      name: 'carewire_telemetry_datagrams_total',
      help: 'Vitals datagrams by outcome (received, accepted, rejected, dropped when the store queue is full)',
      labelNames: ['outcome'],
      registers: [registry],
      collect() {
        this.reset();
        this.inc({ outcome: 'received' }, counts.received);
        this.inc({ outcome: 'accepted' }, counts.accepted);
        this.inc({ outcome: 'rejected' }, counts.rejected);
        this.inc({ outcome: 'dropped' }, counts.dropped);
      },
    });
    new Counter({
      name: 'carewire_telemetry_rejected_total',
      help: 'Rejected vitals datagrams by reason (malformed, unknown_device, bad_tag, duplicate, …)',
      labelNames: ['reason'],
      registers: [registry],
      collect() {
        this.reset();
        for (const [reason, n] of monitor.totals) this.inc({ reason }, n);
      },
    });
    new Counter({
      name: 'carewire_telemetry_sequence_total',
      help: 'Sequence accounting over all devices: lost, reordered, duplicates, too_old, skewed, resyncs',
      labelNames: ['kind'],
      registers: [registry],
      collect() {
        this.reset();
        const t = guard.totals();
        this.inc({ kind: 'lost' }, t.lost);
        this.inc({ kind: 'reordered' }, t.reordered);
        this.inc({ kind: 'duplicates' }, t.duplicates);
        this.inc({ kind: 'too_old' }, t.tooOld);
        this.inc({ kind: 'skewed' }, t.skewed);
        this.inc({ kind: 'resyncs' }, t.resyncs);
      },
    });
    new Counter({
      name: 'carewire_telemetry_samples_stored_total',
      help: 'Vital samples committed to the store',
      registers: [registry],
      collect() {
        this.reset();
        this.inc(vitals.stats.stored);
      },
    });
    new Gauge({
      name: 'carewire_telemetry_store_queue',
      help: 'Accepted vital samples waiting for their batch commit',
      registers: [registry],
      collect() {
        this.set(vitals.pending);
      },
    });
    const devices = this.#d.devices;
    new Gauge({
      name: 'carewire_telemetry_devices',
      help: 'Registered (enabled) devices',
      registers: [registry],
      collect() {
        this.set(devices.size);
      },
    });
  }

  async stop(): Promise<void> {
    const r = this.#receiver;
    this.#receiver = undefined;
    await r?.close();
    await this.#d.vitals.flush();
    await this.monitor.stop();
  }
}

export function telemetryGateway(ctx: GatewayContext & { registry?: Registry }): Gateway {
  const s = ctx.services;
  return new UdpGateway({
    host: ctx.config.host,
    port: ctx.config.telemetryPort,
    db: s.store.db,
    audit: s.audit,
    devices: s.devices,
    vitals: s.vitals,
    registry: ctx.registry,
    logger: ctx.logger,
  });
}
