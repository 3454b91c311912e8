/**
 * SQLite: the patient index of the audit log moves to a file of its own
 * (`carewire-audit-index.db`, see src/audit/patient-index.ts).
 *
 * Filled in bulk inside the log's file, every update held SQLite's one write lock for 15 ms or
 * more (with 10,000 patients each update dirties a page per patient), and every audited request
 * that committed meanwhile waited: the FHIR read benchmark's p99 went from 7 ms to 20–30 ms. In a
 * file of its own the index has its own write lock and its own thread, and the log's commits never
 * wait for it. The index is derived data: its new file starts empty and the indexer rebuilds it
 * from the log in the background; until then readers scan the part not yet indexed.
 *
 * PostgreSQL keeps the index in its schema, written with each batch (nothing changes there).
 */
import { type Kysely, sql } from 'kysely';
import type { MigrationContext } from './index.ts';

export async function up(db: Kysely<unknown>, { engine }: MigrationContext): Promise<void> {
  if (engine !== 'sqlite') return;
  await sql`DROP TABLE main.audit_patient_refs`.execute(db);
  await sql`DROP TABLE main.audit_index_state`.execute(db);
}
