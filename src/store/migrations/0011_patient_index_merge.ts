/**
 * SQLite: the per-patient indexes leave the acknowledgement path too.
 *
 * After 0010, an HL7 commit still wrote ~100 WAL pages, 44 of them leaves of two indexes keyed by
 * patient: `observations_patient` (29 per commit) and `hl7_messages_patient` (15), one leaf per
 * patient in the batch (counted from a WAL copy under `npm run bench -- hl7`, pages mapped to
 * b-trees with dbstat). In alternating runs without them the writer thread spent 60 instead of 72
 * µs per message and the rate rose by about a tenth.
 *
 * - `observations_patient` goes. Every read by patient goes through `observations_searchable`
 *   (0010), whose merged copy is clustered by patient. It was left for the foreign key's cascade
 *   when a patient is deleted: CareWire never deletes a patient, and such a deletion (by hand)
 *   now scans the table instead.
 * - `hl7_messages_patient` becomes `hl7_message_patients` (patient, message id), filled in sorted
 *   bulk by the same merger as the observation copy, and `hl7_messages_by_patient` is the merged
 *   pairs plus the unmerged tail (`id > merged_id`, a rowid range). Readers look messages up by the
 *   ids it gives, so a deleted message leaves a harmless pair behind; a trigger makes sure the two
 *   columns it copies never change.
 *
 * PostgreSQL keeps its index; its `hl7_messages_by_patient` is the table itself.
 */
import { type Kysely, sql } from 'kysely';
import type { MigrationContext } from './index.ts';

export async function up(db: Kysely<unknown>, { engine }: MigrationContext): Promise<void> {
  if (engine === 'postgres') {
    await sql`CREATE VIEW hl7_messages_by_patient AS
      SELECT patient_id, id FROM hl7_messages WHERE patient_id IS NOT NULL`.execute(db);
    return;
  }
  await sql`DROP INDEX observations_patient`.execute(db);
  await sql`CREATE TABLE hl7_message_patients (
      patient_id TEXT NOT NULL, id INTEGER NOT NULL, PRIMARY KEY (patient_id, id)) WITHOUT ROWID`.execute(db);
  await sql`CREATE TABLE hl7_message_patients_state (
      one INTEGER PRIMARY KEY CHECK (one = 1), merged_id INTEGER NOT NULL)`.execute(db);
  await sql`INSERT INTO hl7_message_patients (patient_id, id)
      SELECT patient_id, id FROM hl7_messages WHERE patient_id IS NOT NULL ORDER BY patient_id, id`.execute(
    db,
  );
  await sql`INSERT INTO hl7_message_patients_state (one, merged_id)
      SELECT 1, coalesce(max(id), 0) FROM hl7_messages`.execute(db);
  await sql`DROP INDEX hl7_messages_patient`.execute(db);
  await sql`CREATE TRIGGER hl7_messages_patient_fixed BEFORE UPDATE OF id, patient_id ON hl7_messages
      BEGIN SELECT RAISE(ABORT, 'hl7_messages.id and patient_id never change'); END`.execute(db);
  // NOT INDEXED: the tail is read by its rowid range (see 0010's view).
  await sql`CREATE VIEW hl7_messages_by_patient AS
      SELECT patient_id, id FROM hl7_message_patients
      UNION ALL
      SELECT patient_id, id FROM hl7_messages NOT INDEXED
        WHERE id > (SELECT merged_id FROM hl7_message_patients_state) AND patient_id IS NOT NULL`.execute(db);
}
