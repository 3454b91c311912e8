/**
 * Patients: the registry every gateway writes through (admins by API, HL7 ADT later). Each call
 * passes the access policy and is audited via the AccessGate.
 */
import { randomUUID } from 'node:crypto';
import type { Kysely, Transaction, Updateable } from 'kysely';
import type { Actor } from '../auth/policy.ts';
import { badRequest, conflict, notFound } from '../errors.ts';
import type { Db } from '../store/db.ts';
import type { Database, PatientsTable } from '../store/schema.ts';
import type { AccessContext, AccessGate } from './access-gate.ts';

export interface Patient {
  id: string;
  mrn: string;
  givenName: string;
  familyName: string;
  name: string;
  sex: string | null;
  birthDate: string | null;
  ward: string | null;
  bed: string | null;
}

export interface NewPatient {
  mrn: string;
  givenName: string;
  familyName: string;
  sex?: string | null | undefined;
  birthDate?: string | null | undefined;
  ward?: string | null | undefined;
  bed?: string | null | undefined;
}

/** One identifier of a patient as another system knows it (HL7 PID-3: CX value, type code, authority). */
export interface PatientIdentifier {
  value: string;
  type?: string | undefined;
  authority?: string | undefined;
}

/**
 * Registry update keyed by MRN (HL7 ADT). Absent fields keep what is stored, `null` clears it; a
 * new patient needs a name.
 */
export interface PatientUpsert {
  mrn: string;
  givenName?: string | undefined;
  familyName?: string | undefined;
  sex?: string | null | undefined;
  birthDate?: string | null | undefined;
  ward?: string | null | undefined;
  bed?: string | null | undefined;
  identifiers?: readonly PatientIdentifier[] | undefined;
  admittedAt?: number | null | undefined;
  dischargedAt?: number | null | undefined;
}

const SEXES = new Set(['male', 'female', 'other', 'unknown']);

export function toPatient(r: PatientsTable): Patient {
  return {
    id: r.id,
    mrn: r.mrn,
    givenName: r.given_name,
    familyName: r.family_name,
    name: `${r.given_name} ${r.family_name}`.trim(),
    sex: r.sex,
    birthDate: r.birth_date,
    ward: r.ward,
    bed: r.bed,
  };
}

export class PatientService {
  readonly #db: Db;
  readonly #gate: AccessGate;

  constructor(db: Db, gate: AccessGate) {
    this.#db = db;
    this.#gate = gate;
  }

  async list(actor: Actor, ctx: AccessContext): Promise<Patient[]> {
    const decision = await this.#gate.check(actor, 'patient:list', { type: 'system' }, ctx);
    const ids = await this.#gate.policy.listablePatientIds(actor);
    let q = this.#db.selectFrom('patients').selectAll().orderBy('ward').orderBy('bed').orderBy('family_name');
    if (ids !== 'all') {
      if (ids.length === 0) return [];
      q = q.where('id', 'in', ids);
    }
    const rows = await q.execute();
    await this.#gate.record(actor, 'patient:list', decision, ctx, {
      type: 'patient.list',
      detail: { count: rows.length, patientIds: rows.map((r) => r.id).slice(0, 200) },
    });
    return rows.map(toPatient);
  }

  async get(actor: Actor, patientId: string, ctx: AccessContext): Promise<Patient> {
    const decision = await this.#gate.check(actor, 'patient:read', { type: 'patient', patientId }, ctx);
    const row = await this.#db
      .selectFrom('patients')
      .selectAll()
      .where('id', '=', patientId)
      .executeTakeFirst();
    if (!row) throw notFound(`patient ${patientId} not found`);
    await this.#gate.record(actor, 'patient:read', decision, ctx, {
      type: 'patient.read',
      patientId,
      entity: { type: 'Patient', id: patientId },
    });
    return toPatient(row);
  }

  async create(actor: Actor, input: NewPatient, ctx: AccessContext): Promise<Patient> {
    const decision = await this.#gate.check(actor, 'patient:write', { type: 'system' }, ctx);
    const row = await this.insert(input);
    await this.#gate.record(actor, 'patient:write', decision, ctx, {
      type: 'patient.create',
      patientId: row.id,
      entity: { type: 'Patient', id: row.id },
    });
    return row;
  }

  /**
   * Inserts without an actor: for trusted internal writers (demo seeding, and gateways that audit
   * per batch themselves).
   */
  async insert(input: NewPatient): Promise<Patient> {
    const mrn = input.mrn.trim();
    if (!mrn || mrn.length > 64) throw badRequest('mrn: 1-64 characters');
    if (!input.givenName.trim() && !input.familyName.trim()) throw badRequest('a patient needs a name');
    if (input.sex && !SEXES.has(input.sex)) throw badRequest(`sex must be one of ${[...SEXES].join(', ')}`);
    if (input.birthDate && !/^\d{4}-\d{2}-\d{2}$/.test(input.birthDate))
      throw badRequest('birthDate: YYYY-MM-DD');
    const exists = await this.#db
      .selectFrom('patients')
      .select('id')
      .where('mrn', '=', mrn)
      .executeTakeFirst();
    if (exists) throw conflict(`a patient with mrn ${mrn} exists`);
    const now = Date.now();
    const row: PatientsTable = {
      id: randomUUID(),
      mrn,
      given_name: input.givenName.trim(),
      family_name: input.familyName.trim(),
      sex: input.sex ?? null,
      birth_date: input.birthDate ?? null,
      ward: input.ward ?? null,
      bed: input.bed ?? null,
      created_at: now,
      updated_at: now,
    };
    await this.#db.insertInto('patients').values(row).execute();
    return toPatient(row);
  }

  /**
   * Creates or updates the patient with this MRN inside the caller's transaction (a gateway's group
   * commit, which audits per connection). No access check: for trusted writers only.
   */
  async upsertByMrnIn(
    trx: Transaction<Database> | Kysely<Database>,
    input: PatientUpsert,
  ): Promise<{ id: string; created: boolean }> {
    const mrn = input.mrn.trim();
    if (!mrn || mrn.length > 64) throw badRequest('mrn: 1-64 characters');
    if (input.sex && !SEXES.has(input.sex)) throw badRequest(`sex must be one of ${[...SEXES].join(', ')}`);
    if (input.birthDate && !/^\d{4}-\d{2}-\d{2}$/.test(input.birthDate))
      throw badRequest('birthDate: YYYY-MM-DD');
    const set: Updateable<PatientsTable> = {};
    if (input.givenName !== undefined) set.given_name = input.givenName.trim();
    if (input.familyName !== undefined) set.family_name = input.familyName.trim();
    if (input.sex !== undefined) set.sex = input.sex;
    if (input.birthDate !== undefined) set.birth_date = input.birthDate;
    if (input.ward !== undefined) set.ward = input.ward;
    if (input.bed !== undefined) set.bed = input.bed;
    if (input.identifiers !== undefined) set.identifiers = JSON.stringify(input.identifiers);
    if (input.admittedAt !== undefined) set.admitted_at = input.admittedAt;
    if (input.dischargedAt !== undefined) set.discharged_at = input.dischargedAt;
    const now = Date.now();
    const existing = await trx.selectFrom('patients').select('id').where('mrn', '=', mrn).executeTakeFirst();
    if (existing) {
      await trx
        .updateTable('patients')
        .set({ ...set, updated_at: now })
        .where('id', '=', existing.id)
        .execute();
      return { id: existing.id, created: false };
    }
    if (!set.given_name && !set.family_name) throw badRequest('a patient needs a name');
    const id = randomUUID();
    await trx
      .insertInto('patients')
      .values({
        id,
        mrn,
        given_name: set.given_name ?? '',
        family_name: set.family_name ?? '',
        sex: set.sex ?? null,
        birth_date: set.birth_date ?? null,
        ward: set.ward ?? null,
        bed: set.bed ?? null,
        identifiers: set.identifiers ?? null,
        admitted_at: set.admitted_at ?? null,
        discharged_at: set.discharged_at ?? null,
        created_at: now,
        updated_at: now,
      })
      .execute();
    return { id, created: true };
  }
}
