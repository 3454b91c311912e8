/**
 * Vitals from devices: the telemetry gateway hands every verified, fresh datagram to `ingest`
 * (synchronous, no promise per datagram); samples are written in batches, one row per datagram,
 * with the device's sequence high-water mark in the same transaction.
 *
 * Live delivery does not wait for the disk: the samples accepted in one turn of the event loop are
 * published together as one `vitals` bus message (every accepted datagram is in one; coalescing
 * for browsers is the dashboard's job), and the alarm service sees each sample at once. Vitals are
 * never acknowledged to the device, so nothing is promised before the commit; the stored copy
 * follows within `flushMs`. Large batches matter here: each commit rewrites the index leaf of
 * every patient in it, so the cost per row falls as the batch grows.
 *
 * Hot path, measured (bench/telemetry.ts): on SQLite each batch goes to the writer thread as one
 * flat parameter list (multi-row INSERTs there, committed without fsync); PostgreSQL uses Kysely's
 * multi-row insert, which does not block the event loop.
 *
 * Reads (latest values with their age, a time range downsampled to at most `maxPoints` buckets)
 * pass the access policy and are audited.
 */
import type { SQLInputValue } from 'node:sqlite';
import { type Insertable, sql } from 'kysely';
import type { Logger } from 'pino';
import type { Actor } from '../auth/policy.ts';
import type { Bus } from '../bus/bus.ts';
import type { AccessContext, AccessGate } from '../clinical/access-gate.ts';
import {
  VITAL_SIGNS,
  type VitalKey,
  type VitalValues,
  vitalByCode,
  vitalByKey,
  vitalsByLoinc,
} from '../clinical/vital-signs.ts';
import { badRequest } from '../errors.ts';
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

const KEYS = Object.keys(VITAL_COLUMNS) as VitalKey[];
const INSERT_COLUMNS = [
  'device_id',
  'seq',
  'patient_id',
  'ts',
  'received_at',
  ...KEYS.map((k) => VITAL_COLUMNS[k]),
  'other',
  'flags',
] as const;
const NCOL = INSERT_COLUMNS.length;
const INSERT_SAMPLE = `INSERT INTO vital_samples (${INSERT_COLUMNS.join(', ')}) VALUES (${new Array(NCOL).fill('?').join(', ')})`;
const UPSERT_MARK =
  'INSERT INTO device_sequences (device_id, high_seq, updated_at) VALUES (?, ?, ?) ' +
  // Reordered datagrams may be below the stored mark: never move it back.
  'ON CONFLICT (device_id) DO UPDATE SET high_seq = max(high_seq, excluded.high_seq), updated_at = excluded.updated_at';

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

export interface VitalsOptions {
  /**
   * Longest a sample waits for its batch, ms. Default 500: each commit rewrites the index leaf of
   * every patient in it, so fewer, larger commits write far less (measured: 500 ms stored 3× more
   * than 100 ms at 30,000 datagrams/s on this disk). Live delivery does not wait for it.
   */
  flushMs?: number;
  /** Most samples per transaction. Default 32768. */
  maxBatch?: number;
  /** Samples waiting beyond this are dropped and counted (the store cannot keep up). Default 200,000. */
  maxQueue?: number;
  logger?: Logger | undefined;
  /** Called for each sample of a patient when it is accepted (the alarm service). */
  onSample?: ((patientId: string, values: VitalValues, at: number) => void) | undefined;
}

export interface RangeQuery {
  /** LOINC code, vital key (heartRate) or wire code; all signs when absent. */
  code?: string | undefined;
  from?: number | undefined;
  to?: number | undefined;
  /** Largest number of points per sign; longer ranges are averaged into buckets. Default 500. */
  maxPoints?: number | undefined;
}

export interface VitalPoint {
  /** Bucket start (or the sample time when not downsampled), ms. */
  t: number;
  value: number;
  min: number;
  max: number;
  n: number;
}

export interface VitalSeries {
  key: VitalKey;
  loinc: string;
  display: string;
  unit: string;
  /** Bucket width in ms; 0 when every sample is returned as is. */
  bucketMs: number;
  points: VitalPoint[];
}

export interface LatestVital {
  key: VitalKey;
  loinc: string;
  display: string;
  unit: string;
  value: number;
  at: number;
  ageMs: number;
}

const MAX_RANGE_MS = 31 * 24 * 3600_000;

export class VitalsService {
  readonly #store: Store;
  readonly #bus: Bus;
  readonly #gate: AccessGate;
  readonly #log: Logger | undefined;
  readonly #flushMs: number;
  readonly #maxBatch: number;
  readonly #maxQueue: number;
  onSample: VitalsOptions['onSample'];
  #queue: VitalSample[] = [];
  #live: VitalSample[] = [];
  #liveScheduled = false;
  #timer: NodeJS.Timeout | undefined;
  #inFlight: Promise<void> | undefined;
  #closed = false;
  /** Counters for /metrics, tests and the benchmark. */
  readonly stats = { stored: 0, batches: 0, dropped: 0, failed: 0, lastCommitMs: 0, commitMs: 0 };

  constructor(deps: { store: Store; bus: Bus; gate: AccessGate }, opts: VitalsOptions = {}) {
    this.#store = deps.store;
    this.#bus = deps.bus;
    this.#gate = deps.gate;
    this.#log = opts.logger;
    this.#flushMs = opts.flushMs ?? 500;
    this.#maxBatch = opts.maxBatch ?? 32_768;
    this.#maxQueue = opts.maxQueue ?? 200_000;
    this.onSample = opts.onSample;
  }

  get pending(): number {
    return this.#queue.length;
  }

  /** Accepts one verified sample; returns false when it was dropped (overload or shutting down). */
  ingest(s: VitalSample): boolean {
    if (this.#closed || this.#queue.length >= this.#maxQueue) {
      this.stats.dropped++;
      return false;
    }
    // Idempotent; from the first sample on (a CLI run that never ingests needs no thread).
    this.#store.backgroundCheckpoints();
    this.#queue.push(s);
    this.#live.push(s);
    if (!this.#liveScheduled) {
      this.#liveScheduled = true;
      setImmediate(this.#publishLive);
    }
    if (s.patientId !== null) this.onSample?.(s.patientId, s.values, s.ts);
    if (this.#inFlight === undefined) {
      if (this.#queue.length >= this.#maxBatch) this.#flushNow();
      else if (this.#timer === undefined) this.#timer = setTimeout(() => this.#flushNow(), this.#flushMs);
    }
    return true;
  }

  /** One bus message per event-loop turn with every sample accepted in it. */
  readonly #publishLive = (): void => {
    this.#liveScheduled = false;
    const batch = this.#live;
    if (batch.length === 0) return;
    this.#live = [];
    this.#bus
      .publish(
        'vitals',
        {
          samples: batch.map((s) => ({
            deviceId: s.deviceId,
            patientId: s.patientId,
            seq: s.seq,
            ts: s.ts,
            receivedAt: s.receivedAt,
            values: s.values,
          })),
        },
        // Built here, never touched again; `values` is only read from now on (by the insert).
        { owned: true },
      )
      .catch((err: unknown) => this.#log?.warn({ err }, 'publishing vitals failed'));
  };

  #flushNow(): void {
    if (this.#timer !== undefined) {
      clearTimeout(this.#timer);
      this.#timer = undefined;
    }
    if (this.#inFlight !== undefined || this.#queue.length === 0) return;
    const batch = this.#queue.length <= this.#maxBatch ? this.#queue : this.#queue.slice(0, this.#maxBatch);
    this.#queue = batch === this.#queue ? [] : this.#queue.slice(this.#maxBatch);
    this.#inFlight = this.#commit(batch).finally(() => {
      this.#inFlight = undefined;
      // What arrived during the commit is the next batch; under load it is ready at once.
      if (this.#queue.length >= this.#maxBatch || (this.#closed && this.#queue.length > 0)) this.#flushNow();
      else if (this.#queue.length > 0 && this.#timer === undefined)
        this.#timer = setTimeout(() => this.#flushNow(), this.#flushMs);
    });
  }

  async #commit(batch: VitalSample[]): Promise<void> {
    const t0 = performance.now();
    const high = new Map<string, number>();
    for (const s of batch) {
      const h = high.get(s.deviceId);
      if (h === undefined || s.seq > h) high.set(s.deviceId, s.seq);
    }
    try {
      const writer = this.#store.writer();
      if (writer) await this.#commitSqlite(writer, batch, high);
      else {
        await this.#store.db.transaction().execute(async (trx) => {
          const rows = batch.map(toRow);
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
    } catch (err) {
      this.stats.failed += batch.length;
      this.#log?.error({ err, samples: batch.length }, 'storing vital samples failed');
      return;
    }
    this.stats.stored += batch.length;
    this.stats.batches++;
    this.stats.lastCommitMs = performance.now() - t0;
    this.stats.commitMs += this.stats.lastCommitMs;
  }

  /**
   * The SQLite batch goes to the writer thread (store.writer()): the inserts and the commit cost
   * the event loop nothing but the copy of the parameters (measured: they were 9 % of the main
   * thread at 37,000 datagrams/s, in stalls of tens of ms that overflowed the UDP buffer). Committed
   * without fsync: vitals are never acknowledged to anyone, so nothing is promised before the
   * commit; a process crash loses nothing (the WAL is in the OS cache) and the next fsynced commit
   * (an alarm, an audit entry) or checkpoint makes them durable against power loss too.
   */
  async #commitSqlite(
    writer: SqliteWriter,
    batch: readonly VitalSample[],
    high: ReadonlyMap<string, number>,
  ): Promise<void> {
    const marks: SQLInputValue[] = [];
    const now = Date.now();
    for (const [deviceId, seq] of high) marks.push(deviceId, seq, now);
    await writer.write(
      [
        { sql: INSERT_SAMPLE, width: NCOL, params: sampleParams(batch) },
        { sql: UPSERT_MARK, width: 3, params: marks },
      ],
      { fsync: false },
    );
  }

  /** Commits everything accepted so far. */
  async flush(): Promise<void> {
    while (this.#queue.length > 0 || this.#inFlight !== undefined) {
      if (this.#inFlight === undefined) this.#flushNow();
      await this.#inFlight;
    }
  }

  async close(): Promise<void> {
    this.#closed = true;
    await this.flush();
  }

  /** Each sign's most recent value for a patient, with its age. */
  async latest(
    actor: Actor,
    patientId: string,
    ctx: AccessContext,
  ): Promise<{ now: number; values: LatestVital[] }> {
    const decision = await this.#gate.check(actor, 'clinical:read', { type: 'patient', patientId }, ctx);
    const now = Date.now();
    const values: LatestVital[] = [];
    for (const key of KEYS) {
      const col = VITAL_COLUMNS[key];
      const row = await this.#store.db
        .selectFrom('vital_samples')
        .select(['ts', col])
        .where('patient_id', '=', patientId)
        .where(col, 'is not', null)
        .orderBy('ts', 'desc')
        .limit(1)
        .executeTakeFirst();
      if (!row) continue;
      const sign = vitalByKey(key);
      const at = Number(row.ts);
      values.push({
        key,
        loinc: sign.loinc,
        display: sign.display,
        unit: sign.ucum,
        value: Number((row as Record<string, unknown>)[col]),
        at,
        ageMs: Math.max(0, now - at),
      });
    }
    await this.#gate.record(actor, 'clinical:read', decision, ctx, {
      type: 'vitals.latest',
      patientId,
      entity: { type: 'Patient', id: patientId },
      detail: { count: values.length },
    });
    return { now, values };
  }

  /** A patient's vitals over a time range, one series per sign, downsampled for long ranges. */
  async range(actor: Actor, patientId: string, q: RangeQuery, ctx: AccessContext): Promise<VitalSeries[]> {
    const keys = q.code === undefined ? KEYS : [keyFor(q.code)];
    const to = q.to ?? Date.now();
    const from = q.from ?? to - 3600_000;
    if (!(from <= to)) throw badRequest('from must not be after to');
    if (to - from > MAX_RANGE_MS) throw badRequest('a range may span at most 31 days');
    const maxPoints = q.maxPoints ?? 500;
    if (!Number.isInteger(maxPoints) || maxPoints < 1 || maxPoints > 10_000)
      throw badRequest('maxPoints must be 1 to 10000');
    const decision = await this.#gate.check(actor, 'clinical:read', { type: 'patient', patientId }, ctx);
    const db = this.#store.db;
    const out: VitalSeries[] = [];
    for (const key of keys) {
      const col = VITAL_COLUMNS[key];
      const count = await db
        .selectFrom('vital_samples')
        .select((eb) => eb.fn.count<number>(col).as('n'))
        .where('patient_id', '=', patientId)
        .where('ts', '>=', from)
        .where('ts', '<=', to)
        .executeTakeFirstOrThrow();
      const n = Number(count.n);
      let points: VitalPoint[];
      let bucketMs = 0;
      if (n <= maxPoints) {
        const rows = await db
          .selectFrom('vital_samples')
          .select(['ts', col])
          .where('patient_id', '=', patientId)
          .where('ts', '>=', from)
          .where('ts', '<=', to)
          .where(col, 'is not', null)
          .orderBy('ts')
          .execute();
        points = rows.map((r) => {
          const v = Number((r as Record<string, unknown>)[col]);
          return { t: Number(r.ts), value: v, min: v, max: v, n: 1 };
        });
      } else {
        bucketMs = Math.max(1, Math.ceil((to - from + 1) / maxPoints));
        const c = sql.ref(col);
        // The cast: node:sqlite binds JS numbers as REAL, which would make the division fractional.
        const bucket = sql<number>`cast(((ts - ${from}) / ${bucketMs}) as integer)`;
        const rows = await db
          .selectFrom('vital_samples')
          .select([
            bucket.as('b'),
            sql<number>`avg(${c})`.as('avg'),
            sql<number>`min(${c})`.as('min'),
            sql<number>`max(${c})`.as('max'),
            sql<number>`count(${c})`.as('n'),
          ])
          .where('patient_id', '=', patientId)
          .where('ts', '>=', from)
          .where('ts', '<=', to)
          .where(col, 'is not', null)
          .groupBy(sql`1`)
          .orderBy(sql`1`)
          .execute();
        points = rows.map((r) => ({
          t: from + Math.floor(Number(r.b)) * bucketMs,
          value: Number(r.avg),
          min: Number(r.min),
          max: Number(r.max),
          n: Number(r.n),
        }));
      }
      const sign = vitalByKey(key);
      out.push({ key, loinc: sign.loinc, display: sign.display, unit: sign.ucum, bucketMs, points });
    }
    await this.#gate.record(actor, 'clinical:read', decision, ctx, {
      type: 'vitals.read',
      patientId,
      entity: { type: 'Patient', id: patientId },
      detail: { code: q.code ?? '*', from, to, points: out.reduce((a, s) => a + s.points.length, 0) },
    });
    return out;
  }
}

/**
 * One flat parameter list, rows in (patient, ts) order: consecutive rows then land in the same
 * leaf of the (patient, ts) index, the largest insert cost (random order touched a different leaf
 * for almost every row).
 */
function sampleParams(unsorted: readonly VitalSample[]): SQLInputValue[] {
  const batch = [...unsorted].sort(byPatientTime);
  const p: SQLInputValue[] = new Array(batch.length * NCOL);
  let o = 0;
  for (const s of batch) {
    const v = s.values;
    p[o++] = s.deviceId;
    p[o++] = s.seq;
    p[o++] = s.patientId;
    p[o++] = s.ts;
    p[o++] = s.receivedAt;
    p[o++] = v.heartRate ?? null;
    p[o++] = v.pulseRate ?? null;
    p[o++] = v.respiratoryRate ?? null;
    p[o++] = v.spo2 ?? null;
    p[o++] = v.temperature ?? null;
    p[o++] = v.systolicBp ?? null;
    p[o++] = v.diastolicBp ?? null;
    p[o++] = s.other === null ? null : JSON.stringify(s.other);
    p[o++] = s.flags;
  }
  return p;
}

function byPatientTime(a: VitalSample, b: VitalSample): number {
  const pa = a.patientId ?? '';
  const pb = b.patientId ?? '';
  return pa < pb ? -1 : pa > pb ? 1 : a.ts - b.ts;
}

function keyFor(code: string): VitalKey {
  if ((KEYS as string[]).includes(code)) return code as VitalKey;
  if (/^\d+$/.test(code)) {
    const sign = vitalByCode(Number(code));
    if (sign) return sign.key;
  }
  const byLoinc = vitalsByLoinc(code);
  if (byLoinc.length > 0) return byLoinc[0]!.key;
  throw badRequest(
    `unknown vital-sign code ${code}; use one of ${VITAL_SIGNS.map((v) => v.loinc).join(', ')}`,
  );
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
