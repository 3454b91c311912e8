// Receiving one HL7 message durably: parse, interpret, build the acknowledgement, and commit the raw
// message, its ACK and everything derived from it (registry update, observations) in one group
// commit. The promise `receive` returns settles only after that commit, so the gateway writes the
// ACK only for durable data. A message seen before (same MSH-3 + MSH-10) is answered with the ACK
// stored for it and not stored again.

import { type Buffer, isUtf8 } from 'node:buffer';
import type { SQLInputValue } from 'node:sqlite';
import type { Insertable, Transaction } from 'kysely';
import type { NewObservation } from '../clinical/observations.ts';
import type { PatientService } from '../clinical/patients.ts';
import type { Store } from '../store/db.ts';
import { type GroupCommitOptions, GroupCommitter } from '../store/group-commit.ts';
import type { Database, Hl7MessagesTable } from '../store/schema.ts';
import type { SqliteWriter, WriteOp, WriteResult } from '../store/sqlite-writer.ts';
import { type AckPlan, buildAckPayloads, type Hl7Outcome, type OriginalAckCode, planAcks } from './ack.ts';
import { ASCII, type Hl7Charset } from './charset.ts';
import type { Hl7ErrorDetail } from './errors.ts';
import { dedupKey, type Hl7Hd, type Hl7HeaderInfo } from './header.ts';
import { type Interpretation, interpretMessage } from './interpret.ts';
import type { Hl7Message } from './message.ts';
import { frame } from './mllp.ts';
import { tryParseHl7 } from './parse.ts';
import {
  createPgOps,
  createSqliteOps,
  INSERT_MESSAGE_SQL,
  INSERT_OBSERVATION_SQL,
  MESSAGE_WIDTH,
  OBSERVATION_SOURCE_REF,
  OBSERVATION_WIDTH,
  pushMessageParams,
  pushObservationParams,
} from './store-ops.ts';

/** Separates the ACK payloads of one message in the stored `ack` text (FS never occurs inside one). */
export const ACK_SEPARATOR = '\u001c';

export type MessageRow = Omit<Insertable<Hl7MessagesTable>, 'id'>;

/** A message ready to commit: its row, what to apply, and the ACK frames to send once durable. */
export interface PreparedMessage {
  row: MessageRow;
  work: Interpretation | undefined;
  charset: Hl7Charset;
  frames: Buffer[];
}

export interface IngestResult {
  /** Framed acknowledgements to write, in order (none for NE/NE). */
  frames: Buffer[];
  /** MSA-1 of the (application) outcome. */
  code: OriginalAckCode;
  /** Answered from the store: the same MSH-3 + MSH-10 was received before. */
  duplicate: boolean;
  /** Row id in hl7_messages, or undefined when the message could not be stored. */
  id: number | undefined;
}

/** What is stored for a message key: its row id, the ACK text sent and the outcome code. */
export interface StoredAck {
  id: number;
  ack: string;
  code: string;
}

export interface Hl7IngestOptions {
  /** Answer types CareWire does not interpret with AR 200/201 instead of AA (they are stored either way). */
  rejectUnknownTypes?: boolean;
  /** IANA time zone of times sent without an offset (default UTC). */
  timeZone?: string | undefined;
  groupCommit: GroupCommitOptions;
}

export interface IngestDeps {
  store: Store;
  patients: PatientService;
  /**
   * SQLite: commit on the store's writer thread (the gateway passes it). The event loop then
   * parses the next messages while a batch commits and fsyncs, instead of blocking on it.
   */
  writer?: SqliteWriter | undefined;
}

/** Database operations of one batch; SQLite uses raw prepared statements, PostgreSQL `unnest` statements. */
export interface IngestOps {
  /**
   * Stored id and ACK of the keys already present. `trx` null: on the SQLite main connection,
   * committed rows only (PostgreSQL looks keys up inside the batch's transaction).
   */
  findStored(trx: Transaction<Database> | null, keys: string[]): Promise<Map<string, StoredAck>>;
  /** Registry ids by MRN; `trx` null: outside any transaction, committed rows only (both engines). */
  findPatients(trx: Transaction<Database> | null, mrns: string[]): Promise<Map<string, string>>;
  /** Inserts rows; each result is the new id, or undefined when its dedup key already existed. */
  insertMessages(trx: Transaction<Database>, rows: MessageRow[]): Promise<Array<number | undefined>>;
  insertObservations(trx: Transaction<Database>, list: NewObservation[]): Promise<void>;
}

const SELF = { application: 'CAREWIRE' };

function hdText(hd: Hl7Hd | undefined): string {
  if (!hd) return '';
  if (hd.universalId === '' && hd.universalIdType === '') return hd.namespaceId;
  return `${hd.namespaceId}^${hd.universalId}^${hd.universalIdType}`;
}

function decodeLoosely(bytes: Buffer): string {
  const text = isUtf8(bytes) ? bytes.toString('utf8') : bytes.toString('latin1');
  // PostgreSQL text cannot hold NUL; a frame that failed to parse may contain any byte.
  return text.includes('\u0000') ? text.replaceAll('\u0000', '\uFFFD') : text;
}

function describe(errors: readonly Hl7ErrorDetail[]): string | null {
  return errors.length === 0 ? null : errors.map((e) => `${e.code} ${e.message}`).join('; ');
}

/** The ACK payload texts and framed bytes for a plan. */
function acksFor(
  source: Hl7Message | Hl7HeaderInfo | undefined,
  plan: AckPlan,
  errors: readonly Hl7ErrorDetail[],
): { text: string; frames: Buffer[] } {
  const acks = buildAckPayloads(source, plan, { errors, self: SELF });
  if (acks.length === 1) return { text: acks[0]!.text, frames: [frame(acks[0]!.bytes)] };
  return { text: acks.map((a) => a.text).join(ACK_SEPARATOR), frames: acks.map((a) => frame(a.bytes)) };
}

/**
 * Parses and interprets one frame and builds its ACK (pure; nothing stored yet). Exposed for the
 * tests and for callers that store by other means.
 */
export function prepareMessage(
  bytes: Buffer,
  receivedAt: number,
  opts: { rejectUnknownTypes?: boolean; timeZone?: string | undefined } = {},
): PreparedMessage {
  const parsed = tryParseHl7(bytes);
  if (!parsed.ok) {
    const e = parsed.error;
    const h = e.header;
    const errors = [e.toDetail()];
    const plan = planAcks(h, { accept: e.outcome });
    const { text, frames } = acksFor(h, plan, errors);
    return {
      row: {
        // Not accepted: no key, so a corrected resend with the same MSH-10 is processed.
        dedup_key: null,
        control_id: h?.controlId ?? '',
        sending_app: hdText(h?.sendingApplication),
        sending_facility: hdText(h?.sendingFacility),
        message_type: h?.messageType ?? '',
        trigger_event: h?.triggerEvent ?? '',
        version: h?.version ?? '',
        received_at: receivedAt,
        raw: decodeLoosely(bytes),
        ack: text,
        ack_code: e.outcome === 'reject' ? 'AR' : 'AE',
        patient_id: null,
        error: describe(errors),
      },
      work: undefined,
      charset: ASCII,
      frames,
    };
  }
  const msg = parsed.message;
  const h = msg.header;
  let work: Interpretation | undefined = interpretMessage(msg, receivedAt, opts.timeZone);
  let outcome: Hl7Outcome = 'ok';
  let errors: Hl7ErrorDetail[] = [];
  if (work.kind === 'error') {
    outcome = 'error';
    errors = work.errors;
    work = undefined;
  } else if (work.kind === 'unknown') {
    if (opts.rejectUnknownTypes) {
      outcome = 'reject';
      const knownType = h.messageType === 'ADT' || h.messageType === 'ORU';
      errors = [
        {
          code: knownType ? '201' : '200',
          severity: 'E',
          location: { segment: 'MSH', sequence: 1, field: 9, component: knownType ? 2 : 1 },
          message: `${h.messageType}^${h.triggerEvent} is not a message ${knownType ? 'event' : 'type'} CareWire interprets`,
        },
      ];
    }
    work = undefined;
  }
  const plan = planAcks(h, { accept: 'ok', application: outcome });
  const { text, frames } = acksFor(msg, plan, errors);
  return {
    row: {
      dedup_key: dedupKey(h),
      control_id: h.controlId,
      sending_app: hdText(h.sendingApplication),
      sending_facility: hdText(h.sendingFacility),
      message_type: h.messageType,
      trigger_event: h.triggerEvent,
      version: h.version,
      received_at: receivedAt,
      raw: msg.charset.decode(bytes),
      ack: text,
      ack_code: outcome === 'ok' ? 'AA' : outcome === 'error' ? 'AE' : 'AR',
      patient_id: null,
      error: describe(errors),
    },
    work,
    charset: msg.charset,
    frames,
  };
}

/** Turns a stored ACK text back into frames (a duplicate is answered byte for byte as before). */
export function framesOf(ack: string, charset: Hl7Charset): Buffer[] {
  if (ack === '') return [];
  return ack.split(ACK_SEPARATOR).map((t) => frame(charset.encode(t)));
}

/** What `apply` found about each item of a batch. */
interface Applied {
  id: number;
  ack: string;
  code: string;
  duplicate: boolean;
  /** Set when this message alone could not be applied (see #applyInTurn); `receive` then falls back. */
  failure?: unknown;
}

interface Classified {
  /** Filled in for duplicates of stored messages; the rest as they are stored. */
  out: Array<Applied | undefined>;
  fresh: number[];
  /** [item, the earlier item of the batch with the same key]. */
  dupOfBatch: Array<[number, number]>;
}

export class Hl7Ingest {
  readonly #committer: GroupCommitter<PreparedMessage, Applied>;
  readonly #opts: Hl7IngestOptions;
  readonly #deps: IngestDeps;
  readonly #ops: IngestOps;
  /**
   * Batches not yet committed that a registry batch waits for: writer-thread batches (SQLite) or
   * transactions running beside another (PostgreSQL).
   */
  readonly #inFlight = new Set<Promise<unknown>>();
  /** Settles when the last batch started may be followed (see #commitOnWriter, #commitOnPg). */
  #handoff: Promise<void> = Promise.resolve();
  /** Counters for metrics and the connection audit. */
  readonly stats = { received: 0, stored: 0, duplicates: 0, failed: 0 };

  constructor(deps: IngestDeps, opts: Hl7IngestOptions) {
    this.#deps = deps;
    this.#opts = opts;
    this.#ops = deps.store.engine === 'sqlite' ? createSqliteOps(deps.store) : createPgOps(deps.store);
    const writer = deps.writer;
    if (writer) {
      this.#committer = new GroupCommitter<PreparedMessage, Applied>(
        null,
        (items) => this.#commitOnWriter(writer, items),
        { ...opts.groupCommit, pipeline: 2 },
      );
    } else if (deps.store.engine === 'postgres') {
      this.#committer = new GroupCommitter<PreparedMessage, Applied>(
        null,
        (items) => this.#commitOnPg(items),
        {
          ...opts.groupCommit,
          pipeline: 2,
        },
      );
    } else {
      // SQLite without a writer thread (one-shot commands): one transaction at a time on the main connection.
      this.#committer = new GroupCommitter<PreparedMessage, Applied>(
        deps.store.db,
        (trx, items) => this.#apply(trx, items),
        opts.groupCommit,
      );
    }
  }

  get committer(): GroupCommitter<PreparedMessage, Applied> {
    return this.#committer;
  }

  /**
   * Receives one frame. Resolves after the commit with the frames to answer; never rejects for bad
   * input (that is an AE/AR), only when the store refuses even the raw message (then nothing was
   * stored and the caller answers AR or drops the connection).
   */
  async receive(bytes: Buffer, receivedAt = Date.now()): Promise<IngestResult> {
    this.stats.received++;
    const prepared = prepareMessage(bytes, receivedAt, this.#opts);
    let applied: Applied;
    try {
      applied = await this.#committer.submit(prepared);
      if (applied.failure !== undefined) throw applied.failure;
    } catch (err) {
      if (prepared.work === undefined) throw err;
      // Applying the content failed (it was retried alone, so it is this message). Keep the raw
      // message with an AE 207 so the failure is visible. When the store refused the content
      // itself (a constraint, a value it cannot hold) a resend would fail the same way: the row
      // keeps its de-duplication key and a resend is answered with this AE. Any other failure
      // (a busy timeout, a lost PostgreSQL connection, a full disk, the writer thread gone) may
      // pass: the row has no key, so the resend is applied afresh once the store recovers.
      this.stats.failed++;
      const permanent = refusedContent(err);
      const h = tryParseHl7(bytes);
      const errors: Hl7ErrorDetail[] = [
        { code: '207', severity: 'E', message: `could not apply the message: ${errText(err)}` },
      ];
      const plan = planAcks(h.ok ? h.message.header : undefined, { accept: 'ok', application: 'error' });
      const { text, frames } = acksFor(h.ok ? h.message : undefined, plan, errors);
      const fallback: PreparedMessage = {
        row: {
          ...prepared.row,
          dedup_key: permanent ? prepared.row.dedup_key : null,
          ack: text,
          ack_code: 'AE',
          error: describe(errors),
        },
        work: undefined,
        charset: prepared.charset,
        frames,
      };
      applied = await this.#committer.submit(fallback);
      return this.#result(fallback, applied);
    }
    return this.#result(prepared, applied);
  }

  #result(p: PreparedMessage, a: Applied): IngestResult {
    if (a.duplicate) {
      this.stats.duplicates++;
      return {
        frames: framesOf(a.ack, p.charset),
        code: a.code as OriginalAckCode,
        duplicate: true,
        id: a.id,
      };
    }
    this.stats.stored++;
    return { frames: p.frames, code: p.row.ack_code as OriginalAckCode, duplicate: false, id: a.id };
  }

  /**
   * Duplicates: of a stored message (answered from the store), or of an earlier item in the same
   * batch (answered like it once it is stored). `fresh` are the items to store, in order.
   */
  async #classify(
    trx: Transaction<Database> | null,
    items: readonly PreparedMessage[],
    lookUp = true,
  ): Promise<Classified> {
    const out: Array<Applied | undefined> = new Array(items.length);
    const keys: string[] = [];
    if (lookUp) for (const p of items) if (p.row.dedup_key) keys.push(p.row.dedup_key);
    const stored = keys.length > 0 ? await this.#ops.findStored(trx, keys) : new Map<string, StoredAck>();
    const firstInBatch = new Map<string, number>();
    const fresh: number[] = [];
    const dupOfBatch: Array<[number, number]> = [];
    for (let i = 0; i < items.length; i++) {
      const key = items[i]!.row.dedup_key;
      if (key) {
        const s = stored.get(key);
        if (s) {
          out[i] = { ...s, duplicate: true };
          continue;
        }
        const first = firstInBatch.get(key);
        if (first !== undefined) {
          dupOfBatch.push([i, first]);
          continue;
        }
        firstInBatch.set(key, i);
      }
      fresh.push(i);
    }
    return { out, fresh, dupOfBatch };
  }

  /**
   * SQLite with the writer thread. Look-ups run here on the main connection; the writes (message
   * rows, then the observations of those that were new) go to the writer thread as one
   * transaction, which this thread does not wait on: with `pipeline: 2` the next batch is parsed
   * and prepared while this one commits. A batch that must change the patient registry (an ADT, or
   * a result for an MRN not seen yet) runs as before, in a transaction on the main connection,
   * after every writer batch before it and before any after it, so the order of effects holds.
   */
  async #commitOnWriter(writer: SqliteWriter, items: readonly PreparedMessage[]): Promise<Applied[]> {
    return this.#inTurn(items, async () => {
      // No look-up of stored keys: the insert refuses a stored key (ON CONFLICT DO NOTHING, and
      // the thread leaves out that message's observations), and only then is its ACK read. Per
      // message, the look-up on this connection (whose page cache every writer commit empties)
      // cost more than the rare duplicate's second step.
      const { out, fresh, dupOfBatch } = await this.#classify(null, items, false);
      const mrns: string[] = [];
      let registry = false;
      for (const i of fresh) {
        const w = items[i]!.work;
        if (w?.kind === 'oru') mrns.push(w.mrn);
        else if (w?.kind === 'adt') registry = true;
      }
      const known = mrns.length > 0 ? await this.#ops.findPatients(null, mrns) : new Map<string, string>();
      if (registry || mrns.some((m) => !known.has(m))) return 'registry';
      // The thread keeps writes in the order they are sent, so the next batch may go once this
      // one is sent.
      const started = this.#sendToWriter(writer, items, fresh, known).then(async (written) => {
        const ids = written.rowids[0] ?? [];
        const lost: string[] = [];
        for (let k = 0; k < fresh.length; k++) {
          const i = fresh[k]!;
          const id = ids[k] ?? -1;
          const row = items[i]!.row;
          if (id === -1) lost.push(row.dedup_key!);
          else out[i] = { id, ack: row.ack, code: row.ack_code, duplicate: false };
        }
        // Stored before (or by a batch still in flight): answered as it was then.
        if (lost.length > 0) await this.#answerLost(null, items, fresh, out, lost);
        return answerBatchDuplicates(out, dupOfBatch);
      });
      return { started };
    });
  }

  /**
   * PostgreSQL, two batches in flight. With one, the event loop sat idle 56 % of the time waiting
   * for each batch's round trips and commit (CPU profile of `npm run bench -- hl7 postgres`). Two
   * batches of results for patients already registered only insert rows, so they may commit in
   * either order: a message sent again while its first copy is still in flight waits at the
   * unique key for that commit, then finds it stored (`#answerLost`). A batch that changes the
   * registry (an ADT, or a result for an MRN not registered yet: looked up before its
   * transaction, after every earlier registry batch has committed) runs alone, after every batch
   * before it and before any after it, so registry changes apply in arrival order, as on SQLite.
   */
  async #commitOnPg(items: readonly PreparedMessage[]): Promise<Applied[]> {
    return this.#inTurn(items, async () => {
      if (items.some((p) => p.work?.kind === 'adt')) return 'registry';
      const mrns = items.flatMap((p) => (p.work?.kind === 'oru' ? [p.work.mrn] : []));
      const known = mrns.length > 0 ? await this.#ops.findPatients(null, mrns) : new Map<string, string>();
      if (mrns.some((m) => !known.has(m))) return 'registry';
      // Patients are never removed by this path, so the ids just read still hold; and a stored
      // key is found by the insert's ON CONFLICT: two round trips fewer than #apply's look-ups.
      return { started: this.#deps.store.db.transaction().execute((trx) => this.#apply(trx, items, known)) };
    });
  }

  /**
   * One batch in its turn. Batches take turns in the order they start (`#handoff` is taken before
   * the first await, so a batch that starts while this one waits still comes after it). `decide`
   * runs once every earlier batch has handed over. It answers 'registry': the batch then runs
   * alone, in a main-connection transaction, after every batch still in flight and before any
   * later one. Or it starts work that may run beside later batches (a writer-thread request, a
   * PostgreSQL transaction of plain results; wrapped, so that awaiting `decide` does not wait for
   * it), and the next batch may go. No look-up runs beside an open registry transaction, so none
   * sees uncommitted rows.
   */
  async #inTurn(
    items: readonly PreparedMessage[],
    decide: () => Promise<'registry' | { started: Promise<Applied[]> }>,
  ): Promise<Applied[]> {
    const prior = this.#handoff;
    const turn = Promise.withResolvers<void>();
    this.#handoff = turn.promise;
    let started: Promise<Applied[]> | undefined;
    try {
      await prior;
      const next = await decide();
      if (next === 'registry') {
        await Promise.allSettled(this.#inFlight);
        return await this.#applyInTurn(items);
      }
      started = next.started;
      this.#inFlight.add(started);
      turn.resolve();
      return await started;
    } finally {
      if (started) this.#inFlight.delete(started);
      turn.resolve();
    }
  }

  /**
   * A registry batch in one transaction, in its turn. If it fails, each message is applied alone,
   * in order, still in this turn, and a message that fails alone is answered by `receive` as a
   * failure. Leaving the retry to the GroupCommitter would run it after the batches behind this
   * one, and an admit retried after a later one would undo it.
   */
  async #applyInTurn(items: readonly PreparedMessage[]): Promise<Applied[]> {
    const db = this.#deps.store.db;
    try {
      return await db.transaction().execute((trx) => this.#apply(trx, items));
    } catch (err) {
      if (items.length === 1) throw err;
    }
    const out: Applied[] = [];
    for (const item of items) {
      try {
        out.push((await db.transaction().execute((trx) => this.#apply(trx, [item])))[0]!);
      } catch (failure) {
        out.push({ id: -1, ack: '', code: '', duplicate: false, failure });
      }
    }
    return out;
  }

  /** The message rows and their observations as one writer-thread request. */
  #sendToWriter(
    writer: SqliteWriter,
    items: readonly PreparedMessage[],
    fresh: readonly number[],
    known: ReadonlyMap<string, string>,
  ): Promise<WriteResult> {
    const messageParams: SQLInputValue[] = [];
    const obsParams: SQLInputValue[] = [];
    const parentRows: number[] = [];
    const now = Date.now();
    for (let k = 0; k < fresh.length; k++) {
      const p = items[fresh[k]!]!;
      const w = p.work;
      const patientId = w?.kind === 'oru' ? known.get(w.mrn)! : undefined;
      pushMessageParams(messageParams, patientId === undefined ? p.row : { ...p.row, patient_id: patientId });
      if (w?.kind === 'oru' && w.observations.length > 0) {
        // source_ref is filled in by the writer thread with the message's new rowid.
        pushObservationParams(obsParams, w.observations, patientId!, null, now);
        for (let j = 0; j < w.observations.length; j++) parentRows.push(k);
      }
    }
    const ops: WriteOp[] = [
      { sql: INSERT_MESSAGE_SQL, width: MESSAGE_WIDTH, params: messageParams, rowids: true },
    ];
    // Only with rows: a batch of messages without observations (an AE kept after a failed apply)
    // must not depend on the observations statement at all.
    if (obsParams.length > 0)
      ops.push({
        sql: INSERT_OBSERVATION_SQL,
        width: OBSERVATION_WIDTH,
        params: obsParams,
        parent: { op: 0, rows: parentRows, column: OBSERVATION_SOURCE_REF },
      });
    return writer.write(ops);
  }

  async #answerLost(
    trx: Transaction<Database> | null,
    items: readonly PreparedMessage[],
    fresh: readonly number[],
    out: Array<Applied | undefined>,
    lost: string[],
  ): Promise<void> {
    const again = await this.#ops.findStored(trx, lost);
    for (const i of fresh) {
      if (out[i]) continue;
      const s = again.get(items[i]!.row.dedup_key!);
      if (!s) throw new Error('hl7_messages: insert conflicted but no stored row was found');
      out[i] = { ...s, duplicate: true };
    }
  }

  /**
   * `knownPatients`: the registry ids of every MRN the batch's results name, read just before
   * (PostgreSQL's side-by-side batches). Then neither they nor stored keys are looked up here: a
   * stored key is refused by the insert and answered from the store (`#answerLost`).
   */
  async #apply(
    trx: Transaction<Database>,
    items: readonly PreparedMessage[],
    knownPatients?: ReadonlyMap<string, string>,
  ): Promise<Applied[]> {
    const ops = this.#ops;
    const { out, fresh, dupOfBatch } = await this.#classify(trx, items, knownPatients === undefined);
    // 2. Patients: registry updates in arrival order; result patients by MRN, created when unknown.
    const patientIds = new Map<number, string>();
    const mrns: string[] = [];
    for (const i of fresh) {
      const w = items[i]!.work;
      if (w?.kind === 'oru') mrns.push(w.mrn);
    }
    const known =
      knownPatients !== undefined
        ? new Map(knownPatients)
        : mrns.length > 0
          ? await ops.findPatients(trx, mrns)
          : new Map<string, string>();
    for (const i of fresh) {
      const w = items[i]!.work;
      if (w?.kind === 'adt') {
        const { id } = await this.#deps.patients.upsertByMrnIn(trx, w.patient);
        known.set(w.patient.mrn, id);
        patientIds.set(i, id);
      } else if (w?.kind === 'oru') {
        let id = known.get(w.mrn);
        if (id === undefined) {
          id = (await this.#deps.patients.upsertByMrnIn(trx, w.newPatient)).id;
          known.set(w.mrn, id);
        }
        patientIds.set(i, id);
      }
    }
    // 3. The raw messages with their ACKs.
    const rows = fresh.map((i) => {
      const row = items[i]!.row;
      const pid = patientIds.get(i);
      return pid === undefined ? row : { ...row, patient_id: pid };
    });
    const ids = rows.length > 0 ? await ops.insertMessages(trx, rows) : [];
    const lost: string[] = [];
    const obs: NewObservation[] = [];
    for (let k = 0; k < fresh.length; k++) {
      const i = fresh[k]!;
      const id = ids[k];
      const p = items[i]!;
      if (id === undefined) {
        // Another node stored the same key between our look-up and insert.
        lost.push(p.row.dedup_key!);
        continue;
      }
      out[i] = { id, ack: p.row.ack, code: p.row.ack_code, duplicate: false };
      const w = p.work;
      if (w?.kind === 'oru') {
        const patientId = patientIds.get(i)!;
        const ref = String(id);
        for (const d of w.observations) obs.push({ ...d, patientId, sourceRef: ref });
      }
    }
    if (lost.length > 0) await this.#answerLost(trx, items, fresh, out, lost);
    // 4. Observations of the stored results.
    if (obs.length > 0) await ops.insertObservations(trx, obs);
    return answerBatchDuplicates(out, dupOfBatch);
  }

  /** Commits everything queued and refuses new messages. */
  async close(): Promise<void> {
    await this.#committer.close();
  }
}

/** Items that repeat an earlier item of their batch are answered as it was, once it is stored. */
function answerBatchDuplicates(
  out: Array<Applied | undefined>,
  dupOfBatch: ReadonlyArray<readonly [number, number]>,
): Applied[] {
  for (const [i, first] of dupOfBatch) out[i] = { ...out[first]!, duplicate: true };
  return out as Applied[];
}

/**
 * Whether the store refused a message's content (the same message would be refused again), as
 * opposed to failing for a reason of its own. SQLite: SQLITE_TOOBIG, SQLITE_CONSTRAINT and
 * SQLITE_MISMATCH, by their text (node:sqlite's `errstr` on the main connection; the writer
 * thread passes it on as the error's `code`); PostgreSQL: SQLSTATE classes 22 (data exception)
 * and 23 (integrity constraint violation).
 */
export function refusedContent(err: unknown): boolean {
  if (typeof err !== 'object' || err === null) return false;
  const e = err as { errstr?: unknown; code?: unknown };
  const text = typeof e.errstr === 'string' ? e.errstr : typeof e.code === 'string' ? e.code : '';
  if (['constraint failed', 'string or blob too big', 'datatype mismatch'].includes(text)) return true;
  return /^2[23][0-9A-Z]{3}$/.test(text);
}

function errText(err: unknown): string {
  return (err instanceof Error ? err.message : String(err)).slice(0, 200);
}
