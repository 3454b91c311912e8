/**
 * Moves SQLite's WAL checkpoints off the event loop. By default the connection that commits past
 * 1,000 WAL pages runs the checkpoint itself, synchronously: copying the WAL into the database
 * file and fsyncing it, with the event loop (and the UDP socket) stalled meanwhile. At telemetry
 * rates that happened every few commits (measured ≈ 3.5 µs per stored sample on the main thread).
 *
 * Here a worker thread with its own connection runs PASSIVE checkpoints (they never block a
 * writer or a reader) every `everyMs`, and the main connection's automatic checkpoint is turned
 * off while the worker runs. If the worker stops for any reason the automatic checkpoint is
 * turned back on, so the WAL can never grow without bound.
 */
import type { DatabaseSync } from 'node:sqlite';
import { Worker } from 'node:worker_threads';
import { stopThread } from './stop-thread.ts';

const WORKER = `
const { parentPort, workerData } = require('node:worker_threads');
const { DatabaseSync } = require('node:sqlite');
const db = new DatabaseSync(workerData.file);
db.exec('PRAGMA busy_timeout = 1000');
const run = () => {
  try { db.exec('PRAGMA wal_checkpoint(PASSIVE)'); } catch { /* busy: next time */ }
};
const timer = setInterval(run, workerData.everyMs);
parentPort.on('message', (m) => {
  if (m === 'stop') { clearInterval(timer); run(); db.close(); parentPort.close(); }
});
parentPort.postMessage('ready');
`;

export class WalCheckpointer {
  readonly #main: DatabaseSync;
  #worker: Worker | undefined;
  #stopped = false;

  /**
   * Every 50 ms: under heavy commit load (HL7 at ~7,000 durable messages/s, ~350 MB/s of WAL) a
   * 200 ms period left so much for the writer thread's own checkpoint between transactions (see
   * sqlite-writer-worker.ts) that it stalled the thread 14 ms at the median, 35 ms at most, and set
   * the HL7 ACK p99 (25–36 ms). At 50 ms: 9 and 19 ms, p99 21–22 ms; telemetry and FHIR unchanged
   * (docs/benchmarks.md). An idle store's checkpoint returns at once.
   */
  constructor(main: DatabaseSync, file: string, everyMs = 50) {
    this.#main = main;
    const w = new Worker(WORKER, { eval: true, workerData: { file, everyMs } });
    this.#worker = w;
    w.unref();
    w.once('message', () => {
      if (!this.#stopped && this.#main.isOpen) this.#main.exec('PRAGMA wal_autocheckpoint = 0');
    });
    const fallback = () => {
      this.#worker = undefined;
      if (this.#main.isOpen) this.#main.exec('PRAGMA wal_autocheckpoint = 1000');
    };
    w.once('error', fallback);
    w.once('exit', fallback);
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    const w = this.#worker;
    if (w === undefined) return;
    await stopThread(w);
    if (this.#main.isOpen) this.#main.exec('PRAGMA wal_autocheckpoint = 1000');
  }
}
