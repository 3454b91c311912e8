/**
 * A batch of vital samples on its way to the store, with the devices' sequence marks that commit
 * with it. Two kinds, one per engine:
 *
 * - SQLite (`SqliteSampleBatch`): each sample is written into a Float64Array as it arrives (text
 *   columns as indexes into small per-batch tables), and the whole buffer is *transferred* to the
 *   writer thread, which sorts, inserts and commits. Measured at 50,000 datagrams/s
 *   (bench/telemetry.ts): building a parameter array of ~30,000 rows and copying it to the thread
 *   stalled the event loop 30–45 ms per batch, long enough to overflow the UDP receive buffer, and
 *   the sample objects it held until then survived into the old generation.
 * - PostgreSQL (`PgSampleBatch`): the samples as objects, inserted by Kysely (asynchronous I/O, no
 *   stall to avoid).
 */
import type { SQLInputValue } from 'node:sqlite';
import { type Insertable, sql } from 'kysely';
import type { VitalKey, VitalValues } from '../clinical/vital-signs.ts';
import type { Store } from '../store/db.ts';
import type { VitalSamplesTable } from '../store/schema.ts';
import type { SqliteWriter } from '../store/sqlite-writer.ts';

/** Column of each sign in vital_samples. */
export const VITAL_COLUMNS = {
  heartRate: 'heart_rate',
  pulseRate: 'pulse_rate',
  respiratoryRate: 'resp_rate',
  spo2: 'spo2',
  temperature: 'temperature',
  systolicBp: 'systolic_bp',
  diastolicBp: 'diastolic_bp',
} as const satisfies Record<VitalKey, keyof VitalSamplesTable>;

export const VITAL_KEYS = Object.keys(VITAL_COLUMNS) as VitalKey[];

export interface VitalSample {
  readonly deviceId: string;
  readonly seq: number;
  readonly patientId: string | null;
  /** Device timestamp, ms. */
  readonly ts: number;
  readonly receivedAt: number;
  readonly values: VitalValues;
  /** Codes this build does not know: kept, as JSON, not lost. */
  readonly other: Readonly<Record<string, number>> | null;
  readonly flags: number;
}

export interface SampleBatch {
  readonly size: number;
  add(s: VitalSample): void;
  /** Stores every sample and the devices' sequence marks in one transaction. Call once. */
  commit(): Promise<void>;
}

export function sampleBatchFactory(store: Store): () => SampleBatch {
  return () => {
    const writer = store.writer();
    return writer ? new SqliteSampleBatch(writer) : new PgSampleBatch(store);
  };
}

// Column order of the INSERT; SqliteSampleBatch.add writes a row in exactly this order.
const COLUMNS = [
  'device_id',
  'seq',
  'patient_id',
  'ts',
  'received_at',
  ...VITAL_KEYS.map((k) => VITAL_COLUMNS[k]),
  'other',
  'flags',
] as const;
const WIDTH = COLUMNS.length;
const COL_DEVICE = 0;
const COL_PATIENT = 2;
const COL_TS = 3;
const COL_OTHER = COLUMNS.indexOf('other');
const INSERT_SAMPLE = `INSERT INTO vital_samples (${COLUMNS.join(', ')}) VALUES (${new Array(WIDTH).fill('?').join(', ')})`;
const UPSERT_MARK_SQLITE =
  'INSERT INTO device_sequences (device_id, high_seq, updated_at) VALUES (?, ?, ?) ' +
  // Reordered datagrams may be below the stored mark: never move it back.
  'ON CONFLICT (device_id) DO UPDATE SET high_seq = max(high_seq, excluded.high_seq), updated_at = excluded.updated_at';

/** Strings of one text column, each stored once per batch; a row holds its index. */
class TextTable {
  readonly strings: string[] = [];
  readonly #index = new Map<string, number>();
  indexOf(s: string): number {
    let i = this.#index.get(s);
    if (i === undefined) {
      i = this.strings.length;
      this.strings.push(s);
      this.#index.set(s, i);
    }
    return i;
  }
}

export class SqliteSampleBatch implements SampleBatch {
  readonly #writer: SqliteWriter;
  #rows = new Float64Array(256 * WIDTH);
  #size = 0;
  readonly #devices = new TextTable();
  /** Highest sequence number per device index. */
  readonly #high: number[] = [];
  readonly #patients = new TextTable();
  readonly #others: string[] = [];

  constructor(writer: SqliteWriter) {
    this.#writer = writer;
  }

  get size(): number {
    return this.#size;
  }

  add(s: VitalSample): void {
    if ((this.#size + 1) * WIDTH > this.#rows.length) {
      const grown = new Float64Array(this.#rows.length * 2);
      grown.set(this.#rows);
      this.#rows = grown;
    }
    const r = this.#rows;
    let o = this.#size * WIDTH;
    const device = this.#devices.indexOf(s.deviceId);
    const high = this.#high[device];
    if (high === undefined || s.seq > high) this.#high[device] = s.seq;
    const v = s.values;
    r[o++] = device;
    r[o++] = s.seq;
    r[o++] = s.patientId === null ? Number.NaN : this.#patients.indexOf(s.patientId);
    r[o++] = s.ts;
    r[o++] = s.receivedAt;
    r[o++] = v.heartRate ?? Number.NaN;
    r[o++] = v.pulseRate ?? Number.NaN;
    r[o++] = v.respiratoryRate ?? Number.NaN;
    r[o++] = v.spo2 ?? Number.NaN;
    r[o++] = v.temperature ?? Number.NaN;
    r[o++] = v.systolicBp ?? Number.NaN;
    r[o++] = v.diastolicBp ?? Number.NaN;
    r[o++] = s.other === null ? Number.NaN : this.#others.push(JSON.stringify(s.other)) - 1;
    r[o++] = s.flags;
    this.#size++;
  }

  /**
   * Committed without fsync: vitals are never acknowledged to anyone, so nothing is promised
   * before the commit; a process crash loses nothing (the WAL is in the OS cache) and the next
   * fsynced commit (an alarm, an audit entry) or checkpoint makes them durable on disk too.
   */
  async commit(): Promise<void> {
    const marks: SQLInputValue[] = [];
    const now = Date.now();
    const ids = this.#devices.strings;
    for (let i = 0; i < ids.length; i++) marks.push(ids[i]!, this.#high[i]!, now);
    await this.#writer.write(
      [
        // The marks first: the writer thread may commit a large batch in pieces (so that durable
        // writes need not wait for all of it), and the marks then commit with the first piece. A
        // crash between pieces loses samples, never lets a replayed datagram be stored twice.
        { sql: UPSERT_MARK_SQLITE, width: 3, params: marks },
        {
          sql: INSERT_SAMPLE,
          width: WIDTH,
          rows: this.#size,
          values: this.#rows,
          text: [
            { column: COL_DEVICE, table: this.#devices.strings },
            { column: COL_PATIENT, table: this.#patients.strings },
            { column: COL_OTHER, table: this.#others },
          ],
          // In (patient, ts) order consecutive rows land in the same leaf of the (patient, ts)
          // index, the largest insert cost (arrival order touched a different leaf almost every row).
          orderBy: [COL_PATIENT, COL_TS],
        },
      ],
      { fsync: false },
    );
  }
}

export class PgSampleBatch implements SampleBatch {
  readonly #store: Store;
  readonly #samples: VitalSample[] = [];

  constructor(store: Store) {
    this.#store = store;
  }

  get size(): number {
    return this.#samples.length;
  }

  add(s: VitalSample): void {
    this.#samples.push(s);
  }

  async commit(): Promise<void> {
    const high = new Map<string, number>();
    for (const s of this.#samples) {
      const h = high.get(s.deviceId);
      if (h === undefined || s.seq > h) high.set(s.deviceId, s.seq);
    }
    await this.#store.db.transaction().execute(async (trx) => {
      const rows = this.#samples.map(toRow);
      for (let i = 0; i < rows.length; i += 2000) {
        await trx
          .insertInto('vital_samples')
          .values(rows.slice(i, i + 2000))
          .execute();
      }
      const now = Date.now();
      const marks = [...high].map(([device_id, high_seq]) => ({ device_id, high_seq, updated_at: now }));
      for (let i = 0; i < marks.length; i += 2000) {
        await trx
          .insertInto('device_sequences')
          .values(marks.slice(i, i + 2000))
          .onConflict((oc) =>
            oc.column('device_id').doUpdateSet({
              // Reordered datagrams may be below the stored mark: never move it back.
              high_seq: sql`greatest(device_sequences.high_seq, excluded.high_seq)`,
              updated_at: (eb) => eb.ref('excluded.updated_at'),
            }),
          )
          .execute();
      }
    });
  }
}

function toRow(s: VitalSample): Insertable<VitalSamplesTable> {
  const v = s.values;
  return {
    device_id: s.deviceId,
    seq: s.seq,
    patient_id: s.patientId,
    ts: s.ts,
    received_at: s.receivedAt,
    heart_rate: v.heartRate ?? null,
    pulse_rate: v.pulseRate ?? null,
    resp_rate: v.respiratoryRate ?? null,
    spo2: v.spo2 ?? null,
    temperature: v.temperature ?? null,
    systolic_bp: v.systolicBp ?? null,
    diastolic_bp: v.diastolicBp ?? null,
    other: s.other === null ? null : JSON.stringify(s.other),
    flags: s.flags,
  };
}
