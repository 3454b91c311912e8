/**
 * Observations: the clinical values every gateway stores (HL7 ORU, devices, manual records) and
 * every reader asks for (REST, FHIR, dashboard). Reads pass the access policy and are audited;
 * trusted writers (gateways inside a group commit) insert through `insertIn` and audit per batch.
 */
import { randomUUID } from 'node:crypto';
import type { Insertable, Kysely, Selectable, Transaction } from 'kysely';
import type { Actor } from '../auth/policy.ts';
import { badRequest } from '../errors.ts';
import type { Db } from '../store/db.ts';
import type { Database, ObservationsTable } from '../store/schema.ts';
import type { AccessContext, AccessGate } from './access-gate.ts';

export interface NewObservation {
  patientId: string;
  code: string;
  codeSystem?: string | undefined;
  display?: string | undefined;
  mdcCode?: string | undefined;
  valueNum?: number | undefined;
  valueText?: string | undefined;
  unit?: string | undefined;
  refRange?: string | undefined;
  abnormalFlags?: string | undefined;
  status?: string | undefined;
  category?: string | undefined;
  panel?: string | undefined;
  effectiveAt: number;
  source: 'hl7' | 'device' | 'manual';
  sourceRef?: string | undefined;
}

export interface Observation
  extends Required<Pick<NewObservation, 'patientId' | 'code' | 'effectiveAt' | 'source'>> {
  id: string;
  seq: number;
  codeSystem: string;
  display: string | null;
  mdcCode: string | null;
  valueNum: number | null;
  valueText: string | null;
  unit: string | null;
  refRange: string | null;
  abnormalFlags: string | null;
  status: string;
  category: string | null;
  panel: string | null;
  recordedAt: number;
  sourceRef: string | null;
}

export interface ObservationQuery {
  code?: string | undefined;
  from?: number | undefined;
  to?: number | undefined;
  limit?: number | undefined;
  /** Newest first (default) or oldest first. */
  order?: 'asc' | 'desc' | undefined;
}

export const LOINC = 'http://loinc.org';
export const MAX_PAGE = 5000;

export function toRow(o: NewObservation, now = Date.now()): Insertable<ObservationsTable> {
  return {
    id: randomUUID(),
    patient_id: o.patientId,
    code: o.code,
    code_system: o.codeSystem ?? LOINC,
    display: o.display ?? null,
    mdc_code: o.mdcCode ?? null,
    value_num: o.valueNum ?? null,
    value_text: o.valueText ?? null,
    unit: o.unit ?? null,
    ref_range: o.refRange ?? null,
    abnormal_flags: o.abnormalFlags ?? null,
    status: o.status ?? 'final',
    category: o.category ?? null,
    panel: o.panel ?? null,
    effective_at: o.effectiveAt,
    recorded_at: now,
    source: o.source,
    source_ref: o.sourceRef ?? null,
  };
}

export function fromRow(r: Selectable<ObservationsTable>): Observation {
  return {
    id: r.id,
    seq: Number(r.seq),
    patientId: r.patient_id,
    code: r.code,
    codeSystem: r.code_system,
    display: r.display,
    mdcCode: r.mdc_code,
    valueNum: r.value_num === null ? null : Number(r.value_num),
    valueText: r.value_text,
    unit: r.unit,
    refRange: r.ref_range,
    abnormalFlags: r.abnormal_flags,
    status: r.status,
    category: r.category,
    panel: r.panel,
    effectiveAt: Number(r.effective_at),
    recordedAt: Number(r.recorded_at),
    source: r.source as Observation['source'],
    sourceRef: r.source_ref,
  };
}

export class ObservationService {
  readonly #db: Db;
  readonly #gate: AccessGate;

  constructor(db: Db, gate: AccessGate) {
    this.#db = db;
    this.#gate = gate;
  }

  /**
   * Inserts inside the caller's transaction (a gateway's group commit). No access check: the
   * gateway authenticated the device or sender and audits the batch itself.
   */
  async insertIn(
    trx: Transaction<Database> | Kysely<Database>,
    list: readonly NewObservation[],
  ): Promise<string[]> {
    if (list.length === 0) return [];
    const now = Date.now();
    const rows = list.map((o) => toRow(o, now));
    // SQLite binds at most 32766 parameters per statement; 19 columns a row keeps chunks well under.
    for (let i = 0; i < rows.length; i += 500) {
      await trx
        .insertInto('observations')
        .values(rows.slice(i, i + 500))
        .execute();
    }
    return rows.map((r) => r.id);
  }

  async list(
    actor: Actor,
    patientId: string,
    q: ObservationQuery,
    ctx: AccessContext,
  ): Promise<Observation[]> {
    const decision = await this.#gate.check(actor, 'clinical:read', { type: 'patient', patientId }, ctx);
    const limit = q.limit ?? 500;
    if (limit < 1 || limit > MAX_PAGE) throw badRequest(`limit must be 1 to ${MAX_PAGE}`);
    let sel = this.#db.selectFrom('observations_searchable').selectAll().where('patient_id', '=', patientId);
    if (q.code) sel = sel.where('code', '=', q.code);
    if (q.from !== undefined) sel = sel.where('effective_at', '>=', q.from);
    if (q.to !== undefined) sel = sel.where('effective_at', '<=', q.to);
    const dir = q.order ?? 'desc';
    const rows = await sel.orderBy('effective_at', dir).orderBy('seq', dir).limit(limit).execute();
    await this.#gate.record(actor, 'clinical:read', decision, ctx, {
      type: 'observation.read',
      patientId,
      entity: { type: 'Observation', id: q.code ?? '*' },
      detail: { count: rows.length, code: q.code, from: q.from, to: q.to },
    });
    return rows.map(fromRow);
  }
}
