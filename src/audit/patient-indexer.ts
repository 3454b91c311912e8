/**
 * Keeps the audit log's patient index (SQLite: its own file, see store/audit-index-file.ts) up to
 * date from a thread of its own: every `everyMs` it indexes the entries appended since its mark,
 * sorted, in one transaction on the index's file. The log's commits never wait for it, and
 * readers scan only the entries after the mark (at most about a second's worth).
 *
 * With 10,000 patients an update dirties about one index page per patient whatever its size, so
 * fewer, larger updates cost less; a second apart keeps the scanned tail short.
 */
import { Worker } from 'node:worker_threads';
import { stopThread } from '../store/stop-thread.ts';

export interface PatientIndexerOptions {
  /** How often the index catches up, ms (default 1000). */
  everyMs?: number;
  /** Most entries per transaction when it has far to go (a rebuild), default 65,536. */
  chunk?: number;
}

export class PatientIndexer {
  readonly #worker: Worker;
  readonly #waiting = new Map<number, { resolve: () => void; reject: (e: Error) => void }>();
  #next = 0;

  /** `file`: the store's SQLite file (the index's file is found beside it). */
  constructor(file: string, opts: PatientIndexerOptions = {}) {
    this.#worker = new Worker(new URL('./patient-indexer-worker.ts', import.meta.url), {
      workerData: { file, everyMs: opts.everyMs ?? 1000, chunk: opts.chunk ?? 65_536 },
    });
    this.#worker.unref();
    this.#worker.on('message', (m: { id: number; error: string | undefined }) => {
      const w = this.#waiting.get(m.id);
      this.#waiting.delete(m.id);
      if (m.error) w?.reject(new Error(`audit patient index: ${m.error}`));
      else w?.resolve();
    });
    const fail = (err: Error) => {
      for (const w of this.#waiting.values()) w.reject(err);
      this.#waiting.clear();
    };
    this.#worker.on('error', fail);
    this.#worker.on('exit', (code) => fail(new Error(`the audit patient indexer exited (${code})`)));
  }

  /** Indexes everything committed so far; resolves when the mark has reached it. */
  catchUp(): Promise<void> {
    const id = this.#next++;
    return new Promise<void>((resolve, reject) => {
      this.#waiting.set(id, { resolve, reject });
      this.#worker.postMessage({ id });
    });
  }

  /** A last update, then the thread stops. */
  async stop(): Promise<void> {
    await stopThread(this.#worker, 10_000);
  }
}
