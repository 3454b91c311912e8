// The database side of one HL7 ingest batch, per engine. SQLite runs raw prepared statements on
// the node:sqlite handle inside the group commit's Kysely transaction (same connection): the
// profile of the 64-sender benchmark showed Kysely's per-query compilation and the generic driver
// path as the largest cost after parsing. PostgreSQL gets one statement per step for the whole
// batch, its rows as one array per column (`unnest`).

import { randomFillSync } from 'node:crypto';
import type { SQLInputValue, StatementSync } from 'node:sqlite';
import { sql, type Transaction } from 'kysely';
import { LOINC, type NewObservation } from '../clinical/observations.ts';
import type { Store } from '../store/db.ts';
import type { Database } from '../store/schema.ts';
import type { IngestOps, MessageRow, StoredAck } from './ingest.ts';
import type { ObservationDraft } from './interpret.ts';

const MESSAGE_COLUMNS = [
  'dedup_key',
  'control_id',
  'sending_app',
  'sending_facility',
  'message_type',
  'trigger_event',
  'version',
  'received_at',
  'raw',
  'ack',
  'ack_code',
  'patient_id',
  'error',
] as const;

const OBSERVATION_COLUMNS = [
  'id',
  'patient_id',
  'code',
  'code_system',
  'display',
  'mdc_code',
  'value_num',
  'value_text',
  'unit',
  'ref_range',
  'abnormal_flags',
  'status',
  'category',
  'panel',
  'effective_at',
  'recorded_at',
  'source',
  'source_ref',
] as const;

const placeholders = (n: number) => `(${new Array(n).fill('?').join(', ')})`;

/** One message row; a key seen before changes nothing. */
export const INSERT_MESSAGE_SQL =
  `INSERT INTO hl7_messages (${MESSAGE_COLUMNS.join(', ')}) VALUES ${placeholders(MESSAGE_COLUMNS.length)} ` +
  'ON CONFLICT (dedup_key) DO NOTHING';
export const MESSAGE_WIDTH = MESSAGE_COLUMNS.length;
/** One observation row. */
export const INSERT_OBSERVATION_SQL = `INSERT INTO observations (${OBSERVATION_COLUMNS.join(', ')}) VALUES ${placeholders(OBSERVATION_COLUMNS.length)}`;
export const OBSERVATION_WIDTH = OBSERVATION_COLUMNS.length;
/** Parameter index of `source_ref` in an observation row (the message's id). */
export const OBSERVATION_SOURCE_REF = OBSERVATION_COLUMNS.indexOf('source_ref');

/** A message row's parameters, in MESSAGE_COLUMNS order, appended to `out`. */
export function pushMessageParams(out: SQLInputValue[], r: MessageRow): void {
  out.push(
    r.dedup_key ?? null,
    r.control_id,
    r.sending_app,
    r.sending_facility,
    r.message_type,
    r.trigger_event,
    r.version,
    r.received_at,
    r.raw,
    r.ack,
    r.ack_code,
    r.patient_id ?? null,
    r.error ?? null,
  );
}

/**
 * Observation rows' parameters, in OBSERVATION_COLUMNS order (fresh ordered ids), appended to
 * `out`: the drafts of one message, for one patient and source reference. Written field by field
 * from the draft (no row object, no spread per observation: this runs six times per HL7 result on
 * the event loop).
 */
export function pushObservationParams(
  out: SQLInputValue[],
  drafts: readonly ObservationDraft[],
  patientId: string,
  sourceRef: string | null,
  now: number,
): void {
  for (const o of drafts) {
    out.push(
      orderedUuid(now),
      patientId,
      o.code,
      o.codeSystem ?? LOINC,
      o.display ?? null,
      o.mdcCode ?? null,
      o.valueNum ?? null,
      o.valueText ?? null,
      o.unit ?? null,
      o.refRange ?? null,
      o.abnormalFlags ?? null,
      o.status ?? 'final',
      o.category ?? null,
      o.panel ?? null,
      o.effectiveAt,
      now,
      o.source,
      sourceRef,
    );
  }
}

/** `pushObservationParams` for observations that each name their patient and source. */
function pushNewObservations(out: SQLInputValue[], list: readonly NewObservation[], now: number): void {
  for (const o of list) pushObservationParams(out, [o], o.patientId, o.sourceRef ?? null, now);
}

interface SqliteStatements {
  findStored: StatementSync;
  findPatient: StatementSync;
  insertMessage: StatementSync;
  /** Multi-row observation inserts by row count (1..OBS_CHUNK): one native call per chunk. */
  insertObservations: StatementSync[];
}

const OBS_CHUNK = 32;

/**
 * Random bits drawn 4 KiB at a time and turned into hex once: a `randomBytes` call per message was
 * 3.7 % of the HL7 main thread (CPU profile of `npm run bench -- hl7 sqlite --cpu-prof`), and a
 * Buffer, its hex and five slices per id were most of what remained of an id's cost. Ids are not
 * secrets; the bits are the same CSPRNG's.
 */
const RANDOM_POOL = Buffer.allocUnsafe(4096);
let randomHex = '';
let randomAt = 0;

/** `n` random hex digits. */
function randomDigits(n: number): string {
  if (randomAt + n > randomHex.length) {
    randomFillSync(RANDOM_POOL);
    randomHex = RANDOM_POOL.toString('hex');
    randomAt = 0;
  }
  randomAt += n;
  return randomHex.slice(randomAt - n, randomAt);
}

/** The variant digit (binary 10xx) for a random hex digit. */
const VARIANT = '89ab89ab89ab89ab';
let lastMs = -1;
let msHex = '';

/**
 * A time-ordered UUID (version 7 layout: 48-bit milliseconds, then random bits). The `id` column
 * of observations has a unique index; random v4 ids land on a different index page each, so every
 * commit rewrote one page per row into the WAL once the table outgrew the page cache (measured:
 * the insert and commit cost per message grew with the table). Ordered ids append to the index's
 * last pages instead.
 */
export function orderedUuid(now: number): string {
  if (now !== lastMs) {
    if (!Number.isInteger(now) || now < 0 || now > 0xffffffffffff) {
      throw new RangeError(`orderedUuid: ${now} is not a time in milliseconds that fits 48 bits`);
    }
    lastMs = now;
    msHex = now.toString(16).padStart(12, '0');
  }
  const r = randomDigits(19);
  return `${msHex.slice(0, 8)}-${msHex.slice(8)}-7${r.slice(0, 3)}-${VARIANT[Number.parseInt(r[3]!, 16)]}${r.slice(4, 7)}-${r.slice(7)}`;
}

/** Raw prepared statements; valid only inside a transaction the caller holds on the same handle. */
export function createSqliteOps(store: Store): IngestOps {
  const db = store.sqlite;
  if (!db) throw new Error('the SQLite store does not expose its node:sqlite handle');
  let st: SqliteStatements | undefined;
  // Prepared on first use, after the migrations have created the tables.
  const statements = (): SqliteStatements => {
    st ??= {
      findStored: db.prepare('SELECT id, ack, ack_code FROM hl7_messages WHERE dedup_key = ?'),
      findPatient: db.prepare('SELECT id FROM patients WHERE mrn = ?'),
      insertMessage: db.prepare(INSERT_MESSAGE_SQL),
      insertObservations: [],
    };
    return st;
  };
  return {
    async findStored(_trx, keys) {
      const s = statements().findStored;
      const out = new Map<string, StoredAck>();
      for (const k of keys) {
        const r = s.get(k) as { id: number; ack: string; ack_code: string } | undefined;
        if (r) out.set(k, { id: Number(r.id), ack: r.ack, code: r.ack_code });
      }
      return out;
    },
    async findPatients(_trx, mrns) {
      const s = statements().findPatient;
      const out = new Map<string, string>();
      for (const m of mrns) {
        if (out.has(m)) continue;
        const r = s.get(m) as { id: string } | undefined;
        if (r) out.set(m, r.id);
      }
      return out;
    },
    async insertMessages(_trx, rows) {
      const s = statements().insertMessage;
      return rows.map((r) => {
        const params: SQLInputValue[] = [];
        pushMessageParams(params, r);
        const res = s.run(...params);
        return res.changes === 0 ? undefined : Number(res.lastInsertRowid);
      });
    },
    async insertObservations(_trx, list) {
      const st = statements();
      const now = Date.now();
      const row = `(${OBSERVATION_COLUMNS.map(() => '?').join(', ')})`;
      for (let i = 0; i < list.length; i += OBS_CHUNK) {
        const chunk = list.slice(i, i + OBS_CHUNK);
        let stmt = st.insertObservations[chunk.length];
        if (!stmt) {
          stmt = db.prepare(
            `INSERT INTO observations (${OBSERVATION_COLUMNS.join(', ')}) VALUES ${new Array(chunk.length).fill(row).join(', ')}`,
          );
          st.insertObservations[chunk.length] = stmt;
        }
        const params: SQLInputValue[] = [];
        pushNewObservations(params, chunk, now);
        stmt.run(...params);
      }
    },
  };
}

/** PostgreSQL types of the columns, in MESSAGE_COLUMNS / OBSERVATION_COLUMNS order (for unnest). */
const MESSAGE_PG_TYPES = MESSAGE_COLUMNS.map((c) => (c === 'received_at' ? 'int8' : 'text'));
const OBSERVATION_PG_TYPES = OBSERVATION_COLUMNS.map((c) =>
  c === 'value_num' ? 'float8' : c === 'effective_at' || c === 'recorded_at' ? 'int8' : 'text',
);

/** Row-major parameters (`width` per row) as one array per column. */
function byColumn(flat: readonly SQLInputValue[], width: number): SQLInputValue[][] {
  const cols: SQLInputValue[][] = Array.from({ length: width }, () => []);
  for (let i = 0; i < flat.length; i++) cols[i % width]!.push(flat[i]!);
  return cols;
}

/** `unnest($1::t1[], $2::t2[], …)` of column arrays: one parameter per column, whatever the row count. */
function unnest(cols: readonly SQLInputValue[][], types: readonly string[]) {
  return sql`unnest(${sql.join(cols.map((c, i) => sql`${c}::${sql.raw(types[i]!)}[]`))})`;
}

/**
 * PostgreSQL: one statement per step for the whole batch. Rows go in as one array per column
 * (`INSERT … SELECT * FROM unnest(…)`), so a statement's text and parameter count do not grow
 * with the batch: Kysely compiled, and PostgreSQL parsed and planned, a multi-row VALUES list of
 * up to 19 parameters per observation for every batch (the largest cost of the PostgreSQL main
 * thread, `npm run bench -- hl7 postgres --cpu-prof`).
 */
export function createPgOps(store: Store): IngestOps {
  return {
    async findStored(trx, keys) {
      if (!trx) throw new Error('PostgreSQL look-ups run inside the batch transaction');
      const out = new Map<string, StoredAck>();
      const rows = await sql<{ id: number; ack: string; ack_code: string; dedup_key: string }>`
        select id, ack, ack_code, dedup_key from hl7_messages where dedup_key = any(${keys}::text[])`.execute(
        trx,
      );
      for (const r of rows.rows) out.set(r.dedup_key, { id: Number(r.id), ack: r.ack, code: r.ack_code });
      return out;
    },
    async findPatients(trx, mrns) {
      // `trx` null: on the pool, before a batch's transaction (committed rows only).
      const out = new Map<string, string>();
      const rows = await sql<{ id: string; mrn: string }>`
        select id, mrn from patients where mrn = any(${[...new Set(mrns)]}::text[])`.execute(trx ?? store.db);
      for (const r of rows.rows) out.set(r.mrn, r.id);
      return out;
    },
    async insertMessages(trx, rows) {
      // Ids are drawn first so each row's id is known even when RETURNING leaves out a conflicted row.
      const ids = await sql<{ id: number }>`select nextval(pg_get_serial_sequence('hl7_messages', 'id')) as id
        from generate_series(1, ${rows.length})`.execute(trx);
      const flat: SQLInputValue[] = [];
      for (const r of rows) pushMessageParams(flat, r);
      const idList = ids.rows.map((r) => Number(r.id));
      const cols = [idList, ...byColumn(flat, MESSAGE_WIDTH)];
      const res = await sql<{
        id: number;
      }>`insert into hl7_messages (id, ${sql.raw(MESSAGE_COLUMNS.join(', '))})
        select * from ${unnest(cols, ['int8', ...MESSAGE_PG_TYPES])}
        on conflict (dedup_key) do nothing returning id`.execute(trx);
      const inserted = new Set(res.rows.map((r) => Number(r.id)));
      return idList.map((id) => (inserted.has(id) ? id : undefined));
    },
    async insertObservations(trx: Transaction<Database>, list: NewObservation[]) {
      const now = Date.now();
      const flat: SQLInputValue[] = [];
      pushNewObservations(flat, list, now);
      await sql`insert into observations (${sql.raw(OBSERVATION_COLUMNS.join(', '))})
        select * from ${unnest(byColumn(flat, OBSERVATION_WIDTH), OBSERVATION_PG_TYPES)}`.execute(trx);
    },
  };
}
