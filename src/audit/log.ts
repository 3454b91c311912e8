/**
 * The audit hook every feature calls: `audit.append(event)` after each access to patient data,
 * each login, each admin change and each denial. The promise settles once the entry is durable,
 * so a caller can refuse to hand out data it could not record.
 *
 * Underneath it is a tamper-evident log like Certificate Transparency (RFC 6962/9162): each event
 * becomes an `AuditEntry` at leaf `seq` (0-based) of a Merkle tree; its exact canonical bytes and
 * the new tree nodes are written in the same group-commit transaction; a signed C2SP checkpoint of
 * the tree head is stored every few seconds and on close. Anyone holding the log's public key and
 * a checkpoint can prove an entry is in the log, that the log only grew, and find the first entry
 * an attacker with database access changed (`verify`, `carewire audit verify`).
 *
 * Field names follow FHIR R4 AuditEvent: action C/R/U/D/E, outcome 0 (success), 4 (minor failure,
 * e.g. denied), 8 (serious failure), 12 (major failure), agent with role and network address,
 * entity with the patient, purpose of use (ETREAT for break-the-glass).
 */
import { hash, randomUUID } from 'node:crypto';
import { type Kysely, type SqlBool, sql, type Transaction } from 'kysely';
import type { Db, Store } from '../store/db.ts';
import { type GroupCommitOptions, GroupCommitter } from '../store/group-commit.ts';
import type { Database } from '../store/schema.ts';
import { type SqliteWriter, StaleWriteError } from '../store/sqlite-writer.ts';
import { AuditSql, type EntryRow, type PatientRef, type StoredCheckpoint } from './audit-sql.ts';
import {
  type AuditEvent,
  type AuditRecord,
  entryToRecord,
  eventToEntry,
  otherPatients,
} from './event-entry.ts';
import type { LogKey } from './log-key.ts';
import { AUDIT_ACTIONS, AUDIT_OUTCOMES, canonicalEntryJson } from './merkle/entry.ts';
import {
  type AppendPlan,
  type AuditEntry,
  AuditEntryError,
  appendLeaves,
  EMPTY_FRONTIER,
  EMPTY_ROOT,
  type Frontier,
  frontierRoot,
  MAX_ENTRY_BYTES,
  MerkleTree,
  type NodeStore,
  readFrontier,
  signCheckpoint,
  toBase64,
} from './merkle/index.ts';
import { PatientIndexer } from './patient-indexer.ts';

export type { StoredCheckpoint } from './audit-sql.ts';
export type { AuditAction, AuditAgent, AuditEvent, AuditOutcome, AuditRecord } from './event-entry.ts';

export interface AuditQuery {
  patientId?: string;
  userId?: string;
  type?: string;
  afterSeq?: number;
  limit?: number;
}

/** The auditor's filter over the log (all optional; `[from, to)` is by seq). */
export interface AuditFilter {
  from?: number | undefined;
  to?: number | undefined;
  patientId?: string | undefined;
  userId?: string | undefined;
  type?: string | undefined;
  outcome?: number | undefined;
  /** recorded ≥ since (ms). */
  since?: number | undefined;
  /** recorded < until (ms). */
  until?: number | undefined;
  limit?: number | undefined;
  order?: 'asc' | 'desc' | undefined;
}

export interface AuditLogOptions extends GroupCommitOptions {
  /**
   * Commit through the store's writer thread (SQLite): batches are committed there while this
   * thread encodes the next one, and a thread of its own keeps the patient index up to date.
   * Without it batches commit on the main connection and nothing updates the index (readers scan
   * the entries after its mark): right for a command that appends a few entries and exits.
   */
  writerThread?: boolean | undefined;
  /** Signs checkpoints. Without it nothing is signed (tests of the hook alone). */
  key?: LogKey | undefined;
  /** How often the patient indexer catches up, ms (default 1000; writer thread only). */
  indexEveryMs?: number | undefined;
  /** How often a checkpoint is signed when the log grew, ms (default 5000; 0: only on close). */
  checkpointMs?: number | undefined;
  /** Reports a failed background checkpoint (default: ignored until the next try). */
  onError?: ((err: unknown) => void) | undefined;
}

export interface TreeHead {
  size: number;
  root: Uint8Array;
}

export interface InclusionProof {
  index: number;
  size: number;
  leafHash: Uint8Array;
  proof: Uint8Array[];
  root: Uint8Array;
}

export interface ConsistencyProof {
  from: number;
  to: number;
  proof: Uint8Array[];
  fromRoot: Uint8Array;
  toRoot: Uint8Array;
}

/** One stored entry: its position, parsed form and the exact bytes (text) the leaf commits to. */
export interface StoredEntry {
  seq: number;
  entry: AuditEntry;
  text: string;
}

interface Queued {
  event: AuditEvent;
  id: string;
  recorded: number;
}

export const MAX_ENTRIES_PAGE = 10_000;
// The rules of validateEntry (merkle/entry.ts) for the fields callers choose.
const TYPE_RE = /^[a-z][a-z0-9]*(?:[._-][a-z0-9]+)*$/;
const PURPOSE_RE = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;
const ACTIONS: ReadonlySet<unknown> = new Set(AUDIT_ACTIONS);
const OUTCOMES: ReadonlySet<unknown> = new Set(AUDIT_OUTCOMES);

export class AuditLog {
  readonly #db: Db;
  readonly #store: Store;
  readonly #sql: AuditSql;
  readonly #writer: GroupCommitter<Queued, number>;
  readonly #key: LogKey | undefined;
  readonly #onError: (err: unknown) => void;
  /** Committed frontier as last seen, and the plan of the batch whose commit is not yet seen. */
  #frontier: Frontier = EMPTY_FRONTIER;
  #pending: AppendPlan | undefined;
  #legacyChecked = false;
  /**
   * Frontier after the last batch sent to the writer thread (committed or not yet): the next batch
   * goes after it. Undefined when it must be read from the store again.
   */
  #tip: Frontier | undefined;
  #indexer: PatientIndexer | undefined;
  /** Batches sent to the writer thread and not yet answered, and who waits for them all. */
  #inThread = 0;
  #drained: Array<() => void> = [];
  #legacyOnce: Promise<number[]> | undefined;
  /** Largest tree size known to be committed (appends resolved, or read in a transaction). */
  #committed = 0;
  #lastSigned = -1;
  #signing: Promise<StoredCheckpoint | undefined> | undefined;
  #timer: NodeJS.Timeout | undefined;
  #proofTree: MerkleTree | undefined;

  constructor(store: Store, opts: AuditLogOptions) {
    const db = store.db;
    this.#db = db;
    this.#store = store;
    this.#sql = new AuditSql(db, store.sqlite);
    this.#key = opts.key;
    this.#onError = opts.onError ?? (() => {});
    const gc: GroupCommitOptions = {
      maxDelayMs: opts.maxDelayMs,
      maxItems: opts.maxItems,
      ...(opts.maxQueue !== undefined ? { maxQueue: opts.maxQueue } : {}),
    };
    const thread = opts.writerThread ? store.writer() : undefined;
    if (thread)
      this.#indexer = new PatientIndexer(store.location, {
        ...(opts.indexEveryMs !== undefined ? { everyMs: opts.indexEveryMs } : {}),
      });
    this.#writer = thread
      ? new GroupCommitter<Queued, number>(null, (items) => this.#commitByThread(thread, items), {
          ...gc,
          // The thread commits them in order; four keep it busy while this thread encodes.
          pipeline: 4,
        })
      : new GroupCommitter<Queued, number>(db, (trx, items) => this.#applyBatch(trx, items), gc);
    const every = opts.checkpointMs ?? 5000;
    if (this.#key && every > 0) {
      this.#timer = setInterval(() => {
        this.checkpoint().catch(this.#onError);
      }, every);
      this.#timer.unref();
    }
  }

  get engine(): 'sqlite' | 'postgres' {
    return this.#sql.engine;
  }
  /** The log's origin line, when it signs checkpoints. */
  get origin(): string | undefined {
    return this.#key?.origin;
  }
  /** The verifier key auditors trust (`name+id+key`). */
  get vkey(): string | undefined {
    return this.#key?.vkey;
  }
  /** The SQL layer (verification, benchmarks). */
  get sqlLayer(): AuditSql {
    return this.#sql;
  }

  /** Appends one event; resolves when it is committed. */
  async append(event: AuditEvent): Promise<AuditRecord> {
    // Refuse a malformed event here, alone, rather than failing the batch it would join.
    if (typeof event.type !== 'string' || event.type.length > 64 || !TYPE_RE.test(event.type))
      throw new AuditEntryError(
        `audit event type ${JSON.stringify(event.type)} is not a lowercase dotted code`,
      );
    if (!ACTIONS.has(event.action)) throw new AuditEntryError('audit action must be one of C R U D E');
    if (!OUTCOMES.has(event.outcome)) throw new AuditEntryError('audit outcome must be 0, 4, 8 or 12');
    if (event.purpose !== undefined && (event.purpose.length > 64 || !PURPOSE_RE.test(event.purpose)))
      throw new AuditEntryError(
        `audit purpose ${JSON.stringify(event.purpose)} is not a code such as ETREAT`,
      );
    const q: Queued = { event, id: randomUUID(), recorded: Date.now() };
    const seq = await this.#writer.submit(q);
    if (seq + 1 > this.#committed) this.#committed = seq + 1;
    return { ...event, seq, id: q.id, recorded: q.recorded };
  }

  async #applyBatch(trx: Transaction<Database>, items: readonly Queued[]): Promise<number[]> {
    await this.#sql.lockForAppend(trx);
    let size = await this.#sql.entryCount(trx);
    if (!this.#legacyChecked) {
      if (size === 0) size = await this.#importLegacy(trx);
      this.#legacyChecked = true;
    }
    return this.#appendIn(trx, items, size);
  }

  /**
   * One batch through the writer thread. The size this process last committed is trusted and
   * checked inside the write transaction (the guard): when another process appended meanwhile
   * (`carewire user add` beside a running server), nothing is written and the batch is encoded
   * again at the new size.
   */
  async #commitByThread(writer: SqliteWriter, items: readonly Queued[]): Promise<number[]> {
    // Once, before any batch: the foundation's table may have to be imported first.
    if (!this.#legacyChecked) {
      this.#legacyOnce ??= this.#db.transaction().execute((trx) => this.#applyBatch(trx, []));
      await this.#legacyOnce;
    }
    for (let attempt = 0; ; attempt++) {
      if (this.#tip === undefined) {
        // Read the store only when none of our batches is on its way: the read must not race them.
        while (this.#inThread > 0) await new Promise<void>((resolve) => this.#drained.push(resolve));
        if (this.#tip === undefined) {
          const size = await this.#sql.entryCount(this.#db);
          const read = await this.#frontierAt(this.#db, size);
          this.#tip ??= read;
        }
      }
      // From here to the write, synchronous: the next batch is placed after this one.
      const from = this.#tip;
      const b = encodeBatch(items, from.size);
      const plan = appendLeaves(from, b.hashes);
      this.#tip = plan.frontier;
      this.#inThread++;
      try {
        await writer.write(this.#sql.appendOps(b.rows, plan.nodes), {
          guard: this.#sql.sizeGuard(from.size),
        });
      } catch (err) {
        // Batches sent after this one expect it to be there: their guards fail and they retry.
        this.#tip = undefined;
        if (err instanceof StaleWriteError && attempt < 5) continue;
        throw this.#sql.explainInsertError(err, from.size);
      } finally {
        if (--this.#inThread === 0) for (const resolve of this.#drained.splice(0)) resolve();
      }
      if (plan.size > this.#frontier.size) this.#frontier = plan.frontier;
      this.#pending = undefined;
      return b.seqs;
    }
  }

  /** Writes entries for `items` at leaves size, size+1, … with their tree nodes, in `trx`. */
  async #appendIn(trx: Transaction<Database>, items: readonly Queued[], size: number): Promise<number[]> {
    const frontier = await this.#frontierAt(trx, size);
    const { rows, refs, hashes, seqs } = encodeBatch(items, size);
    const plan = appendLeaves(frontier, hashes);
    await this.#sql.insertBatch(trx, rows, plan.nodes, refs);
    // Not yet durable: the next batch (or head()) adopts it once the entry table shows it.
    this.#pending = plan;
    return seqs;
  }

  /** The frontier of the committed tree of `size` leaves, from memory when it is known to match. */
  async #frontierAt(conn: Kysely<Database> | Transaction<Database>, size: number): Promise<Frontier> {
    const p = this.#pending;
    if (p && p.size === size && p.fromSize === this.#frontier.size) {
      this.#frontier = p.frontier;
      this.#pending = undefined;
    }
    if (this.#frontier.size !== size) {
      // Another process or node appended (or a batch rolled back): read it, popcount(size) nodes.
      this.#frontier = await readFrontier(this.#sql.nodeStore(conn), size);
      this.#pending = undefined;
    }
    return this.#frontier;
  }

  /**
   * First start on a store that holds the foundation's plain table (`audit_events_v1`): its rows
   * become the first entries of the Merkle log, in order, so no history is left outside the tree.
   */
  async #importLegacy(trx: Transaction<Database>): Promise<number> {
    const rows = await sql<LegacyRow>`SELECT * FROM audit_events_v1 ORDER BY seq`.execute(trx);
    if (rows.rows.length === 0) return 0;
    const items: Queued[] = rows.rows.map((r) => ({
      id: r.id,
      recorded: Number(r.recorded),
      event: {
        type: r.type,
        action: r.action as AuditEvent['action'],
        outcome: Number(r.outcome) as AuditEvent['outcome'],
        agent: {
          userId: r.user_id ?? undefined,
          username: r.username ?? undefined,
          role: r.role ?? undefined,
          address: r.address ?? undefined,
        },
        source: r.source,
        patientId: r.patient_id ?? undefined,
        entity: r.entity_type && r.entity_id ? { type: r.entity_type, id: r.entity_id } : undefined,
        purpose: r.purpose ?? undefined,
        detail: {
          ...(r.detail ? (JSON.parse(r.detail) as Record<string, unknown>) : {}),
          v1Seq: Number(r.seq),
        },
      },
    }));
    await this.#appendIn(trx, items, 0);
    const plan = this.#pending!;
    // Adopt at once: the caller's batch follows in the same transaction.
    this.#frontier = plan.frontier;
    this.#pending = undefined;
    return items.length;
  }

  async query(q: AuditQuery = {}): Promise<AuditRecord[]> {
    const list = await this.entries({
      patientId: q.patientId,
      userId: q.userId,
      type: q.type,
      from: q.afterSeq === undefined ? undefined : q.afterSeq + 1,
      limit: Math.min(q.limit ?? 100, 1000),
    });
    return list.map((e) => entryToRecord(e.entry));
  }

  /** Stored entries matching a filter, by seq (ascending unless `order: 'desc'`). */
  async entries(f: AuditFilter = {}): Promise<StoredEntry[]> {
    const order = f.order ?? 'asc';
    const limit = Math.min(f.limit ?? 100, MAX_ENTRIES_PAGE);
    // By patient: the index (and the entries after its mark) are read where the index lives.
    const conn = f.patientId ? this.#indexDb() : this.#db;
    const filtered = () => {
      let sel = conn.selectFrom('audit_events as e').select(['e.seq', 'e.entry']);
      if (f.from !== undefined) sel = sel.where('e.seq', '>=', f.from);
      if (f.to !== undefined) sel = sel.where('e.seq', '<', f.to);
      if (f.patientId) sel = sel.where('e.patient_id', '=', f.patientId);
      if (f.userId) sel = sel.where('e.user_id', '=', f.userId);
      if (f.type) sel = sel.where('e.type', '=', f.type);
      if (f.outcome !== undefined) sel = sel.where('e.outcome', '=', f.outcome);
      if (f.since !== undefined) sel = sel.where('e.recorded', '>=', f.since);
      if (f.until !== undefined) sel = sel.where('e.recorded', '<', f.until);
      return sel.orderBy('e.seq', order).limit(limit);
    };
    if (!f.patientId) return (await filtered().execute()).map(toStored);
    // By patient: the index up to its mark, and the few entries after it scanned.
    const mark = await this.#sql.indexedUpto(conn);
    const patientId = f.patientId;
    const [indexed, tail] = await Promise.all([
      filtered()
        .innerJoin('audit_patient_refs as r', 'r.seq', 'e.seq')
        .where('r.patient_id', '=', patientId)
        .execute(),
      filtered().where('e.seq', '>=', mark).execute(),
    ]);
    return mergeBySeq(indexed, tail, order, limit).map(toStored);
  }

  /**
   * "Who accessed my record": every entry about this patient — reads, writes, denials, and lists
   * that showed them — newest first.
   */
  async accessLog(patientId: string, opts: { before?: number; limit?: number } = {}): Promise<AuditRecord[]> {
    const limit = Math.min(opts.limit ?? 100, 1000);
    const conn = this.#indexDb();
    const mark = await this.#sql.indexedUpto(conn);
    let indexed = conn
      .selectFrom('audit_patient_refs as r')
      .innerJoin('audit_events as e', 'e.seq', 'r.seq')
      .select(['e.seq', 'e.entry'])
      .where('r.patient_id', '=', patientId);
    // The tail after the index mark: its own patient, or the id quoted anywhere in the entry
    // (checked exactly below, once parsed).
    const needle = JSON.stringify(patientId);
    const mentions =
      this.#sql.engine === 'postgres'
        ? sql<SqlBool>`strpos(entry, ${needle}) > 0`
        : sql<SqlBool>`instr(entry, ${needle}) > 0`;
    let tail = conn
      .selectFrom('audit_events')
      .select(['seq', 'entry'])
      .where('seq', '>=', mark)
      .where((eb) => eb.or([eb('patient_id', '=', patientId), mentions]));
    if (opts.before !== undefined) {
      indexed = indexed.where('r.seq', '<', opts.before);
      tail = tail.where('seq', '<', opts.before);
    }
    const [a, b] = await Promise.all([
      indexed.orderBy('r.seq', 'desc').limit(limit).execute(),
      tail.orderBy('seq', 'desc').limit(limit).execute(),
    ]);
    const about = b.map(toStored).filter((s) => isAbout(s.entry, patientId));
    return mergeBySeq(a.map(toStored), about, 'desc', limit).map((s) => entryToRecord(s.entry));
  }

  /** Exact stored bytes (as text) of entries `[from, to)`, for independent verification. */
  async rawEntries(from: number, to: number): Promise<string[]> {
    const rows = await this.#db
      .selectFrom('audit_events')
      .select('entry')
      .where('seq', '>=', from)
      .where('seq', '<', Math.min(to, from + MAX_ENTRIES_PAGE))
      .orderBy('seq')
      .execute();
    return rows.map((r) => r.entry);
  }

  /** The node store of the committed tree (verification; serve proofs through the methods below). */
  nodeStore(): NodeStore {
    return this.#sql.nodeStore();
  }

  /**
   * The committed tree head. On SQLite this runs as a transaction so it never sees a batch that
   * is written but not yet committed on the shared connection (and could still roll back).
   */
  async head(): Promise<TreeHead> {
    const read = async (conn: Kysely<Database> | Transaction<Database>): Promise<TreeHead> => {
      const size = await this.#sql.entryCount(conn);
      if (size === 0) return { size, root: EMPTY_ROOT };
      const f = await this.#frontierAt(conn, size);
      return { size, root: frontierRoot(f) };
    };
    const h =
      this.#sql.engine === 'sqlite' ? await this.#db.transaction().execute(read) : await read(this.#db);
    if (h.size > this.#committed) this.#committed = h.size;
    return h;
  }

  async #checkSize(size: number): Promise<void> {
    if (size <= this.#committed) return;
    const { size: now } = await this.head();
    if (size > now) throw new RangeError(`tree size ${size} is beyond the log's size ${now}`);
  }

  /**
   * The committed tree of `size` leaves, for proofs. The last one is kept: auditors ask many
   * proofs against the same checkpoint, and opening reads popcount(size) nodes each time.
   */
  async #treeAt(size: number): Promise<MerkleTree> {
    const cached = this.#proofTree;
    if (cached?.size === size) return cached;
    await this.#checkSize(size);
    const tree = await MerkleTree.open(this.#sql.nodeStore(), size);
    this.#proofTree = tree;
    return tree;
  }

  async inclusionProof(index: number, size: number): Promise<InclusionProof> {
    if (!Number.isSafeInteger(index) || !Number.isSafeInteger(size) || index < 0 || index >= size)
      throw new RangeError(`leaf index ${index} is outside a tree of size ${size}`);
    const tree = await this.#treeAt(size);
    const [proof, leaf] = await Promise.all([tree.inclusionProof(index, size), tree.leafHash(index)]);
    return { index, size, leafHash: leaf, proof, root: tree.root };
  }

  async consistencyProof(from: number, to: number): Promise<ConsistencyProof> {
    if (!Number.isSafeInteger(from) || !Number.isSafeInteger(to) || from < 0 || from > to)
      throw new RangeError(`cannot prove consistency from size ${from} to size ${to}`);
    const tree = await this.#treeAt(to);
    const [proof, fromRoot] = await Promise.all([tree.consistencyProof(from, to), tree.rootAt(from)]);
    return { from, to, proof, fromRoot, toRoot: tree.root };
  }

  /** Stored hashes of tree nodes `(level, from…to-1)`, absent ones undefined (remote verification). */
  async treeNodes(level: number, from: number, to: number): Promise<ReadonlyArray<Uint8Array | undefined>> {
    const ids = [];
    for (let i = from; i < Math.min(to, from + MAX_ENTRIES_PAGE); i++) ids.push({ level, index: i });
    return this.#sql.nodeStore().getNodes(ids);
  }

  /**
   * Signs and stores a checkpoint of the committed head when the log grew since the last one.
   * Resolves to the latest stored checkpoint (undefined while the log is empty or unsigned).
   */
  checkpoint(): Promise<StoredCheckpoint | undefined> {
    this.#signing ??= this.#signHead().finally(() => {
      this.#signing = undefined;
    });
    return this.#signing;
  }

  async #signHead(): Promise<StoredCheckpoint | undefined> {
    const key = this.#key;
    if (!key) return this.#sql.latestCheckpoint();
    const head = await this.head();
    if (head.size === 0 || head.size <= this.#lastSigned) return this.#sql.latestCheckpoint();
    const note = signCheckpoint({ origin: key.origin, size: head.size, root: head.root }, key.signer);
    const cp = { size: head.size, root: toBase64(head.root), note, createdAt: Date.now() };
    await this.#sql.insertCheckpoint(cp);
    this.#lastSigned = head.size;
    return cp;
  }

  latestCheckpoint(): Promise<StoredCheckpoint | undefined> {
    return this.#sql.latestCheckpoint();
  }

  checkpoints(after?: number, limit?: number): Promise<StoredCheckpoint[]> {
    return this.#sql.checkpoints(after, limit);
  }

  async flush(): Promise<void> {
    await this.#writer.flush();
  }

  /**
   * Where the patient index is read (SQLite: a connection with the index's file attached), opened
   * on the first patient query: most processes that append (the command line) never read it.
   */
  #indexDb(): Db {
    return this.#store.auditIndexDb();
  }

  /** Brings the patient index up to everything committed (writer thread only; else a no-op). */
  async indexNow(): Promise<void> {
    await this.#indexer?.catchUp();
  }

  /** Commits what was accepted, signs a final checkpoint, stops the timer. */
  async close(): Promise<void> {
    if (this.#timer) clearInterval(this.#timer);
    this.#timer = undefined;
    await this.#writer.close();
    // What is left after the index mark is indexed now, so it is not scanned later.
    await this.#indexer?.stop();
    await this.#signing?.catch(() => undefined);
    if (this.#key) await this.checkpoint();
  }
}

interface LegacyRow {
  seq: number;
  id: string;
  recorded: number;
  type: string;
  action: string;
  outcome: number;
  user_id: string | null;
  username: string | null;
  role: string | null;
  address: string | null;
  source: string;
  patient_id: string | null;
  entity_type: string | null;
  entity_id: string | null;
  purpose: string | null;
  detail: string | null;
}

/** Entry rows, patient references and leaf hashes of a batch placed at leaves size, size+1, … */
function encodeBatch(
  items: readonly Queued[],
  size: number,
): { rows: EntryRow[]; refs: PatientRef[]; hashes: Uint8Array[]; seqs: number[] } {
  const rows: EntryRow[] = [];
  const refs: PatientRef[] = [];
  const hashes: Uint8Array[] = [];
  const seqs: number[] = [];
  for (let i = 0; i < items.length; i++) {
    const q = items[i]!;
    const seq = size + i;
    const { text, leaf } = encode(eventToEntry(seq, q.id, q.recorded, q.event));
    hashes.push(leaf);
    rows.push({
      seq,
      recorded: q.recorded,
      type: q.event.type,
      outcome: q.event.outcome,
      user_id: q.event.agent?.userId || null,
      patient_id: q.event.patientId || null,
      entry: text,
      leaf,
    });
    if (q.event.patientId) refs.push({ patient_id: q.event.patientId, seq });
    for (const p of otherPatients(q.event)) refs.push({ patient_id: p, seq });
    seqs.push(seq);
  }
  return { rows, refs, hashes, seqs };
}

/** Is a stored entry about this patient: its own, or one of a list it showed (otherPatients)? */
function isAbout(entry: AuditEntry, patientId: string): boolean {
  if (entry.entity?.patientId === patientId) return true;
  const ids = (entry.detail as { patientIds?: unknown } | undefined)?.patientIds;
  return Array.isArray(ids) && ids.includes(patientId);
}

/** Two seq-ordered result lists (which may overlap) as one, without repeats, cut to `limit`. */
function mergeBySeq<T extends { seq: number }>(
  a: readonly T[],
  b: readonly T[],
  order: 'asc' | 'desc',
  limit: number,
): T[] {
  const bySeq = new Map<number, T>();
  for (const x of [...a, ...b]) bySeq.set(Number(x.seq), x);
  const sign = order === 'asc' ? 1 : -1;
  return [...bySeq.values()].sort((x, y) => sign * (Number(x.seq) - Number(y.seq))).slice(0, limit);
}

function toStored(r: { seq: number; entry: string }): StoredEntry {
  return { seq: Number(r.seq), entry: JSON.parse(r.entry) as AuditEntry, text: r.entry };
}

// One scratch buffer for leaf hashing: the entry text is written into it after the 0x00 prefix,
// so no Buffer is allocated per entry (this runs for every append).
let scratch = Buffer.alloc(MAX_ENTRY_BYTES + 1024);

/** SHA-256(0x00 ‖ UTF-8 text) and the text's byte length, or undefined when over MAX_ENTRY_BYTES. */
function leafOfText(text: string): { leaf: Uint8Array; length: number } | undefined {
  // UTF-8 needs at most 3 bytes per UTF-16 unit: a text that could overflow is measured first.
  if (text.length * 3 + 1 > scratch.length) {
    const length = Buffer.byteLength(text, 'utf8');
    if (length > MAX_ENTRY_BYTES) return undefined;
    if (length + 1 > scratch.length) scratch = Buffer.alloc(length + 1);
  }
  scratch[0] = 0x00;
  const length = scratch.write(text, 1, 'utf8');
  if (length > MAX_ENTRY_BYTES) return undefined;
  return { leaf: hash('sha256', scratch.subarray(0, length + 1), 'buffer'), length };
}

/**
 * Canonical text and leaf hash of an entry built by eventToEntry (whose fields are made safe
 * there, and whose type, action, outcome and purpose append() checked: validateEntry would repeat
 * that at a fifth of the append's cost). An oversized `detail` is replaced by a note saying so.
 */
function encode(entry: AuditEntry): { text: string; leaf: Uint8Array } {
  let text = canonicalEntryJson(entry);
  let r = leafOfText(text);
  if (r === undefined) {
    entry.detail = { truncated: true, bytes: Buffer.byteLength(text, 'utf8') };
    text = canonicalEntryJson(entry);
    r = leafOfText(text);
    if (r === undefined) throw new AuditEntryError('audit entry is too large even without its detail');
  }
  return { text, leaf: r.leaf };
}
