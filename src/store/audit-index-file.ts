/**
 * SQLite: the audit log's patient index lives in a file of its own beside the store
 * (migration 0008 says why), attached to the connections that read it or fill it under the
 * schema name `audit_index`. Its tables are not in the main file, so the unqualified names
 * `audit_patient_refs` and `audit_index_state` find them: the same queries run on both engines.
 *
 * The index is derived data (rebuilt from the log when the file is new or lost), so it is not
 * part of the migrations: the tables are created here when missing.
 */
import path from 'node:path';
import type { DatabaseSync } from 'node:sqlite';

export const AUDIT_INDEX_SCHEMA = 'audit_index';

/** The index file beside the store's file `dbFile`. */
export function auditIndexFile(dbFile: string): string {
  return path.join(path.dirname(dbFile), 'carewire-audit-index.db');
}

/** Attaches the index file to `conn` (creating it and its tables when missing). */
export function attachAuditIndex(conn: DatabaseSync, dbFile: string): void {
  const s = AUDIT_INDEX_SCHEMA;
  conn.prepare(`ATTACH DATABASE ? AS ${s}`).run(auditIndexFile(dbFile));
  conn.exec(`PRAGMA ${s}.journal_mode = WAL`);
  // Derived data: a crash may lose the last update (and its mark with it); it is redone.
  conn.exec(`PRAGMA ${s}.synchronous = NORMAL`);
  conn.exec(`CREATE TABLE IF NOT EXISTS ${s}.audit_patient_refs (
      patient_id TEXT NOT NULL, seq INTEGER NOT NULL, PRIMARY KEY (patient_id, seq)) WITHOUT ROWID`);
  conn.exec(`CREATE TABLE IF NOT EXISTS ${s}.audit_index_state (
      id INTEGER PRIMARY KEY, indexed_upto INTEGER NOT NULL)`);
  // Written only when missing: an INSERT, even one that ignores its row, takes the file's write
  // lock, and the indexer thread may hold it for a while.
  if (conn.prepare(`SELECT 1 FROM ${s}.audit_index_state WHERE id = 1`).get() === undefined)
    conn.exec(`INSERT OR IGNORE INTO ${s}.audit_index_state (id, indexed_upto) VALUES (1, 0)`);
}
