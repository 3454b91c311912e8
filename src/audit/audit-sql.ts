/**
 * The audit log's SQL: entries, tree nodes, patient references and checkpoints, on both engines.
 *
 * Two paths with the same results. The embedded SQLite store hands us its raw `node:sqlite`
 * handle, and the append and proof hot paths run prepared statements on it directly (inside the
 * Kysely transaction, on the same connection): building a 500-row INSERT through the query builder
 * cost more than the rest of a batch (measured in bench/audit.ts). PostgreSQL, or SQLite without
 * the raw handle, goes through Kysely, with one multi-row statement per table per batch.
 */
import type { DatabaseSync, SQLInputValue, StatementSync } from 'node:sqlite';
import { type Kysely, PostgresAdapter, sql, type Transaction } from 'kysely';
import type { Database } from '../store/schema.ts';
import type { WriteGuard, WriteOp } from '../store/sqlite-writer.ts';
import type { NodeId, NodeStore, TreeNode } from './merkle/index.ts';
import { NodeStoreError } from './merkle/index.ts';

export type Conn = Kysely<Database> | Transaction<Database>;

export interface EntryRow {
  seq: number;
  recorded: number;
  type: string;
  outcome: number;
  user_id: string | null;
  patient_id: string | null;
  /** Canonical entry bytes as UTF-8 text. */
  entry: string;
  /** Its leaf hash (level 0 of the tree lives in the entry row). */
  leaf: Uint8Array;
}

export interface PatientRef {
  patient_id: string;
  seq: number;
}

export interface StoredCheckpoint {
  size: number;
  root: string;
  note: string;
  createdAt: number;
}

/** Arbitrary constant: the PostgreSQL advisory lock that serialises tree appends across nodes. */
const PG_APPEND_LOCK = 7_361_534_226_410_211;
const INSERT_ENTRY =
  'INSERT INTO audit_events (seq, recorded, type, outcome, user_id, patient_id, entry, leaf) VALUES (?, ?, ?, ?, ?, ?, ?, ?)';
const INSERT_NODE = 'INSERT INTO audit_tree (level, idx, hash) VALUES (?, ?, ?)';
/** Parameters per statement stay well below SQLite's 32,766 and PostgreSQL's 65,535. */
const ROWS_PER_INSERT = 1000;

interface RawStatements {
  maxSeq: StatementSync;
  maxIdx: StatementSync;
  insEntry: StatementSync;
  insNode: StatementSync;
  getNode: StatementSync;
  getRange: StatementSync;
  getLeaf: StatementSync;
  getLeaves: StatementSync;
  entriesFrom: StatementSync;
}

export function isPostgres(db: Kysely<Database>): boolean {
  return db.getExecutor().adapter instanceof PostgresAdapter;
}

export class AuditSql {
  readonly db: Kysely<Database>;
  readonly engine: 'sqlite' | 'postgres';
  readonly #raw: RawStatements | undefined;

  constructor(db: Kysely<Database>, raw?: DatabaseSync) {
    this.db = db;
    this.engine = isPostgres(db) ? 'postgres' : 'sqlite';
    if (raw && this.engine === 'sqlite') {
      this.#raw = {
        maxSeq: raw.prepare('SELECT max(seq) AS m FROM audit_events'),
        maxIdx: raw.prepare('SELECT max(idx) AS m FROM audit_tree WHERE level = ?'),
        insEntry: raw.prepare(INSERT_ENTRY),
        insNode: raw.prepare(INSERT_NODE),
        getNode: raw.prepare('SELECT hash FROM audit_tree WHERE level = ? AND idx = ?'),
        getRange: raw.prepare('SELECT idx, hash FROM audit_tree WHERE level = ? AND idx BETWEEN ? AND ?'),
        getLeaf: raw.prepare('SELECT leaf AS hash FROM audit_events WHERE seq = ?'),
        getLeaves: raw.prepare('SELECT seq AS idx, leaf AS hash FROM audit_events WHERE seq BETWEEN ? AND ?'),
        // CAST to BLOB hands back the stored UTF-8 bytes as they are: no decode and re-encode.
        entriesFrom: raw.prepare(
          'SELECT seq, CAST(entry AS BLOB) AS e, leaf FROM audit_events WHERE seq >= ? AND seq < ? ORDER BY seq LIMIT ?',
        ),
      };
      // Rows as arrays, not objects: a million of them are read per verification.
      for (const st of [
        this.#raw.getNode,
        this.#raw.getRange,
        this.#raw.getLeaf,
        this.#raw.getLeaves,
        this.#raw.entriesFrom,
      ])
        st.setReturnArrays(true);
    }
  }

  /** Serialises appends across nodes (PostgreSQL); SQLite has one writer at a time anyway. */
  async lockForAppend(trx: Transaction<Database>): Promise<void> {
    if (this.engine === 'postgres') await sql`SELECT pg_advisory_xact_lock(${PG_APPEND_LOCK})`.execute(trx);
  }

  /** Number of entries as the entry table says: highest seq + 1. */
  async entryCount(conn: Conn): Promise<number> {
    if (this.#raw) return count((this.#raw.maxSeq.get() as { m: number | null }).m);
    const r = await conn
      .selectFrom('audit_events')
      .select((eb) => eb.fn.max('seq').as('m'))
      .executeTakeFirst();
    return count(r?.m);
  }

  /**
   * The number of leaves the interior nodes imply: a node (level, idx) exists only once leaves up
   * to (idx + 1)·2^level do. Evidence of a cut-off tail that survives deleting the entry rows.
   */
  async treeSize(conn: Conn): Promise<number> {
    let size = 0;
    for (let level = 1; level < 54; level++) {
      let max: number | null | undefined;
      if (this.#raw) max = (this.#raw.maxIdx.get(level) as { m: number | null }).m;
      else {
        const r = await conn
          .selectFrom('audit_tree')
          .select((eb) => eb.fn.max('idx').as('m'))
          .where('level', '=', level)
          .executeTakeFirst();
        max = r?.m as number | null | undefined;
      }
      if (max === null || max === undefined) break;
      size = Math.max(size, (Number(max) + 1) * 2 ** level);
    }
    return size;
  }

  /**
   * Writes a batch's entries and interior nodes in `trx`; on PostgreSQL also the batch's patient
   * refs and the index mark. (SQLite's patient index is kept by its own thread and file:
   * patient-indexer.ts.)
   */
  async insertBatch(
    trx: Transaction<Database>,
    rows: readonly EntryRow[],
    nodes: readonly TreeNode[],
    refs: readonly PatientRef[],
  ): Promise<void> {
    try {
      const raw = this.#raw;
      if (raw) {
        for (const r of rows)
          raw.insEntry.run(r.seq, r.recorded, r.type, r.outcome, r.user_id, r.patient_id, r.entry, r.leaf);
        for (const n of nodes) if (n.level > 0) raw.insNode.run(n.level, n.index, n.hash);
        return;
      }
      for (let i = 0; i < rows.length; i += ROWS_PER_INSERT)
        await trx
          .insertInto('audit_events')
          .values(rows.slice(i, i + ROWS_PER_INSERT))
          .execute();
      await this.nodeStore(trx).putNodes(nodes);
      if (this.engine === 'sqlite') return;
      for (let i = 0; i < refs.length; i += ROWS_PER_INSERT)
        await trx
          .insertInto('audit_patient_refs')
          .values(refs.slice(i, i + ROWS_PER_INSERT))
          .onConflict((oc) => oc.doNothing())
          .execute();
      const end = rows.length > 0 ? rows[rows.length - 1]!.seq + 1 : undefined;
      if (end !== undefined)
        await trx.updateTable('audit_index_state').set({ indexed_upto: end }).where('id', '=', 1).execute();
    } catch (err) {
      throw this.explainInsertError(err, rows[0]?.seq);
    }
  }

  /**
   * A node or seq that already exists means entries were removed under the tree: never write
   * over that evidence. Appends fail until an operator has looked (fail closed).
   */
  explainInsertError(err: unknown, seq: number | undefined): unknown {
    const message = String((err as Error).message);
    if (!/UNIQUE|duplicate key/i.test(message)) return err;
    return new NodeStoreError(
      `the audit log store is inconsistent at seq ${seq} (entries removed under the tree?): run \`carewire audit verify\`; ${message}`,
    );
  }

  /** The statements of insertBatch for the SQLite writer thread. */
  appendOps(rows: readonly EntryRow[], nodes: readonly TreeNode[]): WriteOp[] {
    const e: SQLInputValue[] = [];
    for (const r of rows)
      e.push(r.seq, r.recorded, r.type, r.outcome, r.user_id, r.patient_id, r.entry, r.leaf);
    const n: SQLInputValue[] = [];
    for (const x of nodes) if (x.level > 0) n.push(x.level, x.index, x.hash);
    return [
      { sql: INSERT_ENTRY, width: 8, params: e },
      { sql: INSERT_NODE, width: 3, params: n },
    ];
  }

  /** The first seq not yet in the patient index (entries from there on are scanned). */
  async indexedUpto(conn: Conn): Promise<number> {
    const r = await conn
      .selectFrom('audit_index_state')
      .select('indexed_upto')
      .where('id', '=', 1)
      .executeTakeFirst();
    return Number(r?.indexed_upto ?? 0);
  }

  /** Holds when the entry table has exactly `size` entries (no other process appended). */
  sizeGuard(size: number): WriteGuard {
    return { sql: 'SELECT coalesce(max(seq) + 1, 0) AS n FROM audit_events', params: [], expect: size };
  }

  /** The tree's nodes through `conn` (a transaction while appending, the database otherwise). */
  nodeStore(conn: Conn = this.db): NodeStore {
    const raw = this.#raw;
    if (raw) return new RawNodeStore(raw);
    return new KyselyNodeStore(conn, this.engine);
  }

  /**
   * Stored entry bytes in leaf order, `[from, to)` by the seq column, read in chunks so no
   * statement stays open between them (a live server keeps appending on the same connection).
   * `onLeaves` receives each chunk's stored leaf hashes by seq, read in the same query, so a
   * verifier need not read them again.
   */
  async *entryBytes(
    from: number,
    to: number,
    onLeaves?: (seqs: readonly number[], leaves: readonly Uint8Array[]) => void,
    chunk = 8192,
  ): AsyncGenerator<Uint8Array> {
    let next = from;
    while (next < to) {
      let rows: Array<[number, Uint8Array, Uint8Array]>;
      if (this.#raw) {
        rows = this.#raw.entriesFrom.all(next, to, chunk) as unknown as Array<
          [number, Uint8Array, Uint8Array]
        >;
      } else {
        const got = await this.db
          .selectFrom('audit_events')
          .select(['seq', 'entry', 'leaf'])
          .where('seq', '>=', next)
          .where('seq', '<', to)
          .orderBy('seq')
          .limit(chunk)
          .execute();
        rows = got.map((r) => [Number(r.seq), Buffer.from(r.entry, 'utf8'), r.leaf]);
      }
      if (onLeaves)
        onLeaves(
          rows.map((r) => r[0]),
          rows.map((r) => r[2]),
        );
      for (const r of rows) yield r[1];
      if (rows.length < chunk) return;
      next = rows.at(-1)![0] + 1;
    }
  }

  async insertCheckpoint(cp: StoredCheckpoint): Promise<void> {
    await this.db
      .insertInto('audit_checkpoints')
      .values({ size: cp.size, root: cp.root, note: cp.note, created_at: cp.createdAt })
      .onConflict((oc) => oc.column('size').doNothing())
      .execute();
  }

  async latestCheckpoint(): Promise<StoredCheckpoint | undefined> {
    const r = await this.db
      .selectFrom('audit_checkpoints')
      .selectAll()
      .orderBy('size', 'desc')
      .limit(1)
      .executeTakeFirst();
    return r ? toCheckpoint(r) : undefined;
  }

  async checkpoints(after = -1, limit = 1000): Promise<StoredCheckpoint[]> {
    const rows = await this.db
      .selectFrom('audit_checkpoints')
      .selectAll()
      .where('size', '>', after)
      .orderBy('size')
      .limit(limit)
      .execute();
    return rows.map(toCheckpoint);
  }
}

function toCheckpoint(r: { size: number; root: string; note: string; created_at: number }): StoredCheckpoint {
  return { size: Number(r.size), root: r.root, note: r.note, createdAt: Number(r.created_at) };
}

function count(max: number | string | bigint | null | undefined): number {
  return max === null || max === undefined ? 0 : Number(max) + 1;
}

/** Groups ids by level: the verifier asks for runs of neighbours, proofs for a few per level. */
function byLevel(ids: readonly NodeId[]): Map<number, number[]> {
  const m = new Map<number, number[]>();
  ids.forEach((id, i) => {
    let l = m.get(id.level);
    if (!l) {
      l = [];
      m.set(id.level, l);
    }
    l.push(i);
  });
  return m;
}

class RawNodeStore implements NodeStore {
  readonly #s: RawStatements;
  constructor(s: RawStatements) {
    this.#s = s;
  }

  async getNodes(ids: readonly NodeId[]): Promise<ReadonlyArray<Uint8Array | undefined>> {
    const out = new Array<Uint8Array | undefined>(ids.length);
    for (const [level, positions] of byLevel(ids)) {
      let lo = Number.POSITIVE_INFINITY;
      let hi = -1;
      for (const p of positions) {
        const idx = ids[p]!.index;
        if (idx < lo) lo = idx;
        if (idx > hi) hi = idx;
      }
      if (positions.length > 4 && hi - lo < positions.length * 2) {
        // A dense run (verification): one range scan instead of a lookup each.
        const found = new Array<Uint8Array | undefined>(hi - lo + 1);
        const rows = (level === 0
          ? this.#s.getLeaves.all(lo, hi)
          : this.#s.getRange.all(level, lo, hi)) as unknown as Array<[number, Uint8Array]>;
        for (const [idx, hash] of rows) found[idx - lo] = hash;
        for (const p of positions) out[p] = found[ids[p]!.index - lo];
      } else {
        for (const p of positions) {
          const idx = ids[p]!.index;
          const r = (level === 0 ? this.#s.getLeaf.get(idx) : this.#s.getNode.get(level, idx)) as
            | [Uint8Array]
            | undefined;
          out[p] = r?.[0];
        }
      }
    }
    return out;
  }

  async putNodes(nodes: readonly TreeNode[]): Promise<void> {
    for (const n of nodes) if (n.level > 0) this.#s.insNode.run(n.level, n.index, n.hash);
  }
}

class KyselyNodeStore implements NodeStore {
  readonly #conn: Conn;
  readonly #engine: 'sqlite' | 'postgres';
  constructor(conn: Conn, engine: 'sqlite' | 'postgres') {
    this.#conn = conn;
    this.#engine = engine;
  }

  async getNodes(ids: readonly NodeId[]): Promise<ReadonlyArray<Uint8Array | undefined>> {
    if (ids.length === 0) return [];
    const found = new Map<string, Uint8Array>();
    const groups = byLevel(ids);
    const range = (positions: number[]) => {
      const idxs = positions.map((p) => ids[p]!.index);
      let lo = idxs[0]!;
      let hi = lo;
      for (const i of idxs) {
        if (i < lo) lo = i;
        if (i > hi) hi = i;
      }
      return { idxs, lo, hi, dense: hi - lo < idxs.length * 2 };
    };
    const leaves = groups.get(0);
    groups.delete(0);
    // Level 0 from the entry rows, the others in one statement: `level = ? AND idx …` OR-ed per
    // level. A dense level reads its whole range, and nodes not asked for are dropped below.
    const [leafRows, nodeRows] = await Promise.all([
      leaves
        ? (() => {
            const r = range(leaves);
            return this.#conn
              .selectFrom('audit_events')
              .select(['seq', 'leaf'])
              .where((eb) => (r.dense ? eb.between('seq', r.lo, r.hi) : eb('seq', 'in', r.idxs)))
              .execute();
          })()
        : Promise.resolve([]),
      groups.size > 0
        ? this.#conn
            .selectFrom('audit_tree')
            .select(['level', 'idx', 'hash'])
            .where((eb) =>
              eb.or(
                [...groups].map(([level, positions]) => {
                  const r = range(positions);
                  return eb.and([
                    eb('level', '=', level),
                    r.dense ? eb.between('idx', r.lo, r.hi) : eb('idx', 'in', r.idxs),
                  ]);
                }),
              ),
            )
            .execute()
        : Promise.resolve([]),
    ]);
    for (const r of leafRows) found.set(`0/${Number(r.seq)}`, r.leaf);
    for (const r of nodeRows) found.set(`${r.level}/${Number(r.idx)}`, r.hash);
    return ids.map((id) => found.get(`${id.level}/${id.index}`));
  }

  /** Interior nodes only: leaves are written with their entry rows. */
  async putNodes(all: readonly TreeNode[]): Promise<void> {
    const nodes = all.filter((n) => n.level > 0);
    if (nodes.length === 0) return;
    if (this.#engine === 'postgres') {
      // unnest keeps it one statement with three parameters however many nodes there are.
      await sql`INSERT INTO audit_tree (level, idx, hash)
        SELECT * FROM unnest(${nodes.map((n) => n.level)}::int[], ${nodes.map((n) => n.index)}::bigint[],
          ${nodes.map((n) => Buffer.from(n.hash.buffer, n.hash.byteOffset, n.hash.byteLength))}::bytea[])`.execute(
        this.#conn,
      );
      return;
    }
    for (let i = 0; i < nodes.length; i += ROWS_PER_INSERT) {
      try {
        await this.#conn
          .insertInto('audit_tree')
          .values(
            nodes.slice(i, i + ROWS_PER_INSERT).map((n) => ({ level: n.level, idx: n.index, hash: n.hash })),
          )
          .execute();
      } catch (err) {
        throw new NodeStoreError(`storing tree nodes failed: ${(err as Error).message}`);
      }
    }
  }
}
