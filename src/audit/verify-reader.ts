/**
 * Reader thread for whole-log verification of an SQLite store: reads entry bytes and stored leaf
 * hashes on its own read-only connection, scans each entry's seq and computes its leaf hash, and
 * hands them over in packed chunks. The main thread only builds the tree and compares stored
 * interior nodes, so verification uses two cores (bench/audit.ts measures it).
 *
 * Message to the main thread per chunk (all buffers transferred, not copied):
 *   { rows, rowSeq: Float64Array, seq: Float64Array (NaN: no seq), leaf: Uint8Array (32 per row),
 *     stored: Uint8Array (32 per row), hasStored: Uint8Array (1 when a 32-byte leaf is stored) }
 * then { done: true }, or { error } on failure. The main thread sends 'more' to grant one chunk.
 */
import { hash } from 'node:crypto';
import { DatabaseSync } from 'node:sqlite';
import { parentPort, workerData } from 'node:worker_threads';
import { scanSeq } from './merkle/verify-log.ts';

export interface ReaderData {
  file: string;
  from: number;
  to: number;
  chunk: number;
  /** Chunks read ahead of the consumer. */
  credit: number;
}

export interface ReaderChunk {
  rows: number;
  rowSeq: Float64Array;
  seq: Float64Array;
  leaf: Uint8Array;
  stored: Uint8Array;
  hasStored: Uint8Array;
}

function run(d: ReaderData): void {
  const port = parentPort!;
  const db = new DatabaseSync(d.file, { readOnly: true });
  db.exec('PRAGMA busy_timeout = 5000');
  const stmt = db.prepare(
    'SELECT seq, CAST(entry AS BLOB) AS e, leaf FROM audit_events WHERE seq >= ? AND seq < ? ORDER BY seq LIMIT ?',
  );
  stmt.setReturnArrays(true);
  const scratch = Buffer.alloc(64 * 1024);
  let credit = d.credit;
  let next = d.from;
  let finished = false;

  const pump = (): void => {
    while (credit > 0 && !finished) {
      const rows = stmt.all(next, d.to, d.chunk) as unknown as Array<[number, Uint8Array, Uint8Array | null]>;
      const n = rows.length;
      const c: ReaderChunk = {
        rows: n,
        rowSeq: new Float64Array(n),
        seq: new Float64Array(n),
        leaf: new Uint8Array(32 * n),
        stored: new Uint8Array(32 * n),
        hasStored: new Uint8Array(n),
      };
      for (let i = 0; i < n; i++) {
        const [rowSeq, bytes, stored] = rows[i]!;
        c.rowSeq[i] = rowSeq;
        c.seq[i] = scanSeq(bytes) ?? Number.NaN;
        const buf = bytes.length + 1 <= scratch.length ? scratch : Buffer.alloc(bytes.length + 1);
        buf[0] = 0x00;
        buf.set(bytes, 1);
        c.leaf.set(hash('sha256', buf.subarray(0, bytes.length + 1), 'buffer'), 32 * i);
        if (stored && stored.length === 32) {
          c.stored.set(stored, 32 * i);
          c.hasStored[i] = 1;
        }
      }
      credit--;
      // Freshly allocated, so plain ArrayBuffers (never shared): transfer rather than copy.
      const transfer = [c.rowSeq, c.seq, c.leaf, c.stored, c.hasStored].map((a) => a.buffer as ArrayBuffer);
      port.postMessage(c, transfer);
      if (n < d.chunk) {
        finished = true;
        port.postMessage({ done: true });
        db.close();
        return;
      }
      next = rows[n - 1]![0] + 1;
    }
  };

  port.on('message', (m) => {
    if (m === 'more') {
      credit++;
      try {
        pump();
      } catch (err) {
        port.postMessage({ error: (err as Error).message });
      }
    }
  });
  try {
    pump();
  } catch (err) {
    port.postMessage({ error: (err as Error).message });
  }
}

if (parentPort && workerData) run(workerData as ReaderData);
