/**
 * A writer thread for the embedded SQLite store. `node:sqlite` is synchronous: a commit on the
 * main connection (inserts, the WAL write and its fsync) stalls the event loop, and with it every
 * socket, for as long as it takes. Measured on the audit log: the commit and the inserts were half
 * of each append's CPU time, all of it on the main thread (bench/audit.ts, docs/benchmarks.md).
 *
 * Hot append paths that know their rows up front hand them here as a list of statements with
 * flat parameter arrays; the worker runs them in one `BEGIN IMMEDIATE … COMMIT` (synchronous=FULL)
 * on its own connection and answers when the data is durable. The main thread meanwhile prepares
 * the next batch: the two cores work in a pipeline.
 *
 * A write may skip the fsync (`fsync: false`) when nobody is told it is durable (vitals samples).
 *
 * A `guard` makes a write conditional: a query whose first column must equal `expect` inside the
 * write transaction, or the transaction is rolled back and the promise rejects with
 * StaleWriteError (another process wrote first; the caller re-reads and tries again).
 *
 * Readers on the main connection see a write once it is committed (WAL). Main-connection writers
 * wait for the worker's transaction through SQLite's busy timeout, and begin IMMEDIATE (see
 * sqlite-driver.ts) so a read-then-write transaction cannot fail on a snapshot the worker moved.
 */
import type { SQLInputValue } from 'node:sqlite';
import { Worker } from 'node:worker_threads';
import { stopThread } from './stop-thread.ts';

/** One statement run once per `width` parameters of `params` (once with none when width is 0). */
export interface WriteOp {
  sql: string;
  width: number;
  params: SQLInputValue[];
  /** Report each run's rowid (-1 when it changed nothing, e.g. ON CONFLICT DO NOTHING). */
  rowids?: boolean;
  /**
   * Rows that belong to rows of an earlier op of the same request (an observation to its HL7
   * message): row r gets the rowid of row `rows[r]` of op `op` as its parameter `column`, and is
   * left out when that row changed nothing (a duplicate refused by ON CONFLICT DO NOTHING). The
   * earlier op must ask for rowids.
   */
  parent?: { op: number; rows: number[]; column: number } | undefined;
  /**
   * In a non-durable request without a guard: the ops up to and including this one leave the data
   * consistent, so durable writes waiting on the port may commit here, between two pieces of it
   * (as between the slices of a RowsOp; ignored on the last op). A long derived-data write (the
   * search copy's merge) is so cut into pieces that a durable write never waits for all of it.
   */
  yieldAfter?: boolean | undefined;
}

/**
 * Rows given as numbers, for hot append paths (vitals samples): the buffer is transferred to the
 * thread, not copied value by value, and the main thread builds it as data arrives.
 */
export interface RowsOp {
  /** A single-row `INSERT … VALUES (?, …)` with `width` parameters. */
  sql: string;
  width: number;
  rows: number;
  /** Row-major, `width` values per row (it may be longer than `rows` need); NaN is NULL. */
  values: Float64Array;
  /** Text columns: the row's number is an index into `table`. */
  text: Array<{ column: number; table: string[] }>;
  /** Insert in ascending order of these columns (text columns by index: equal strings group). */
  orderBy?: number[];
}

export interface WriteGuard {
  sql: string;
  params: SQLInputValue[];
  expect: SQLInputValue;
}

export interface WriteRequest {
  id: number;
  ops: Array<WriteOp | RowsOp>;
  guard?: WriteGuard | undefined;
  /** false: commit with synchronous=NORMAL (no fsync); see WriteOptions. */
  fsync: boolean;
}

export interface WriteOptions {
  guard?: WriteGuard | undefined;
  /**
   * Default true: the write is durable (fsynced) when the promise resolves. false for data that
   * is never acknowledged to anyone (vitals samples): the commit reaches the OS, so a process
   * crash loses nothing, and the next fsynced commit or checkpoint makes it durable on disk too.
   */
  fsync?: boolean | undefined;
}

export type WriteReply =
  | { id: number; ok: true; changes: number[]; rowids: Array<number[] | undefined> }
  | { id: number; ok: false; stale: boolean; message: string; code: string | undefined };

export interface WriteResult {
  /** Rows changed per op. */
  changes: number[];
  /** Per op that asked for them: each run's rowid, -1 where it changed nothing. */
  rowids: Array<number[] | undefined>;
}

/** The guard did not hold: someone else wrote first. Nothing was written. */
export class StaleWriteError extends Error {
  override readonly name = 'StaleWriteError';
}

/**
 * The worker refused the write (a constraint, a full disk…). Nothing was written, except for a
 * write without fsync, which the thread may commit in pieces: the pieces before the failure stay.
 */
export class SqliteWriteError extends Error {
  override readonly name = 'SqliteWriteError';
  readonly code: string | undefined;
  constructor(message: string, code: string | undefined) {
    super(message);
    this.code = code;
  }
}

interface Waiter {
  resolve: (r: WriteResult) => void;
  reject: (e: Error) => void;
}

export class SqliteWriter {
  readonly #worker: Worker;
  readonly #waiting = new Map<number, Waiter>();
  #next = 1;
  #dead: Error | undefined;
  #closed: Promise<void> | undefined;
  /** Settles when no write is waiting for its answer (close waits for it). */
  #idle: PromiseWithResolvers<void> | undefined;

  /**
   * `checkpointDone`: when the background checkpointer last left little of the WAL uncopied
   * (WalCheckpointer.done), so the thread restarts the WAL just then.
   */
  constructor(file: string, checkpointDone?: BigInt64Array) {
    this.#worker = new Worker(new URL('./sqlite-writer-worker.ts', import.meta.url), {
      workerData: { file, checkpointDone },
    });
    // Idle, the thread must not keep a command-line process alive.
    this.#worker.unref();
    this.#worker.on('message', (r: WriteReply) => this.#settle(r));
    this.#worker.on('error', (err) => this.#fail(err));
    this.#worker.on('exit', (code) => this.#fail(new Error(`the SQLite writer thread exited (${code})`)));
  }

  /** Runs `ops` in one transaction; resolves once it is committed (and fsynced, unless asked not to). */
  write(ops: Array<WriteOp | RowsOp>, opts: WriteOptions = {}): Promise<WriteResult> {
    if (this.#dead) return Promise.reject(this.#dead);
    const id = this.#next++;
    return new Promise<WriteResult>((resolve, reject) => {
      if (this.#waiting.size === 0) {
        this.#worker.ref();
        this.#idle = Promise.withResolvers<void>();
      }
      this.#waiting.set(id, { resolve, reject });
      const req: WriteRequest = { id, ops, guard: opts.guard, fsync: opts.fsync ?? true };
      const transfer: ArrayBuffer[] = [];
      for (const op of ops) if ('values' in op) transfer.push(op.values.buffer as ArrayBuffer);
      // A RowsOp's buffer moves to the thread: the caller must not touch it afterwards.
      this.#worker.postMessage(req, transfer);
    });
  }

  #settle(r: WriteReply): void {
    const w = this.#waiting.get(r.id);
    if (!w) return;
    this.#waiting.delete(r.id);
    if (this.#waiting.size === 0) this.#becameIdle();
    if (r.ok) w.resolve({ changes: r.changes, rowids: r.rowids });
    else if (r.stale) w.reject(new StaleWriteError(r.message));
    else w.reject(new SqliteWriteError(r.message, r.code));
  }

  #becameIdle(): void {
    this.#worker.unref();
    this.#idle?.resolve();
    this.#idle = undefined;
  }

  #fail(err: Error): void {
    this.#dead ??= err;
    for (const w of this.#waiting.values()) w.reject(err);
    this.#waiting.clear();
    this.#becameIdle();
  }

  /** Waits for the writes in flight, then stops the thread. */
  close(): Promise<void> {
    this.#closed ??= (async () => {
      await this.#idle?.promise;
      this.#dead ??= new Error('the SQLite writer is closed');
      await stopThread(this.#worker);
    })();
    return this.#closed;
  }
}
