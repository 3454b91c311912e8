/**
 * The device registry: device id → key → patient and bed. Admins add and remove devices (CLI or
 * API, each change audited); the UDP and alarm gateways look keys up synchronously on every
 * datagram, so the registry keeps every enabled device in memory with its key imported once as a
 * KeyObject (raw key bytes would be re-imported on each HMAC, measured 7× slower).
 *
 * Another process (the CLI) may add a device while the server runs. A lookup that misses reloads
 * the table, at most once every `reloadMinMs`, so a flood of datagrams from unknown ids costs one
 * query per interval, not one per datagram.
 */

import type { KeyObject } from 'node:crypto';
import { randomBytes } from 'node:crypto';
import type { AuditAgent, AuditLog } from '../audit/log.ts';
import { badRequest, conflict, notFound } from '../errors.ts';
import type { Db } from '../store/db.ts';
import { importDeviceKey } from './datagram.ts';
import { DEVICE_KEY_BYTES, openDeviceKey, sealDeviceKey } from './device-keys.ts';

export const DEVICE_ID_PATTERN = /^[A-Za-z0-9._:-]{1,64}$/;

export interface Device {
  id: string;
  patientId: string | null;
  bed: string | null;
  description: string | null;
  createdAt: number;
  disabled: boolean;
}

export interface DeviceEntry {
  readonly id: string;
  readonly key: KeyObject;
  readonly patientId: string | null;
  readonly bed: string | null;
}

export interface NewDevice {
  id: string;
  /** Patient id or MRN. */
  patient?: string | null | undefined;
  bed?: string | null | undefined;
  description?: string | null | undefined;
  /** base64url key to register instead of a generated one (the simulator's fixed demo keys). */
  key?: string | undefined;
}

export interface Who {
  agent: AuditAgent;
  source: string;
}

export class DeviceRegistry {
  readonly #db: Db;
  readonly #kek: Buffer;
  readonly #audit: AuditLog;
  readonly #reloadMinMs: number;
  #entries = new Map<string, DeviceEntry>();
  #lastReload = 0;
  #reloading: Promise<void> | undefined;
  /**
   * Called after the device set may have changed (a load, an add, a removal), with the ids removed:
   * gateways drop replay state of removed devices and pass the keys to their receive threads.
   */
  onChange: ((removed: readonly string[]) => void) | undefined;

  constructor(db: Db, kek: Buffer, audit: AuditLog, opts: { reloadMinMs?: number } = {}) {
    this.#db = db;
    this.#kek = kek;
    this.#audit = audit;
    this.#reloadMinMs = opts.reloadMinMs ?? 2000;
  }

  /** Loads every enabled device and its key. */
  async load(): Promise<void> {
    const rows = await this.#db
      .selectFrom('devices')
      .select(['id', 'key', 'patient_id', 'bed'])
      .where('disabled', '=', 0)
      .execute();
    const next = new Map<string, DeviceEntry>();
    for (const r of rows) {
      const old = this.#entries.get(r.id);
      // Keep the imported KeyObject when nothing changed: decrypting costs more than the lookup.
      const key = old ?? null;
      next.set(r.id, {
        id: r.id,
        key: key?.key ?? importDeviceKey(openDeviceKey(this.#kek, r.id, r.key)),
        patientId: r.patient_id,
        bed: r.bed,
      });
    }
    const removed = [...this.#entries.keys()].filter((id) => !next.has(id));
    this.#entries = next;
    this.#lastReload = Date.now();
    this.onChange?.(removed);
  }

  get size(): number {
    return this.#entries.size;
  }

  /** Synchronous: the datagram hot path. Misses schedule a rate-limited reload. */
  get(deviceId: string): DeviceEntry | undefined {
    const e = this.#entries.get(deviceId);
    if (e === undefined) this.#maybeReload();
    return e;
  }

  /** Reloads now if the last reload is older than the limit (used on a miss by the alarm channel). */
  async refresh(): Promise<void> {
    this.#maybeReload();
    await this.#reloading;
  }

  #maybeReload(): void {
    if (this.#reloading || Date.now() - this.#lastReload < this.#reloadMinMs) return;
    this.#lastReload = Date.now();
    this.#reloading = this.load()
      .catch(() => {
        // A failed reload keeps the old set; the next miss after the interval tries again.
      })
      .finally(() => {
        this.#reloading = undefined;
      });
  }

  entries(): IterableIterator<DeviceEntry> {
    return this.#entries.values();
  }

  /** Registers a device; returns it with its key (base64url), which is shown once and never again. */
  async add(input: NewDevice, who: Who): Promise<{ device: Device; key: string }> {
    if (!DEVICE_ID_PATTERN.test(input.id)) {
      throw badRequest('device id: 1-64 characters of A-Z a-z 0-9 . _ : -');
    }
    let keyBytes: Buffer;
    if (input.key !== undefined) {
      keyBytes = Buffer.from(input.key, 'base64url');
      if (keyBytes.byteLength < 16) throw badRequest('a device key must be at least 16 bytes');
    } else {
      keyBytes = randomBytes(DEVICE_KEY_BYTES);
    }
    const patientId = input.patient ? await this.#resolvePatient(input.patient) : null;
    const existing = await this.#db
      .selectFrom('devices')
      .select('id')
      .where('id', '=', input.id)
      .executeTakeFirst();
    if (existing) throw conflict(`device ${input.id} is already registered`);
    const now = Date.now();
    let bed = input.bed ?? null;
    if (bed === null && patientId) {
      const p = await this.#db
        .selectFrom('patients')
        .select('bed')
        .where('id', '=', patientId)
        .executeTakeFirst();
      bed = p?.bed ?? null;
    }
    await this.#db
      .insertInto('devices')
      .values({
        id: input.id,
        key: sealDeviceKey(this.#kek, input.id, keyBytes),
        patient_id: patientId,
        bed,
        description: input.description ?? null,
        created_at: now,
        updated_at: now,
        disabled: 0,
      })
      .execute();
    await this.#audit.append({
      type: 'device.add',
      action: 'C',
      outcome: 0,
      agent: who.agent,
      source: who.source,
      patientId: patientId ?? undefined,
      entity: { type: 'Device', id: input.id },
      // Never the key: the audit log is readable by auditors.
      detail: { bed, description: input.description ?? null, keyProvided: input.key !== undefined },
    });
    this.#entries.set(input.id, { id: input.id, key: importDeviceKey(keyBytes), patientId, bed });
    this.onChange?.([]);
    return {
      device: {
        id: input.id,
        patientId,
        bed,
        description: input.description ?? null,
        createdAt: now,
        disabled: false,
      },
      key: keyBytes.toString('base64url'),
    };
  }

  async list(): Promise<Device[]> {
    const rows = await this.#db
      .selectFrom('devices')
      .select(['id', 'patient_id', 'bed', 'description', 'created_at', 'disabled'])
      .orderBy('id')
      .execute();
    return rows.map((r) => ({
      id: r.id,
      patientId: r.patient_id,
      bed: r.bed,
      description: r.description,
      createdAt: Number(r.created_at),
      disabled: r.disabled !== 0,
    }));
  }

  /** Removes a device and its replay state; its stored samples and alarms stay. */
  async remove(deviceId: string, who: Who): Promise<void> {
    const row = await this.#db
      .selectFrom('devices')
      .select(['id', 'patient_id'])
      .where('id', '=', deviceId)
      .executeTakeFirst();
    if (!row) throw notFound(`device ${deviceId} is not registered`);
    await this.#db.transaction().execute(async (trx) => {
      await trx.deleteFrom('devices').where('id', '=', deviceId).execute();
      // A device registered again later under the same id starts a fresh sequence space.
      await trx.deleteFrom('device_sequences').where('device_id', '=', deviceId).execute();
    });
    await this.#audit.append({
      type: 'device.remove',
      action: 'D',
      outcome: 0,
      agent: who.agent,
      source: who.source,
      patientId: row.patient_id ?? undefined,
      entity: { type: 'Device', id: deviceId },
    });
    this.#entries.delete(deviceId);
    this.onChange?.([deviceId]);
  }

  async #resolvePatient(idOrMrn: string): Promise<string> {
    const p = await this.#db
      .selectFrom('patients')
      .select('id')
      .where((eb) => eb.or([eb('id', '=', idOrMrn), eb('mrn', '=', idOrMrn)]))
      .executeTakeFirst();
    if (!p) throw notFound(`patient ${idOrMrn} not found (give a patient id or MRN)`);
    return p.id;
  }
}
