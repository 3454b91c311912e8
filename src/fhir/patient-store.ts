/** Patient rows for the FHIR API: look-ups and writes inside a caller's transaction. */
import { randomUUID } from 'node:crypto';
import type { Kysely, Transaction } from 'kysely';
import type { Database, PatientsTable } from '../store/schema.ts';
import type { PatientFields } from './patient-map.ts';

export type Trx = Transaction<Database> | Kysely<Database>;

export async function patientById(db: Trx, id: string): Promise<PatientsTable | undefined> {
  return db.selectFrom('patients').selectAll().where('id', '=', id).executeTakeFirst();
}

export async function patientByMrn(db: Trx, mrn: string): Promise<PatientsTable | undefined> {
  return db.selectFrom('patients').selectAll().where('mrn', '=', mrn).executeTakeFirst();
}

export async function insertPatient(db: Trx, f: PatientFields): Promise<PatientsTable> {
  const now = Date.now();
  await db
    .insertInto('patients')
    .values({
      id: randomUUID(),
      mrn: f.mrn,
      given_name: f.givenName,
      family_name: f.familyName,
      sex: f.sex,
      birth_date: f.birthDate,
      ward: f.ward,
      bed: f.bed,
      created_at: now,
      updated_at: now,
    })
    .execute();
  // Read back: the version column's default and any engine-side values are the truth.
  return (await patientByMrn(db, f.mrn))!;
}

export async function updatePatient(db: Trx, id: string, f: PatientFields): Promise<PatientsTable> {
  await db
    .updateTable('patients')
    .set({
      mrn: f.mrn,
      given_name: f.givenName,
      family_name: f.familyName,
      sex: f.sex,
      birth_date: f.birthDate,
      ward: f.ward,
      bed: f.bed,
      updated_at: Date.now(),
    })
    .where('id', '=', id)
    .execute();
  return (await patientById(db, id))!;
}

/** A unique-constraint violation on either engine. */
export function isUniqueViolation(err: unknown): boolean {
  const e = err as { code?: string; message?: string };
  return e?.code === '23505' || /UNIQUE constraint failed/.test(e?.message ?? '');
}
