/**
 * Keeps SQLite's observation search copy (0010_observation_search) close behind the observations
 * table. New observations are searchable at once through the view's unmerged tail; this moves them
 * into `observation_search`, clustered by (patient, code, time, seq), in sorted chunks, so the
 * acknowledgement path (HL7 commits) never maintains a per-(patient, code) index itself and each
 * search leaf is rewritten once per merge instead of once per commit. HL7 messages' (patient,
 * message id) pairs (0011_patient_index_merge) are merged by the same request, for the same
 * reason.
 *
 * A merge reads how far it has come inside its own transaction, so it is correct whichever
 * connection runs it and however often; the lag read here only decides whether to ask.
 */
import type { DatabaseSync, StatementSync } from 'node:sqlite';
import { CompiledQuery, type Expression, type Kysely, type SqlBool, sql } from 'kysely';
import type { Engine } from './db.ts';
import { SEARCH_COLUMNS as COLUMNS } from './migrations/0010_observation_search.ts';
import type { Database } from './schema.ts';
import type { SqliteWriter, WriteOp } from './sqlite-writer.ts';

/** Seq values (and message ids) per merge request: one transaction when no durable write waits. */
export const MERGE_CHUNK = 4096;

/**
 * Seq values per piece of a merge. A piece is an `INSERT … SELECT`, which the writer thread cannot
 * interrupt, and the UPDATE of how far the copy has come; between two pieces the durable writes
 * waiting (HL7 batches, alarm frames) commit first (WriteOp.yieldAfter). A whole chunk as one
 * statement took 8–10 ms every 50 ms under `npm run bench -- hl7`, and every acknowledgement in
 * flight waited for it.
 */
export const MERGE_PIECE = 512;

/** More pieces than this is a mistake (merging everything at once is `piece = chunk`). */
const MAX_PIECES = 1024;

/**
 * One merge step of `chunk` seq values, in pieces of at most `piece`. Each piece copies the next
 * seq values after `merged_seq` and moves `merged_seq` on (never backwards, for rows deleted at the
 * end of the table, and never past the last row: AUTOINCREMENT gives every later row a higher seq);
 * then the same for the HL7 messages' (patient, id) pairs. A piece is consistent on its own, so the
 * writer thread may commit between two.
 */
export function mergeOps(chunk = MERGE_CHUNK, piece = MERGE_PIECE): WriteOp[] {
  if (!(chunk >= 1) || !(piece >= 1))
    throw new RangeError(`mergeOps: chunk ${chunk} and piece ${piece} must be ≥ 1`);
  const sizes: number[] = [];
  for (let left = chunk; left > 0; left -= piece) {
    if (sizes.length === MAX_PIECES)
      throw new RangeError(`mergeOps: ${chunk} in pieces of ${piece} is too many pieces`);
    sizes.push(Math.min(piece, left));
  }
  const ops: WriteOp[] = [];
  for (const size of sizes) {
    ops.push(
      {
        sql: `INSERT INTO observation_search (${COLUMNS}) SELECT ${COLUMNS} FROM observations
          WHERE seq > (SELECT merged_seq FROM observation_search_state)
            AND seq <= (SELECT merged_seq FROM observation_search_state) + ?
          ORDER BY patient_id, code, effective_at, seq`,
        width: 1,
        params: [size],
      },
      {
        sql: `UPDATE observation_search_state
          SET merged_seq = max(merged_seq, min(merged_seq + ?, (SELECT coalesce(max(seq), 0) FROM observations)))`,
        width: 1,
        params: [size],
        yieldAfter: true,
      },
    );
  }
  for (const size of sizes) {
    ops.push(
      // HL7 messages by patient (0011), the same way: message rows are never updated, so their
      // pairs need no triggers.
      {
        sql: `INSERT INTO hl7_message_patients (patient_id, id) SELECT patient_id, id FROM hl7_messages
          WHERE id > (SELECT merged_id FROM hl7_message_patients_state)
            AND id <= (SELECT merged_id FROM hl7_message_patients_state) + ?
            AND patient_id IS NOT NULL
          ORDER BY patient_id, id`,
        width: 1,
        params: [size],
      },
      {
        sql: `UPDATE hl7_message_patients_state
          SET merged_id = max(merged_id, min(merged_id + ?, (SELECT coalesce(max(id), 0) FROM hl7_messages)))`,
        width: 1,
        params: [size],
        yieldAfter: true,
      },
    );
  }
  return ops;
}

/**
 * Rows of `observations_searchable` whose id is one of `ids`. SQLite's search copy keeps no index
 * on id (0012: it cost every merge an insert per observation), so the ids are looked up in the
 * observations table's own unique index and the copy is reached by its primary key; the tail is a
 * rowid range anyway. On PostgreSQL the view is the table, with its id index.
 */
export function observationIdsCond(engine: Engine, ids: readonly string[]): Expression<SqlBool> {
  if (ids.length === 0) return sql<SqlBool>`1 = 0`;
  const list = sql.join(ids);
  const col = (name: string) => sql.ref(`observations_searchable.${name}`);
  if (engine === 'postgres') return sql<SqlBool>`${col('id')} IN (${list})`;
  // The row's own id is checked too: a stray copy row under a stored key (a merge that keeps
  // failing on it, see the merger's warning) must not answer for the observation.
  return sql<SqlBool>`(${col('patient_id')}, ${col('code')}, ${col('effective_at')}, ${col('seq')}) IN (
    SELECT patient_id, code, effective_at, seq FROM observations WHERE id IN (${list}))
    AND ${col('id')} IN (${list})`;
}

/** After a failed merge, ticks to skip before the next try (~1 s). */
const BACK_OFF_TICKS = 20;
/** At most one warning per this many ms while merges keep failing. */
const WARN_EVERY_MS = 60_000;

export class SearchCopyMerger {
  readonly #writer: SqliteWriter;
  readonly #lag: StatementSync;
  readonly #timer: NodeJS.Timeout;
  #running: Promise<void> | undefined;
  #stopped = false;
  #skip = 0;
  #failures = 0;
  #warnedAt = Number.NEGATIVE_INFINITY;

  /** Merges on the writer thread (without fsync: the copy is derived) every `everyMs` it lags. */
  constructor(main: DatabaseSync, writer: SqliteWriter, everyMs = 50) {
    this.#writer = writer;
    // Rows not merged yet: a hint, read outside the merge's transaction.
    this.#lag = main.prepare(
      `SELECT max(
        (SELECT coalesce(max(seq), 0) FROM observations) - (SELECT merged_seq FROM observation_search_state),
        (SELECT coalesce(max(id), 0) FROM hl7_messages) - (SELECT merged_id FROM hl7_message_patients_state)
      ) AS lag`,
    );
    this.#timer = setInterval(() => this.#tick(), everyMs);
    this.#timer.unref();
  }

  lag(): number {
    const row = this.#lag.get() as { lag: number } | undefined;
    return Number(row?.lag ?? 0);
  }

  #tick(): void {
    if (this.#running || this.#stopped) return;
    if (this.#skip > 0) {
      this.#skip--;
      return;
    }
    this.#running = this.#catchUp().finally(() => {
      this.#running = undefined;
    });
  }

  /** Merges until the tail is shorter than a chunk (the rest waits for the next tick). */
  async #catchUp(): Promise<void> {
    try {
      for (let lag = this.lag(); lag > 0 && !this.#stopped; lag = this.lag()) {
        await this.#writer.write(mergeOps(), { fsync: false });
        if (lag < MERGE_CHUNK) break;
      }
    } catch (err) {
      // The writer is closing or refused (disk full…). Searches stay correct through the tail but
      // slow down as it grows, so say so, and try again after a pause.
      this.#failures++;
      this.#skip = BACK_OFF_TICKS;
      if (this.#stopped) return;
      const now = Date.now();
      if (now - this.#warnedAt >= WARN_EVERY_MS) {
        this.#warnedAt = now;
        let lag: number | string;
        try {
          lag = this.lag();
        } catch {
          lag = 'unknown';
        }
        process.emitWarning(
          `observation search merge failed (${this.#failures} so far; ${lag} rows unmerged): ${
            err instanceof Error ? err.message : String(err)
          }`,
          'CarewireStoreWarning',
        );
      }
    }
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    clearInterval(this.#timer);
    await this.#running;
  }
}

/**
 * Merges everything now, in one transaction, on the given connection (benchmark seeding, tests,
 * one-shot commands with no writer thread).
 */
export async function mergeSearchCopiesNow(db: Kysely<Database>): Promise<void> {
  await db.transaction().execute(async (trx) => {
    for (const op of mergeOps(Number.MAX_SAFE_INTEGER, Number.MAX_SAFE_INTEGER)) {
      await trx.executeQuery(CompiledQuery.raw(op.sql, op.params as unknown[]));
    }
  });
}
