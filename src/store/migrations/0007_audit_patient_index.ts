/**
 * "Who accessed my record" through one index that is maintained in bulk.
 *
 * Until now every audit entry also went into an index on (patient_id, seq) of audit_events. With
 * many patients those index entries land on a different page each, and every group commit wrote
 * hundreds of scattered pages: a third of the append cost (bench/audit.ts). Now:
 *
 * - `audit_patient_refs` holds every (patient, seq) an entry is about: its own patient and the
 *   patients of a list (it held only the latter).
 * - On SQLite it is filled in bulk, sorted, every few thousand entries, by one INSERT … SELECT over
 *   the entries not yet indexed; `audit_index_state.indexed_upto` is the first seq not indexed.
 *   Readers take the indexed part from the index and scan the short tail after it.
 * - On PostgreSQL each batch writes its refs and moves the mark (the tail is always empty).
 *
 * The refs are derived data: the Merkle log (entries and tree) stays the only thing that is
 * signed and verified.
 */
import { type Kysely, sql } from 'kysely';
import type { MigrationContext } from './index.ts';

export async function up(db: Kysely<unknown>, { engine }: MigrationContext): Promise<void> {
  await db.schema
    .createTable('audit_index_state')
    .addColumn('id', 'integer', (c) => c.primaryKey())
    .addColumn('indexed_upto', 'bigint', (c) => c.notNull())
    .execute();
  const conflict = engine === 'postgres' ? sql`ON CONFLICT DO NOTHING` : sql``;
  const orIgnore = engine === 'postgres' ? sql`` : sql`OR IGNORE`;
  await sql`INSERT ${orIgnore} INTO audit_patient_refs (patient_id, seq)
    SELECT patient_id, seq FROM audit_events WHERE patient_id IS NOT NULL ORDER BY patient_id, seq ${conflict}`.execute(
    db,
  );
  await sql`INSERT INTO audit_index_state (id, indexed_upto)
    SELECT 1, coalesce(max(seq) + 1, 0) FROM audit_events`.execute(db);
  await db.schema.dropIndex('audit_log_patient').execute();
}
