/**
 * Group commit: callers hand in writes one at a time and get a promise that settles only after
 * their write is committed. Writes that arrive together share one transaction (and so one fsync),
 * which is how a gateway can acknowledge only durable data and still keep up with its peers.
 *
 * One batch is in flight at a time (or `pipeline` batches, for a CommitBatch that orders them
 * itself: the SQLite writer thread keeps its requests in order; the HL7 ingest on PostgreSQL lets
 * only batches that commute run side by side). While it commits, new writes queue up and form the
 * next batch, so under load the batch size grows by itself; when idle a write waits at most
 * `maxDelayMs`.
 *
 * A pipelined committer does not wait `maxDelayMs` for a free slot: its batch leaves at the end of
 * the event-loop turn that queued it. Holding writes back made every request wait for the timer:
 * 32 concurrent audited reads went in lockstep, one batch per 2 ms timer (measured: the main
 * thread 60 % busy while throughput stalled). Under load the slots fill and batches grow as
 * before.
 */
import type { Transaction } from 'kysely';
import type { Db } from './db.ts';
import type { Database } from './schema.ts';

export interface GroupCommitOptions {
  /** Longest a write waits for company before its batch is committed. */
  maxDelayMs: number;
  /** Most writes in one transaction. */
  maxItems: number;
  /** Writes waiting beyond this are refused at once (bounded memory, clear back-pressure). */
  maxQueue?: number;
  /**
   * Batches in flight at once (default 1). More only for a CommitBatch that keeps what must stay
   * in order in order (the SQLite writer thread; the HL7 ingest's registry batches): the next
   * batch is prepared while the last one commits.
   */
  pipeline?: number;
}

export type ApplyBatch<T, R> = (trx: Transaction<Database>, items: readonly T[]) => Promise<R[]>;
/** Commits a whole batch by its own means (the SQLite writer thread); settles once it is durable. */
export type CommitBatch<T, R> = (items: readonly T[]) => Promise<R[]>;

export class GroupCommitOverloadError extends Error {
  override name = 'GroupCommitOverloadError';
}
export class GroupCommitClosedError extends Error {
  override name = 'GroupCommitClosedError';
}

interface Pending<T, R> {
  item: T;
  resolve: (r: R) => void;
  reject: (e: unknown) => void;
}

export class GroupCommitter<T, R = void> {
  readonly #run: CommitBatch<T, R>;
  readonly #opts: Required<GroupCommitOptions>;
  #queue: Pending<T, R>[] = [];
  #timer: NodeJS.Timeout | undefined;
  #immediate: NodeJS.Immediate | undefined;
  readonly #inFlight = new Set<Promise<void>>();
  #closed = false;
  /** Counters for /metrics and tests. */
  readonly stats = { batches: 0, items: 0, fallbacks: 0 };

  /**
   * Batches run `apply` in a Kysely transaction on `db`; with `db` null, `apply` is a CommitBatch
   * that commits by itself.
   */
  constructor(db: Db, apply: ApplyBatch<T, R>, opts: GroupCommitOptions);
  constructor(db: null, commit: CommitBatch<T, R>, opts: GroupCommitOptions);
  constructor(db: Db | null, apply: ApplyBatch<T, R> | CommitBatch<T, R>, opts: GroupCommitOptions) {
    this.#run =
      db === null
        ? (apply as CommitBatch<T, R>)
        : (items) => db.transaction().execute((trx) => (apply as ApplyBatch<T, R>)(trx, items));
    this.#opts = { maxQueue: 100_000, pipeline: 1, ...opts };
  }

  get pending(): number {
    return this.#queue.length;
  }

  submit(item: T): Promise<R> {
    if (this.#closed) return Promise.reject(new GroupCommitClosedError('store is shutting down'));
    if (this.#queue.length >= this.#opts.maxQueue) {
      return Promise.reject(new GroupCommitOverloadError(`write queue full (${this.#opts.maxQueue})`));
    }
    return new Promise<R>((resolve, reject) => {
      this.#queue.push({ item, resolve, reject });
      this.#schedule();
    });
  }

  #schedule(): void {
    // A running batch starts the next one when it finishes.
    if (this.#inFlight.size >= this.#opts.pipeline) return;
    if (this.#queue.length >= this.#opts.maxItems) {
      this.#flushNow();
    } else if (this.#opts.pipeline > 1) {
      this.#immediate ??= setImmediate(() => this.#flushNow());
    } else if (!this.#timer) {
      this.#timer = setTimeout(() => this.#flushNow(), this.#opts.maxDelayMs);
    }
  }

  #flushNow(): void {
    if (this.#timer) {
      clearTimeout(this.#timer);
      this.#timer = undefined;
    }
    if (this.#immediate) {
      clearImmediate(this.#immediate);
      this.#immediate = undefined;
    }
    if (this.#inFlight.size >= this.#opts.pipeline || this.#queue.length === 0) return;
    const batch = this.#queue.splice(0, this.#opts.maxItems);
    const running: Promise<void> = this.#commit(batch).finally(() => {
      this.#inFlight.delete(running);
      // Under load do not wait: what queued during the last commit is the next batch already.
      if (this.#queue.length > 0) this.#flushNow();
    });
    this.#inFlight.add(running);
    // A second slot of a pipeline fills like the first: when full, or after maxDelayMs.
    if (this.#queue.length > 0) this.#schedule();
  }

  async #commit(batch: Pending<T, R>[]): Promise<void> {
    const items = batch.map((p) => p.item);
    try {
      const results = await this.#run(items);
      this.stats.batches++;
      this.stats.items += batch.length;
      for (const [i, p] of batch.entries()) p.resolve(results[i] as R);
      return;
    } catch (err) {
      if (batch.length === 1) {
        batch[0]!.reject(err);
        return;
      }
    }
    // One bad write must not fail its neighbours: retry each alone so only the culprit is refused.
    this.stats.fallbacks++;
    for (const p of batch) {
      try {
        const [r] = await this.#run([p.item]);
        this.stats.batches++;
        this.stats.items++;
        p.resolve(r as R);
      } catch (err) {
        p.reject(err);
      }
    }
  }

  /** Commits everything queued so far and waits for it. */
  async flush(): Promise<void> {
    while (this.#queue.length > 0 || this.#inFlight.size > 0) {
      if (this.#inFlight.size === 0) this.#flushNow();
      await Promise.all(this.#inFlight);
    }
  }

  /** Refuses new writes, then commits what was accepted. */
  async close(): Promise<void> {
    this.#closed = true;
    await this.flush();
  }
}
