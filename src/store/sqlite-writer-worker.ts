/**
 * The SQLite writer thread (see sqlite-writer.ts): its own connection to the store's file, one
 * transaction per request, statements prepared once and cached by SQL text. Only node built-ins
 * are imported: this file is loaded by the worker as it is.
 */
import { DatabaseSync, type SQLInputValue, type StatementSync } from 'node:sqlite';
import { parentPort, receiveMessageOnPort, workerData } from 'node:worker_threads';
import type { RowsOp, WriteOp, WriteReply, WriteRequest } from './sqlite-writer.ts';

const port = parentPort;
if (!port) throw new Error('sqlite-writer-worker runs as a worker thread only');
const { file, checkpointDone } = workerData as { file: string; checkpointDone?: BigInt64Array };
const db = new DatabaseSync(file);
db.exec('PRAGMA busy_timeout = 5000');
// Every commit here is acknowledged to someone: fsync the WAL (see sqlite-driver.ts).
db.exec('PRAGMA synchronous = FULL');
db.exec('PRAGMA foreign_keys = ON');
// Hot index leaves of the append-heavy tables stay cached between batches.
db.exec('PRAGMA cache_size = -65536');
// Sorts (the observation-search merge's ORDER BY) in memory: by default each spilled to a new
// temporary file, created and unlinked per merge (seen with strace under HL7 load).
db.exec('PRAGMA temp_store = MEMORY');
// Checkpoints are the WalCheckpointer's job: never stall a commit here with one.
db.exec('PRAGMA wal_autocheckpoint = 0');

const statements = new Map<string, StatementSync>();
function statement(sql: string): StatementSync {
  let st = statements.get(sql);
  if (st === undefined) {
    if (statements.size >= 500) statements.clear();
    st = db.prepare(sql);
    statements.set(sql, st);
  }
  return st;
}

/** Rows per multi-row INSERT (parameters stay far below SQLite's limit of 32,766). */
const ROWS_PER_RUN = 64;
const SINGLE_ROW = /^(INSERT\s[\s\S]*?VALUES\s*)(\([?,\s]+\))(\s*(?:ON CONFLICT[\s\S]*)?)$/i;
const multiRows = new Map<string, string | undefined>();

/** `INSERT … VALUES (?, …) [ON CONFLICT …]` repeated for ROWS_PER_RUN rows; undefined for other SQL. */
function multiRow(sql: string): string | undefined {
  if (multiRows.has(sql)) return multiRows.get(sql);
  const m = SINGLE_ROW.exec(sql);
  const out = m ? `${m[1]}${new Array(ROWS_PER_RUN).fill(m[2]).join(', ')}${m[3]}` : undefined;
  multiRows.set(sql, out);
  return out;
}

/** A RowsOp as a plain op: rows in the asked order, NaN as NULL, text indexes as their strings. */
function paramsOf(op: RowsOp): WriteOp {
  const { width, values } = op;
  const text: Array<string[] | undefined> = new Array(width);
  for (const t of op.text) text[t.column] = t.table;
  const order = Array.from({ length: op.rows }, (_, i) => i);
  const by = op.orderBy ?? [];
  if (by.length > 0) {
    order.sort((a, b) => {
      for (const c of by) {
        // NaN (NULL) first, as SQLite orders NULL.
        const x = values[a * width + c]!;
        const y = values[b * width + c]!;
        if (x === y) continue;
        if (Number.isNaN(x)) return Number.isNaN(y) ? 0 : -1;
        if (Number.isNaN(y)) return 1;
        return x - y;
      }
      return a - b;
    });
  }
  const params: SQLInputValue[] = new Array(op.rows * width);
  let o = 0;
  for (const r of order) {
    const base = r * width;
    for (let c = 0; c < width; c++) {
      const v = values[base + c]!;
      const t = text[c];
      params[o++] = Number.isNaN(v) ? null : t === undefined ? v : t[v]!;
    }
  }
  return { sql: op.sql, width, params };
}

/** An op whose rows take their parent's rowid, without the rows whose parent changed nothing. */
function withParents(op: WriteOp, rowids: ReadonlyArray<number[] | undefined>): WriteOp {
  const parent = op.parent;
  if (parent === undefined) return op;
  const ids = rowids[parent.op];
  if (ids === undefined) throw new Error(`op ${parent.op} did not report rowids`);
  const { width } = op;
  if (!parent.rows.some((row) => ids[row] === -1)) {
    // Every parent row was inserted (no duplicate): the rowids go into the parameters in place
    // (this thread owns the request it was sent), instead of copying every value of every row.
    for (let r = 0; r < parent.rows.length; r++) {
      const id = ids[parent.rows[r]!];
      if (id === undefined) throw new Error(`op ${parent.op} has no row ${parent.rows[r]}`);
      op.params[r * width + parent.column] = BigInt(id);
    }
    return { sql: op.sql, width, params: op.params, rowids: op.rowids };
  }
  const params: SQLInputValue[] = [];
  for (let r = 0; r < parent.rows.length; r++) {
    const id = ids[parent.rows[r]!];
    if (id === undefined) throw new Error(`op ${parent.op} has no row ${parent.rows[r]}`);
    if (id === -1) continue;
    const base = params.length;
    for (let c = 0; c < width; c++) params.push(op.params[r * width + c]!);
    // As an integer: a JS number binds as REAL, which a TEXT column would store as '42.0'.
    params[base + parent.column] = BigInt(id);
  }
  return { sql: op.sql, width, params, rowids: op.rowids };
}

/** Whether the connection's commits fsync now (it opens with synchronous = FULL). */
let syncing = true;

/** Begins a transaction whose COMMIT fsyncs or not: the pragma changes only when it must. */
function begin(fsync: boolean): void {
  if (fsync !== syncing) {
    db.exec(`PRAGMA synchronous = ${fsync ? 'FULL' : 'NORMAL'}`);
    syncing = fsync;
  }
  db.exec('BEGIN IMMEDIATE');
}

/**
 * Durable writes do not wait behind a bulk one. A non-durable request (a vitals batch: tens of
 * thousands of rows, 50 ms and more) used to hold the thread until its end, and an alarm frame
 * that arrived meanwhile waited for all of it before its own commit (measured: alarm ACK p99
 * 86–98 ms under 50,000 datagrams/s, 3 ms without them). Now every SLICE_ROWS rows of a
 * non-durable request the thread looks at its port: if durable writes are waiting, it commits
 * what it has (vitals need no fsync), runs them, each answered at its commit, and goes on in a new
 * transaction. It does the same after an op marked `yieldAfter` (the search copy's merge, cut
 * into pieces that are consistent on their own). Non-durable requests it meets there wait, in
 * order, for the current one to finish; durable writes that arrive after them still go first at
 * the next such point (only durable writes keep their order among themselves: nothing waits on a
 * vitals batch or a merge before it). A non-durable request may so be committed in several
 * transactions: what its ops before the sliced one wrote commits with the first piece (vitals send
 * their devices' sequence marks first, so a crash between pieces loses samples nobody was promised
 * but never lets a replay store one twice), and if a later piece fails the reply says so though
 * earlier pieces stay.
 */
const SLICE_ROWS = 2048;
const deferred: Array<WriteRequest | 'stop'> = [];

/** Runs the durable writes waiting on the port; true when it ran any. */
function runUrgent(): boolean {
  let ran = false;
  for (;;) {
    const got = receiveMessageOnPort(port!);
    if (got === undefined) return ran;
    const m = got.message as WriteRequest | 'stop';
    // Past the non-durable requests set aside (a durable write behind a 2,048-row slice is better
    // than behind a whole vitals batch), but never past a stop.
    if (m !== 'stop' && m.fsync && !deferred.includes('stop')) {
      if (!ran) {
        try {
          db.exec('COMMIT');
        } catch (err) {
          // The bulk write fails with this error; `m`, taken off the port, is still answered after it.
          deferred.unshift(m);
          throw err;
        }
        ran = true;
      }
      // Always answers (transaction catches every failure, BEGIN included).
      port!.postMessage(transaction(m));
    } else {
      // Non-durable requests (and a stop) keep their arrival order.
      deferred.push(m);
    }
  }
}

/** Between two slices of a non-durable request (inside its transaction). */
function yieldToUrgent(): void {
  if (runUrgent()) begin(false);
}

function transaction(req: WriteRequest): WriteReply {
  try {
    begin(req.fsync);
    if (req.guard) {
      const row = statement(req.guard.sql).get(...req.guard.params) as
        | Record<string, SQLInputValue>
        | undefined;
      const got = row === undefined ? null : (Object.values(row)[0] ?? null);
      if (got !== req.guard.expect) {
        db.exec('ROLLBACK');
        return { id: req.id, ok: false, stale: true, message: `guard saw ${String(got)}`, code: undefined };
      }
    }
    const changes: number[] = [];
    const rowids: Array<number[] | undefined> = [];
    for (let k = 0; k < req.ops.length; k++) {
      const given = req.ops[k]!;
      const op = 'values' in given ? paramsOf(given) : withParents(given, rowids);
      const st = statement(op.sql);
      let n = 0;
      const ids: number[] | undefined = op.rowids ? [] : undefined;
      if (op.width === 0) {
        const r = st.run();
        n += Number(r.changes);
        ids?.push(Number(r.changes) === 0 ? -1 : Number(r.lastInsertRowid));
      } else {
        const p = op.params;
        let i = 0;
        const multi = ids ? undefined : multiRow(op.sql);
        if (multi) {
          // Whole chunks as one multi-row INSERT: one native call per ROWS_PER_RUN rows.
          const chunk = ROWS_PER_RUN * op.width;
          const stMulti = statement(multi);
          const slice = Math.max(1, Math.floor(SLICE_ROWS / ROWS_PER_RUN)) * chunk;
          for (; i + chunk <= p.length; i += chunk) {
            n += Number(stMulti.run(...p.slice(i, i + chunk)).changes);
            if (!req.fsync && (i + chunk) % slice === 0 && i + chunk < p.length) yieldToUrgent();
          }
        }
        for (; i < p.length; i += op.width) {
          const r = st.run(...p.slice(i, i + op.width));
          n += Number(r.changes);
          ids?.push(Number(r.changes) === 0 ? -1 : Number(r.lastInsertRowid));
        }
      }
      changes.push(n);
      rowids.push(ids);
      // A piece of a non-durable request ends here (see WriteOp.yieldAfter); not after the last op,
      // whose COMMIT follows anyway, and never under a guard, which holds for one transaction only.
      if (!req.fsync && !req.guard && k < req.ops.length - 1 && 'yieldAfter' in given && given.yieldAfter) {
        yieldToUrgent();
      }
    }
    db.exec('COMMIT');
    return { id: req.id, ok: true, changes, rowids };
  } catch (err) {
    if (db.isTransaction) db.exec('ROLLBACK');
    const e = err as Error & { errstr?: string; code?: string };
    return { id: req.id, ok: false, stale: false, message: e.message, code: e.errstr ?? e.code };
  }
}

/**
 * The WalCheckpointer copies the WAL into the database in the background, but under a steady
 * stream of commits the WAL is never wholly copied at the moment a transaction begins, so SQLite
 * never starts it over and the file grows without bound (measured: 100 MB in 30 s of audited FHIR
 * reads, with commits slowing as it grew). Between two transactions this thread is the only
 * writer: a checkpoint here copies what is left, and the next BEGIN starts the WAL over. Every
 * write that arrives meanwhile waits for it, and its cost is mostly the database file's fsync of
 * what it copied (a reproduction: 28 ms, 2.8 ms with that fsync off).
 *
 * So the background thread hands off (`checkpointDone`): every 250 ms it runs passes until one is
 * short, then stamps the time, and this thread checkpoints only within FRESH_MS of that stamp,
 * when a transaction or two are left to copy. Under HL7 load that stall went from p50 16–18 ms
 * (at any moment, or just after a single background pass) to 3–7 ms, and the ACK p99 from
 * 36.5–38.5 to 28.0–33.9 ms. Without a fresh hand-off (the background thread busy or gone) it
 * checkpoints anyway after LATEST_MS; without a background thread at all, every 250 ms.
 */
const RESTART_EVERY_MS = 250;
/** The background thread's hand-off counts for this long (a transaction or two). */
const FRESH_MS = 3;
/** Without a fresh hand-off (the background thread busy or gone), restart anyway after this. */
const LATEST_MS = 1000;
let lastCheckpoint = performance.now();

function checkpointTail(): void {
  const now = performance.now();
  const since = now - lastCheckpoint;
  if (since < RESTART_EVERY_MS) return;
  const stale = checkpointDone && Date.now() - Number(Atomics.load(checkpointDone, 0)) > FRESH_MS;
  if (stale && since < LATEST_MS) return;
  lastCheckpoint = now;
  try {
    db.exec('PRAGMA wal_checkpoint(PASSIVE)');
  } catch {
    // Busy (another checkpoint is running): the next one will do.
  }
}

function handle(m: WriteRequest | 'stop'): boolean {
  if (m === 'stop') {
    db.close();
    port!.close();
    return false;
  }
  port!.postMessage(transaction(m));
  checkpointTail();
  return true;
}

port.on('message', (m: WriteRequest | 'stop') => {
  if (!handle(m)) return;
  // What a bulk write set aside, in arrival order, before the next message from the port.
  while (deferred.length > 0) if (!handle(deferred.shift()!)) return;
});
