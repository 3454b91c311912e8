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
 *
 * Every 250 ms it also hands the WAL's restart to the writer thread (`done`; see checkpointTail in
 * sqlite-writer-worker.ts): passes until one is short, so little is left to copy there.
 */
import type { DatabaseSync } from 'node:sqlite';
import { Worker } from 'node:worker_threads';
import { stopThread } from './stop-thread.ts';

const WORKER = `
const { parentPort, workerData } = require('node:worker_threads');
const { DatabaseSync } = require('node:sqlite');
const db = new DatabaseSync(workerData.file);
db.exec('PRAGMA busy_timeout = 1000');
const done = workerData.done;
let lastHandOff = 0;
const pass = () => {
  const t0 = performance.now();
  db.exec('PRAGMA wal_checkpoint(PASSIVE)');
  return performance.now() - t0;
};
const run = () => {
  try {
    let took = pass();
    if (performance.now() - lastHandOff < workerData.handOffEveryMs) return;
    // Hand the WAL's restart to the writer thread with as little left to copy as may be: passes
    // until one is short (each copies what the writer committed during the one before).
    for (let i = 0; i < 4 && took > 2; i++) took = pass();
    lastHandOff = performance.now();
    Atomics.store(done, 0, BigInt(Date.now()));
  } catch { /* busy: next time */ }
};
const timer = setInterval(run, workerData.everyMs);
parentPort.on('message', (m) => {
  if (m === 'stop') { clearInterval(timer); run(); db.close(); parentPort.close(); }
});
parentPort.postMessage('ready');
`;

export class WalCheckpointer {
  /**
   * When the background thread last left the WAL nearly all copied for the writer thread to
   * restart it (Date.now(); see sqlite-writer-worker.ts, checkpointTail).
   */
  readonly done = new BigInt64Array(new SharedArrayBuffer(8));
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
    const w = new Worker(WORKER, {
      eval: true,
      workerData: { file, everyMs, handOffEveryMs: 250, done: this.done },
    });
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
