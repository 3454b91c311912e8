/**
 * SQLite: FHIR's observation search order moves off the write path.
 *
 * The covering index `observations_patient_code_time_cover` (0006) made a patient's observations
 * of one code a short range scan, but every HL7 commit paid for it: each transaction inserted
 * into it at one leaf per (patient, code) and rewrote those leaves (and their splits) into the
 * WAL. Measured on `npm run bench -- hl7`: 235 WAL pages per 21-message commit with the index, 76
 * without, and the writer thread's time per message fell by about a third without it.
 *
 * Now the observations table keeps only append-ordered or per-patient-append indexes, and a copy of each
 * row lives in `observation_search`, a table clustered by (patient, code, time, seq), filled in
 * sorted bulk by the store's merger (observation-search.ts) off the acknowledgement path: a merge
 * of a few thousand rows writes each leaf once. `observation_search_state.merged_seq` says how far
 * it has come. `observations_searchable` is what searches read: the merged rows plus the unmerged
 * tail (`seq > merged_seq`, a rowid range on the observations table), so a row is searchable the
 * moment it is committed. SQLite flattens the view into a compound query that merges two ordered
 * streams; the tail is kept to a few thousand rows by the merger.
 *
 * Observations are updated and deleted rarely (FHIR PUT/DELETE, a patient's deletion cascading):
 * triggers keep the merged copy equal to the row.
 *
 * PostgreSQL keeps the covering index (it INCLUDEs the payload, and its writes are not on one
 * file's single writer); its `observations_searchable` is the table itself.
 */
import { type Kysely, sql } from 'kysely';
import type { MigrationContext } from './index.ts';

/**
 * Every column of observations, in the view's order; the merger copies the same list
 * (observation-search.ts). A later migration that adds or drops an observations column must
 * redefine the view, the copy and the update trigger, and give the merger its new list.
 */
export const SEARCH_COLUMNS =
  'seq, id, patient_id, code, code_system, display, mdc_code, value_num, value_text, unit, ref_range, abnormal_flags, status, category, panel, effective_at, recorded_at, source, source_ref, identifier';

export async function up(db: Kysely<unknown>, { engine }: MigrationContext): Promise<void> {
  if (engine === 'postgres') {
    await sql
      .raw(`CREATE VIEW observations_searchable AS SELECT ${SEARCH_COLUMNS} FROM observations`)
      .execute(db);
    return;
  }
  await sql
    .raw(`CREATE TABLE observation_search (
      patient_id TEXT NOT NULL, code TEXT NOT NULL, effective_at INTEGER NOT NULL, seq INTEGER NOT NULL,
      id TEXT NOT NULL, code_system TEXT NOT NULL, display TEXT, mdc_code TEXT, value_num REAL,
      value_text TEXT, unit TEXT, ref_range TEXT, abnormal_flags TEXT, status TEXT NOT NULL,
      category TEXT, panel TEXT, recorded_at INTEGER NOT NULL, source TEXT NOT NULL, source_ref TEXT,
      identifier TEXT,
      PRIMARY KEY (patient_id, code, effective_at, seq)
    ) WITHOUT ROWID`)
    .execute(db);
  // Look-ups by id and by a client's identifier (FHIR `_id`, `identifier`, conditional create)
  // must not scan the copy. Ids are time-ordered, so a merge mostly appends to this index; the
  // identifier index holds only the few rows that have one.
  await sql`CREATE INDEX observation_search_id ON observation_search (id)`.execute(db);
  await sql`CREATE INDEX observation_search_identifier ON observation_search (identifier)
      WHERE identifier IS NOT NULL`.execute(db);
  await sql`CREATE TABLE observation_search_state (
      one INTEGER PRIMARY KEY CHECK (one = 1), merged_seq INTEGER NOT NULL)`.execute(db);
  // Existing rows are merged here, in one sorted pass.
  await sql
    .raw(`INSERT INTO observation_search (${SEARCH_COLUMNS}) SELECT ${SEARCH_COLUMNS} FROM observations
      ORDER BY patient_id, code, effective_at, seq`)
    .execute(db);
  await sql`INSERT INTO observation_search_state (one, merged_seq)
      SELECT 1, coalesce(max(seq), 0) FROM observations`.execute(db);
  // The copy is keyed by seq and the tail is "seq above merged_seq": a seq that changed could
  // show a row twice. Nothing changes it; this makes sure nothing will.
  await sql`CREATE TRIGGER observations_seq_fixed BEFORE UPDATE OF seq ON observations
      BEGIN SELECT RAISE(ABORT, 'observations.seq never changes'); END`.execute(db);
  await sql
    .raw(`CREATE TRIGGER observations_search_delete AFTER DELETE ON observations
      BEGIN
        DELETE FROM observation_search WHERE patient_id = OLD.patient_id AND code = OLD.code
          AND effective_at = OLD.effective_at AND seq = OLD.seq;
      END`)
    .execute(db);
  await sql
    .raw(`CREATE TRIGGER observations_search_update AFTER UPDATE ON observations
      WHEN OLD.seq <= (SELECT merged_seq FROM observation_search_state)
      BEGIN
        DELETE FROM observation_search WHERE patient_id = OLD.patient_id AND code = OLD.code
          AND effective_at = OLD.effective_at AND seq = OLD.seq;
        INSERT INTO observation_search (${SEARCH_COLUMNS}) SELECT ${SEARCH_COLUMNS} FROM observations WHERE seq = NEW.seq;
      END`)
    .execute(db);
  // NOT INDEXED: the tail is read by its rowid range, never through a per-patient index that
  // would walk the patient's whole history to find the few unmerged rows.
  await sql
    .raw(`CREATE VIEW observations_searchable AS
      SELECT ${SEARCH_COLUMNS} FROM observation_search
      UNION ALL
      SELECT ${SEARCH_COLUMNS} FROM observations NOT INDEXED
        WHERE seq > (SELECT merged_seq FROM observation_search_state)`)
    .execute(db);
  await sql`DROP INDEX observations_patient_code_time_cover`.execute(db);
  // Per patient in arrival order (SQLite appends the rowid to every index key): what a patient's
  // deletion cascades through. By time, the old index took inserts all over each patient's range:
  // 28 of the ~100 WAL pages of an HL7 commit (counted from a WAL copy under `npm run bench --
  // hl7`). Reads by patient and time go to observations_searchable.
  await sql`DROP INDEX observations_patient_time`.execute(db);
  await sql`CREATE INDEX observations_patient ON observations (patient_id)`.execute(db);
}
