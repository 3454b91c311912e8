/**
 * Room joins: every join is decided by the access policy (through AccessGate for patients, the
 * policy's ward rule for wards). A refusal is audited as a denial and answered with a `denied`
 * event; a successful join is audited once (a socket already in the room, e.g. after connection
 * state recovery, is not audited again). The answer replays what the client missed from the store.
 */
import type { Actor } from '../auth/policy.ts';
import { agentOf } from '../clinical/access-gate.ts';
import { AppError, badRequest, forbidden, tooManyRequests } from '../errors.ts';
import type { Services } from '../services.ts';
import type { PatientDirectory } from './patient-directory.ts';
import type {
  News2Payload,
  PatientInfo,
  SubscribeAck,
  SubscribeRequest,
  SubscribeScope,
} from './protocol.ts';
import { alarmsSince, news2Payload, vitalsSince } from './replay.ts';
import { assignedWards, decideWard } from './ward-access.ts';

export const patientRoom = (id: string) => `patient:${id}`;
export const wardRoom = (ward: string) => `ward:${ward}`;
/** Device alarms from monitors with no patient assigned: clinicians' central stations. */
export const DEVICES_ROOM = 'devices';

const ctx = { source: 'socket' };
const ID_RE = /^[A-Za-z0-9._:-]{1,64}$/;
const MAX_OFFSETS = 2000;

/** The part of a socket this module needs (Socket.IO's Socket satisfies it). */
export interface Joinable {
  readonly rooms: ReadonlySet<string>;
  join(rooms: string | string[]): void | Promise<void>;
}

/** Checks the shape of a subscribe request; throws 400 with what is wrong. */
export function parseSubscribe(raw: unknown): SubscribeRequest {
  if (typeof raw !== 'object' || raw === null) throw badRequest('subscribe expects an object');
  const r = raw as Record<string, unknown>;
  const sub = r.sub as Record<string, unknown> | undefined;
  if (typeof sub !== 'object' || sub === null) throw badRequest('subscribe.sub is required');
  let scope: SubscribeScope;
  if (sub.scope === 'station') scope = { scope: 'station' };
  else if (sub.scope === 'patient') {
    if (typeof sub.patientId !== 'string' || !ID_RE.test(sub.patientId))
      throw badRequest('subscribe.sub.patientId must be an id');
    scope = { scope: 'patient', patientId: sub.patientId };
  } else if (sub.scope === 'ward') {
    if (typeof sub.ward !== 'string' || sub.ward.length < 1 || sub.ward.length > 64)
      throw badRequest('subscribe.sub.ward must be a ward name');
    scope = { scope: 'ward', ward: sub.ward };
  } else throw badRequest('subscribe.sub.scope must be station, patient or ward');
  const out: SubscribeRequest = { sub: scope };
  if (r.vitalsHistory === false) out.vitalsHistory = false;
  if (r.since !== undefined) {
    const s = r.since as Record<string, unknown>;
    if (typeof s !== 'object' || s === null) throw badRequest('subscribe.since must be an object');
    out.since = {};
    if (s.alarms !== undefined) {
      if (!Number.isSafeInteger(s.alarms) || (s.alarms as number) < 0)
        throw badRequest('subscribe.since.alarms must be a non-negative integer');
      out.since.alarms = s.alarms as number;
    }
    if (s.vitals !== undefined) {
      if (typeof s.vitals !== 'object' || s.vitals === null)
        throw badRequest('subscribe.since.vitals must be an object');
      const entries = Object.entries(s.vitals as Record<string, unknown>);
      if (entries.length > MAX_OFFSETS)
        throw badRequest(`subscribe.since.vitals has more than ${MAX_OFFSETS} patients`);
      const v: Record<string, number> = {};
      for (const [k, ts] of entries) {
        if (!ID_RE.test(k) || !Number.isSafeInteger(ts) || (ts as number) < 0)
          throw badRequest('subscribe.since.vitals maps patient ids to ms timestamps');
        v[k] = ts as number;
      }
      out.since.vitals = v;
    }
  }
  return out;
}

/** At most `max` requests per `windowMs` per socket (subscriptions query the store). */
export class RequestBudget {
  readonly #max: number;
  readonly #windowMs: number;
  #start = 0;
  #count = 0;

  constructor(max = 20, windowMs = 10_000) {
    this.#max = max;
    this.#windowMs = windowMs;
  }

  take(now = Date.now()): void {
    if (now - this.#start > this.#windowMs) {
      this.#start = now;
      this.#count = 0;
    }
    if (++this.#count > this.#max)
      throw tooManyRequests('too many subscribe requests', Math.ceil(this.#windowMs / 1000));
  }
}

export class Subscriptions {
  readonly #s: Services;
  readonly #dir: PatientDirectory;

  constructor(services: Services, directory: PatientDirectory) {
    this.#s = services;
    this.#dir = directory;
  }

  /** Joins the rooms of a request (or throws an audited 403) and answers with the replay. */
  async subscribe(socket: Joinable, actor: Actor, req: SubscribeRequest): Promise<SubscribeAck> {
    const patients = await this.#join(socket, actor, req.sub);
    const ids = patients.map((p) => p.id);
    const db = this.#s.store.db;
    const now = Date.now();
    const alarms = await alarmsSince(db, ids, req.since?.alarms);
    const vitals = req.vitalsHistory === false ? [] : await vitalsSince(db, ids, req.since?.vitals, now);
    const news2: News2Payload[] = [];
    for (const id of ids) {
      const s = this.#s.alarms.news2.latest(id);
      if (s !== null) news2.push(news2Payload(id, s));
    }
    return {
      ok: true,
      patients,
      alarms: alarms.alarms,
      alarmOffset: alarms.offset,
      alarmsTruncated: alarms.truncated,
      vitals,
      news2,
      now,
    };
  }

  async #join(socket: Joinable, actor: Actor, sub: SubscribeScope): Promise<PatientInfo[]> {
    const gate = this.#s.gate;
    switch (sub.scope) {
      case 'patient': {
        const decision = await gate.check(
          actor,
          'clinical:read',
          { type: 'patient', patientId: sub.patientId },
          ctx,
        );
        const [p] = await this.#dir.many([sub.patientId]);
        if (!p) throw new AppError(404, 'not-found', `patient ${sub.patientId} not found`);
        const room = patientRoom(p.id);
        if (!socket.rooms.has(room)) {
          await socket.join(room);
          await gate.record(actor, 'clinical:read', decision, ctx, {
            type: 'realtime.subscribe',
            patientId: p.id,
            entity: { type: 'Patient', id: p.id },
            detail: { room },
          });
        }
        return [p];
      }
      case 'ward':
        return this.#joinWard(socket, actor, sub.ward);
      case 'station':
        return this.#joinStation(socket, actor);
    }
  }

  async #joinWard(socket: Joinable, actor: Actor, ward: string): Promise<PatientInfo[]> {
    const decision = await decideWard(this.#s.store.db, actor, ward);
    if (!decision.allow) {
      await this.#s.audit.append({
        type: 'access.denied',
        action: 'R',
        outcome: 4,
        agent: agentOf(actor),
        source: ctx.source,
        detail: { requested: 'ward:watch', ward, reason: decision.reason },
      });
      throw forbidden(decision.reason);
    }
    const room = wardRoom(ward);
    const patients = await this.#dir.onWard(ward);
    if (!socket.rooms.has(room)) {
      await socket.join(room);
      await this.#s.gate.record(actor, 'clinical:read', decision, ctx, {
        type: 'realtime.subscribe',
        detail: { room, patients: patients.length },
      });
    }
    return patients;
  }

  /** Every patient the user may see: their wards as ward rooms, anyone else as patient rooms. */
  async #joinStation(socket: Joinable, actor: Actor): Promise<PatientInfo[]> {
    if (actor.role === 'patient') {
      if (!actor.patientId) throw forbidden('this account is not linked to a patient record');
      return this.#join(socket, actor, { scope: 'patient', patientId: actor.patientId });
    }
    if (actor.role !== 'clinician') {
      // Admins and auditors see no clinical values: this refuses and audits the attempt.
      await this.#s.gate.check(actor, 'clinical:read', { type: 'system' }, ctx);
      throw forbidden('no clinical data for this role');
    }
    const policy = this.#s.gate.policy;
    const out = new Map<string, PatientInfo>();
    for (const ward of await assignedWards(this.#s.store.db, actor)) {
      for (const p of await this.#joinWard(socket, actor, ward)) out.set(p.id, p);
    }
    const listable = await policy.listablePatientIds(actor);
    const others = listable === 'all' ? [] : listable.filter((id) => !out.has(id));
    for (const id of others) {
      for (const p of await this.#join(socket, actor, { scope: 'patient', patientId: id })) out.set(p.id, p);
    }
    if (!socket.rooms.has(DEVICES_ROOM)) await socket.join(DEVICES_ROOM);
    return [...out.values()].sort(byBed);
  }
}

function byBed(a: PatientInfo, b: PatientInfo): number {
  return `${a.ward ?? ''}\u0000${a.bed ?? ''}`.localeCompare(`${b.ward ?? ''}\u0000${b.bed ?? ''}`, 'en', {
    numeric: true,
  });
}
