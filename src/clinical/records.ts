/**
 * Manual records: what patients and clinicians write down themselves — a temperature, a blood
 * pressure, a weight, a note. A change never overwrites: it adds a version that points to the
 * previous one (the table refuses UPDATE and DELETE, and `previous_id` is unique so two edits of
 * the same version cannot both win). Numeric records also land as observations (source
 * `manual`), so charts, NEWS2 and FHIR see them beside device and HL7 values.
 *
 * Access: `clinical:read` / `clinical:write` on the patient (the patient themself, or their care
 * team); a patient may amend only records they wrote. Every read, write and denial is audited.
 */
import { randomUUID } from 'node:crypto';
import type { Selectable } from 'kysely';
import type { Actor } from '../auth/policy.ts';
import { AppError, badRequest, conflict, forbidden, notFound } from '../errors.ts';
import type { Db } from '../store/db.ts';
import type { RecordsTable } from '../store/schema.ts';
import { type AccessContext, type AccessGate, agentOf } from './access-gate.ts';
import type { NewObservation, ObservationService } from './observations.ts';

export const RECORD_KINDS = ['temperature', 'blood-pressure', 'weight', 'note'] as const;
export type RecordKind = (typeof RECORD_KINDS)[number];

export interface RecordInput {
  kind: RecordKind;
  /** temperature (°C) or weight (kg). */
  value?: number | undefined;
  systolic?: number | undefined;
  diastolic?: number | undefined;
  /** note text. */
  text?: string | undefined;
  /** When it was measured, ms (default: now). */
  effectiveAt?: number | undefined;
}

export interface ClinicalRecord {
  /** The record's stable id (its first version's id). */
  id: string;
  versionId: string;
  version: number;
  previousVersionId: string | null;
  patientId: string;
  kind: RecordKind;
  value: number | null;
  systolic: number | null;
  diastolic: number | null;
  unit: string | null;
  text: string | null;
  effectiveAt: string;
  recordedAt: string;
  author: { id: string; role: string; name: string };
}

/** Plausible ranges: values outside are typing mistakes, refused with the range in the message. */
const RANGES = {
  temperature: { min: 25, max: 45, unit: 'Cel' },
  weight: { min: 0.2, max: 500, unit: 'kg' },
  systolic: { min: 40, max: 300, unit: 'mm[Hg]' },
  diastolic: { min: 20, max: 200, unit: 'mm[Hg]' },
} as const;
export const MAX_NOTE = 4000;
const FUTURE_SLACK_MS = 5 * 60_000;

function checkNumber(name: keyof typeof RANGES, v: number | undefined): number {
  const r = RANGES[name];
  if (typeof v !== 'number' || !Number.isFinite(v))
    throw badRequest(`${name} is required (a number in ${r.unit})`);
  if (v < r.min || v > r.max) throw badRequest(`${name} must be ${r.min} to ${r.max} ${r.unit}, got ${v}`);
  return Math.round(v * 100) / 100;
}

type Values = Pick<RecordsTable, 'value_num' | 'value_num2' | 'unit' | 'text'>;

/** Validates an input and returns the columns it fills. */
export function recordValues(input: RecordInput): Values {
  switch (input.kind) {
    case 'temperature':
      return {
        value_num: checkNumber('temperature', input.value),
        value_num2: null,
        unit: 'Cel',
        text: null,
      };
    case 'weight':
      return { value_num: checkNumber('weight', input.value), value_num2: null, unit: 'kg', text: null };
    case 'blood-pressure': {
      const s = checkNumber('systolic', input.systolic);
      const d = checkNumber('diastolic', input.diastolic);
      if (s <= d) throw badRequest(`systolic (${s}) must be above diastolic (${d})`);
      return { value_num: s, value_num2: d, unit: 'mm[Hg]', text: null };
    }
    case 'note': {
      const t = (input.text ?? '').trim();
      if (!t) throw badRequest('a note needs text');
      if (t.length > MAX_NOTE) throw badRequest(`a note is at most ${MAX_NOTE} characters`);
      return { value_num: null, value_num2: null, unit: null, text: t };
    }
    default:
      throw badRequest(`kind must be one of ${RECORD_KINDS.join(', ')}`);
  }
}

/** The observations a record version adds (none for a note). */
export function recordObservations(row: RecordsTable): NewObservation[] {
  const base = {
    patientId: row.patient_id,
    effectiveAt: row.effective_at,
    source: 'manual' as const,
    sourceRef: `record:${row.version_id}`,
    status: row.version > 1 ? 'amended' : 'final',
    category: 'vital-signs',
  };
  switch (row.kind) {
    case 'temperature':
      return [
        { ...base, code: '8310-5', display: 'Body temperature', valueNum: row.value_num!, unit: 'Cel' },
      ];
    case 'weight':
      return [{ ...base, code: '29463-7', display: 'Body weight', valueNum: row.value_num!, unit: 'kg' }];
    case 'blood-pressure':
      return [
        {
          ...base,
          code: '8480-6',
          display: 'Systolic blood pressure',
          valueNum: row.value_num!,
          unit: 'mm[Hg]',
          panel: '85354-9',
        },
        {
          ...base,
          code: '8462-4',
          display: 'Diastolic blood pressure',
          valueNum: row.value_num2!,
          unit: 'mm[Hg]',
          panel: '85354-9',
        },
      ];
    default:
      return [];
  }
}

export function toRecord(r: Selectable<RecordsTable>): ClinicalRecord {
  const bp = r.kind === 'blood-pressure';
  return {
    id: r.record_id,
    versionId: r.version_id,
    version: Number(r.version),
    previousVersionId: r.previous_id,
    patientId: r.patient_id,
    kind: r.kind as RecordKind,
    value: bp || r.value_num === null ? null : Number(r.value_num),
    systolic: bp ? Number(r.value_num) : null,
    diastolic: bp ? Number(r.value_num2) : null,
    unit: r.unit,
    text: r.text,
    effectiveAt: new Date(Number(r.effective_at)).toISOString(),
    recordedAt: new Date(Number(r.created_at)).toISOString(),
    author: { id: r.author_id, role: r.author_role, name: r.author_name },
  };
}

function effectiveAt(input: RecordInput, now: number): number {
  const at = input.effectiveAt ?? now;
  if (!Number.isFinite(at) || at > now + FUTURE_SLACK_MS)
    throw badRequest('effectiveAt must not be in the future');
  return at;
}

function isUniqueViolation(err: unknown): boolean {
  const m = String((err as Error)?.message ?? '');
  return /UNIQUE constraint|duplicate key value/i.test(m);
}

export class RecordService {
  readonly #db: Db;
  readonly #gate: AccessGate;
  readonly #observations: ObservationService;

  constructor(db: Db, gate: AccessGate, observations: ObservationService) {
    this.#db = db;
    this.#gate = gate;
    this.#observations = observations;
  }

  /** The latest version of each of a patient's records, newest measurement first. */
  async list(actor: Actor, patientId: string, ctx: AccessContext, limit = 200): Promise<ClinicalRecord[]> {
    const decision = await this.#gate.check(actor, 'clinical:read', { type: 'patient', patientId }, ctx);
    const rows = await this.#db
      .selectFrom('records')
      .selectAll()
      .where('patient_id', '=', patientId)
      .where((eb) =>
        eb.not(
          eb.exists(
            eb
              .selectFrom('records as newer')
              .select('newer.version_id')
              .whereRef('newer.previous_id', '=', 'records.version_id'),
          ),
        ),
      )
      .orderBy('effective_at', 'desc')
      .orderBy('created_at', 'desc')
      .limit(Math.min(Math.max(1, limit), 1000))
      .execute();
    await this.#gate.record(actor, 'clinical:read', decision, ctx, {
      type: 'record.list',
      patientId,
      entity: { type: 'Record', id: '*' },
      detail: { count: rows.length },
    });
    return rows.map(toRecord);
  }

  async add(
    actor: Actor,
    patientId: string,
    input: RecordInput,
    ctx: AccessContext,
  ): Promise<ClinicalRecord> {
    const decision = await this.#gate.check(actor, 'clinical:write', { type: 'patient', patientId }, ctx);
    const now = Date.now();
    const values = recordValues(input);
    const exists = await this.#db
      .selectFrom('patients')
      .select('id')
      .where('id', '=', patientId)
      .executeTakeFirst();
    if (!exists) throw notFound(`patient ${patientId} not found`);
    const id = randomUUID();
    const row: RecordsTable = {
      version_id: id,
      record_id: id,
      version: 1,
      previous_id: null,
      patient_id: patientId,
      kind: input.kind,
      ...values,
      effective_at: effectiveAt(input, now),
      created_at: now,
      author_id: actor.userId,
      author_role: actor.role,
      author_name: actor.username,
    };
    await this.#insert(row);
    await this.#gate.record(actor, 'clinical:write', decision, ctx, {
      type: 'record.create',
      patientId,
      entity: { type: 'Record', id },
      detail: { kind: input.kind, version: 1 },
    });
    return toRecord(row);
  }

  /** Adds a version after the latest one. `expectVersionId`: refuse (409) if someone changed it since. */
  async amend(
    actor: Actor,
    recordId: string,
    input: Partial<RecordInput> & { expectVersionId?: string | undefined },
    ctx: AccessContext,
  ): Promise<ClinicalRecord> {
    const latest = await this.#latest(recordId);
    if (!latest) {
      // Same answer as a record the actor may not see would get, after the policy said no.
      throw notFound(`record ${recordId} not found`);
    }
    const patientId = latest.patient_id;
    const decision = await this.#gate.check(actor, 'clinical:write', { type: 'patient', patientId }, ctx);
    if (actor.role === 'patient' && latest.author_id !== actor.userId) {
      await this.#gate.audit.append({
        type: 'access.denied',
        action: 'U',
        outcome: 4,
        agent: agentOf(actor),
        source: ctx.source,
        patientId,
        entity: { type: 'Record', id: recordId },
        outcomeDesc: 'patients may amend only records they wrote',
        detail: { requested: 'clinical:write', reason: 'patients may amend only records they wrote' },
      });
      throw forbidden('patients may amend only records they wrote');
    }
    if (input.kind !== undefined && input.kind !== latest.kind)
      throw badRequest(`a ${latest.kind} record cannot become a ${input.kind}: add a new record instead`);
    if (input.expectVersionId !== undefined && input.expectVersionId !== latest.version_id)
      throw conflict(`record ${recordId} changed: its latest version is ${latest.version_id}`);
    const now = Date.now();
    const merged: RecordInput = {
      kind: latest.kind as RecordKind,
      value: input.value ?? (latest.kind === 'blood-pressure' ? undefined : (latest.value_num ?? undefined)),
      systolic: input.systolic ?? (latest.kind === 'blood-pressure' ? Number(latest.value_num) : undefined),
      diastolic:
        input.diastolic ?? (latest.kind === 'blood-pressure' ? Number(latest.value_num2) : undefined),
      text: input.text ?? latest.text ?? undefined,
      effectiveAt: input.effectiveAt ?? Number(latest.effective_at),
    };
    const row: RecordsTable = {
      version_id: randomUUID(),
      record_id: latest.record_id,
      version: Number(latest.version) + 1,
      previous_id: latest.version_id,
      patient_id: patientId,
      kind: latest.kind,
      ...recordValues(merged),
      effective_at: effectiveAt(merged, now),
      created_at: now,
      author_id: actor.userId,
      author_role: actor.role,
      author_name: actor.username,
    };
    await this.#insert(row);
    await this.#gate.record(actor, 'clinical:write', decision, ctx, {
      type: 'record.amend',
      patientId,
      entity: { type: 'Record', id: recordId },
      detail: { kind: row.kind, version: row.version, previousVersionId: row.previous_id },
    });
    return toRecord(row);
  }

  /** Every version of a record, oldest first. */
  async history(actor: Actor, recordId: string, ctx: AccessContext): Promise<ClinicalRecord[]> {
    const rows = await this.#db
      .selectFrom('records')
      .selectAll()
      .where('record_id', '=', recordId)
      .orderBy('version')
      .execute();
    if (rows.length === 0) throw notFound(`record ${recordId} not found`);
    const patientId = rows[0]!.patient_id;
    const decision = await this.#gate.check(actor, 'clinical:read', { type: 'patient', patientId }, ctx);
    await this.#gate.record(actor, 'clinical:read', decision, ctx, {
      type: 'record.history',
      patientId,
      entity: { type: 'Record', id: recordId },
      detail: { versions: rows.length },
    });
    return rows.map(toRecord);
  }

  async #latest(recordId: string): Promise<Selectable<RecordsTable> | undefined> {
    return this.#db
      .selectFrom('records')
      .selectAll()
      .where('record_id', '=', recordId)
      .orderBy('version', 'desc')
      .limit(1)
      .executeTakeFirst();
  }

  async #insert(row: RecordsTable): Promise<void> {
    try {
      await this.#db.transaction().execute(async (trx) => {
        await trx.insertInto('records').values(row).execute();
        await this.#observations.insertIn(trx, recordObservations(row));
      });
    } catch (err) {
      if (err instanceof AppError) throw err;
      if (isUniqueViolation(err))
        throw conflict(
          `record ${row.record_id} was changed by someone else at the same time; reload and retry`,
        );
      throw err;
    }
  }
}
