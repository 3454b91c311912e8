/**
 * Vitals from devices: the telemetry gateway hands every verified, fresh datagram to `ingest`
 * (synchronous, no promise per datagram); samples are written in batches, one row per datagram,
 * with the device's sequence high-water mark in the same transaction (on SQLite a large batch may
 * commit in pieces, the marks with the first: see vitals-batch.ts).
 *
 * Live delivery does not wait for the disk: the samples accepted in one turn of the event loop are
 * published together as one `vitals` bus message (every accepted datagram is in one; coalescing
 * for browsers is the dashboard's job), and the alarm service sees each sample at once. Vitals are
 * never acknowledged to the device, so nothing is promised before the commit; the stored copy
 * follows within `flushMs`. Large batches matter here: each commit rewrites the index leaf of
 * every patient in it, so the cost per row falls as the batch grows.
 *
 * Hot path, measured (bench/telemetry.ts): batches are built and committed by vitals-batch.ts (on
 * SQLite a Float64Array moved to the writer thread, committed there without fsync; on PostgreSQL
 * Kysely's multi-row insert, which does not block the event loop).
 *
 * Reads (latest values with their age, a time range downsampled to at most `maxPoints` buckets)
 * pass the access policy and are audited.
 */
import { sql } from 'kysely';
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
import {
  type SampleBatch,
  sampleBatchFactory,
  VITAL_COLUMNS,
  VITAL_KEYS,
  type VitalSample,
} from './vitals-batch.ts';

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
  readonly #newBatch: () => SampleBatch;
  /** Full batches waiting for their commit, oldest first, then the one being filled. */
  readonly #full: SampleBatch[] = [];
  #filling: SampleBatch | undefined;
  #pending = 0;
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
    this.#newBatch = sampleBatchFactory(deps.store);
  }

  /** Samples accepted and not yet committed. */
  get pending(): number {
    return this.#pending;
  }

  /** Accepts one verified sample; returns false when it was dropped (overload or shutting down). */
  ingest(s: VitalSample): boolean {
    if (this.#closed || this.#pending >= this.#maxQueue) {
      this.stats.dropped++;
      return false;
    }
    // The first batch starts the SQLite writer thread, and with it the WAL checkpoint thread.
    this.#filling ??= this.#newBatch();
    this.#filling.add(s);
    this.#pending++;
    if (this.#filling.size >= this.#maxBatch) {
      this.#full.push(this.#filling);
      this.#filling = undefined;
    }
    this.#live.push(s);
    if (!this.#liveScheduled) {
      this.#liveScheduled = true;
      setImmediate(this.#publishLive);
    }
    if (s.patientId !== null) this.onSample?.(s.patientId, s.values, s.ts);
    if (this.#inFlight === undefined) {
      if (this.#full.length > 0) this.#flushNow();
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
    if (this.#inFlight !== undefined) return;
    let batch = this.#full.shift();
    if (batch === undefined && this.#filling !== undefined) {
      batch = this.#filling;
      this.#filling = undefined;
    }
    if (batch === undefined) return;
    this.#inFlight = this.#commit(batch).finally(() => {
      this.#inFlight = undefined;
      // What arrived during the commit is the next batch; under load it is ready at once.
      if (this.#full.length > 0 || (this.#closed && this.#pending > 0)) this.#flushNow();
      else if (this.#pending > 0 && this.#timer === undefined)
        this.#timer = setTimeout(() => this.#flushNow(), this.#flushMs);
    });
  }

  async #commit(batch: SampleBatch): Promise<void> {
    const t0 = performance.now();
    const n = batch.size;
    try {
      await batch.commit();
    } catch (err) {
      this.stats.failed += n;
      this.#log?.error({ err, samples: n }, 'storing vital samples failed');
      return;
    } finally {
      this.#pending -= n;
    }
    this.stats.stored += n;
    this.stats.batches++;
    this.stats.lastCommitMs = performance.now() - t0;
    this.stats.commitMs += this.stats.lastCommitMs;
  }

  /** Commits everything accepted so far. */
  async flush(): Promise<void> {
    while (this.#pending > 0 || this.#inFlight !== undefined) {
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
    for (const key of VITAL_KEYS) {
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
    const keys = q.code === undefined ? VITAL_KEYS : [keyFor(q.code)];
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

function keyFor(code: string): VitalKey {
  if ((VITAL_KEYS as string[]).includes(code)) return code as VitalKey;
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
