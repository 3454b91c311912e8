/**
 * FHIR R4 API support.
 *
 * - `patients.version`: the FHIR `meta.versionId` and ETag. A trigger bumps it on every UPDATE, so
 *   writers that know nothing of FHIR (HL7 ADT upserts, the REST API) still produce a new version
 *   and an `If-Match` from a client holding an old ETag is refused.
 * - `observations.identifier`: `system|value` of the business identifier a FHIR client sent (for
 *   example another CareWire's observation id), so a conditional create (`If-None-Exist:
 *   identifier=…`) finds what an earlier push stored. Unique where set (partial index: the millions
 *   of rows other gateways write carry NULL and cost nothing in it); a blood-pressure panel stores
 *   it on its head row (systolic) only.
 * - A covering index for a patient's observations of one code in time order, replacing
 *   `observations_patient_code_time` (same leading columns, so every query that used it uses this
 *   one). Observations arrive interleaved across patients, so a 50-row page of one patient's
 *   heart rates otherwise touches ~50 table pages; from the covering index it is one short range
 *   scan (measured 2.6× faster on 1 M rows). It ends its key in `seq`, the keyset paging order.
 *   SQLite has no INCLUDE, so the payload columns follow the key; PostgreSQL INCLUDEs them.
 */
import { type Kysely, sql } from 'kysely';
import type { MigrationContext } from './index.ts';

export async function up(db: Kysely<unknown>, { engine }: MigrationContext): Promise<void> {
  await db.schema
    .alterTable('patients')
    .addColumn('version', 'integer', (c) => c.notNull().defaultTo(1))
    .execute();
  if (engine === 'postgres') {
    await sql`CREATE FUNCTION carewire_patient_version() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN NEW.version := OLD.version + 1; RETURN NEW; END $$`.execute(db);
    await sql`CREATE TRIGGER patients_version BEFORE UPDATE ON patients
        FOR EACH ROW EXECUTE FUNCTION carewire_patient_version()`.execute(db);
  } else {
    // SQLite has no BEFORE-row assignment: bump in an AFTER trigger. recursive_triggers is off, so
    // the trigger's own UPDATE does not fire it again.
    await sql`CREATE TRIGGER patients_version AFTER UPDATE ON patients FOR EACH ROW
        BEGIN UPDATE patients SET version = OLD.version + 1 WHERE id = NEW.id; END`.execute(db);
  }

  await db.schema.alterTable('observations').addColumn('identifier', 'text').execute();
  await db.schema
    .createIndex('observations_identifier')
    .on('observations')
    .column('identifier')
    .unique()
    .where(sql.ref('identifier'), 'is not', null)
    .execute();
  await db.schema.dropIndex('observations_patient_code_time').execute();
  const key = 'patient_id, code, effective_at, seq';
  const payload =
    'code_system, panel, status, value_num, unit, mdc_code, category, id, recorded_at, value_text, display, ref_range, abnormal_flags, identifier';
  await sql
    .raw(
      engine === 'postgres'
        ? `CREATE INDEX observations_patient_code_time_cover ON observations (${key}) INCLUDE (${payload})`
        : `CREATE INDEX observations_patient_code_time_cover ON observations (${key}, ${payload})`,
    )
    .execute(db);
}
