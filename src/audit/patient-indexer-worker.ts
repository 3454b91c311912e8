/**
 * The audit patient indexer's thread (see patient-indexer.ts). Its connection opens the log's file
 * and attaches the index's; every transaction here reads the log and writes only the index file,
 * so it takes only the index's write lock and the log's writers never wait for it.
 * Only node built-ins and a store helper are imported: the worker loads this file as it is.
 */
import { DatabaseSync } from 'node:sqlite';
import { parentPort, workerData } from 'node:worker_threads';
import { attachAuditIndex } from '../store/audit-index-file.ts';

const port = parentPort;
if (!port) throw new Error('patient-indexer-worker runs as a worker thread only');
const { file, everyMs, chunk } = workerData as { file: string; everyMs: number; chunk: number };
const db = new DatabaseSync(file);
db.exec('PRAGMA busy_timeout = 5000');
db.exec('PRAGMA cache_size = -65536');
attachAuditIndex(db, file);

/**
 * One update: the entries in [mark, end) go into the index, sorted so its pages are written in
 * order, and the mark moves to `end`, in one transaction. A plain (deferred) BEGIN: IMMEDIATE would
 * take the write lock of every attached file, the log's included. The patients of a list are read
 * from the canonical entry (`detail.patientIds`, as otherPatients() takes them from the event).
 */
const markSt = db.prepare('SELECT indexed_upto AS m FROM audit_index.audit_index_state WHERE id = 1');
const endSt = db.prepare('SELECT coalesce(max(seq) + 1, 0) AS e FROM audit_events');
const indexSt = db.prepare(`INSERT OR IGNORE INTO audit_index.audit_patient_refs (patient_id, seq)
  SELECT patient_id, seq FROM (
    SELECT e.patient_id AS patient_id, e.seq AS seq FROM audit_events e
      WHERE e.seq >= ?1 AND e.seq < ?2 AND e.patient_id IS NOT NULL
    UNION
    SELECT j.value, e.seq FROM audit_events e, json_each(e.entry, '$.detail.patientIds') j
      WHERE e.seq >= ?1 AND e.seq < ?2 AND j.type = 'text' AND j.value <> '' AND length(j.value) <= 256
  ) ORDER BY patient_id, seq`);
const moveSt = db.prepare('UPDATE audit_index.audit_index_state SET indexed_upto = ? WHERE id = 1');

/** Indexes at most `chunk` entries; true when it caught up with the log. */
function pass(): boolean {
  db.exec('BEGIN');
  try {
    const mark = Number((markSt.get() as { m: number }).m);
    const end = Math.min(Number((endSt.get() as { e: number }).e), mark + chunk);
    if (end > mark) {
      indexSt.run(mark, end);
      moveSt.run(end);
    }
    db.exec('COMMIT');
    return end < mark + chunk;
  } catch (err) {
    if (db.isTransaction) db.exec('ROLLBACK');
    throw err;
  }
}

function catchUp(): string | undefined {
  try {
    while (!pass()) {
      // A rebuild of a large log goes in chunks, each one committed.
    }
    return undefined;
  } catch (err) {
    return (err as Error).message;
  }
}

const timer = setInterval(catchUp, everyMs);
port.on('message', (m: 'stop' | { id: number }) => {
  if (m === 'stop') {
    clearInterval(timer);
    catchUp();
    db.close();
    port.close();
    return;
  }
  port.postMessage({ id: m.id, error: catchUp() });
});
