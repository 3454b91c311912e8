/**
 * Writes through the FHIR API: Patient create (optionally conditional on identifier) and update
 * (optionally If-Match), Observation create (optionally conditional on identifier). A transaction
 * Bundle runs all its operations in one database transaction (all or nothing); a batch runs each
 * alone; a plain POST/PUT is a one-operation transaction. Access is decided before the database
 * is touched, and one audit entry per patient written is appended after the commit.
 */
import { randomUUID } from 'node:crypto';
import type { Insertable } from 'kysely';
import type { Actor, Decision } from '../auth/policy.ts';
import type { AccessGate } from '../clinical/access-gate.ts';
import { AppError, conflict, notFound } from '../errors.ts';
import type { Db } from '../store/db.ts';
import type { ObservationsTable, PatientsTable } from '../store/schema.ts';
import { FHIR_SOURCE } from './access.ts';
import { SID } from './constants.ts';
import type { ObsDraft, ParsedObservation } from './observation-map.ts';
import { invalid, multipleMatches, notSupported, preconditionFailed, unprocessable } from './outcome.ts';
import type { PatientFields } from './patient-map.ts';
import {
  insertPatient,
  isUniqueViolation,
  patientById,
  patientByMrn,
  type Trx,
  updatePatient,
} from './patient-store.ts';
import { isFhirId, parseQuery, parseToken, type Token } from './search-params.ts';

export type WriteOp =
  | {
      kind: 'create-patient';
      fields: PatientFields;
      ifNoneExist: Token | undefined;
      fullUrl?: string | undefined;
    }
  | { kind: 'update-patient'; id: string; fields: PatientFields; ifMatch: number | undefined }
  | { kind: 'create-observation'; obs: ParsedObservation; ifNoneExist: Token | undefined };

export interface WriteResult {
  /** 201 created, 200 matched an existing resource (conditional create) or updated. */
  status: 200 | 201;
  resourceType: 'Patient' | 'Observation';
  id: string;
  version: number | undefined;
  patientId: string;
  /** The stored rows, for building the response body. */
  patient?: PatientsTable;
  observationRows?: Insertable<ObservationsTable>[];
}

/** Parses an If-None-Exist query: only `identifier=system|value` is supported. */
export function parseIfNoneExist(raw: string | undefined): Token | undefined {
  if (raw === undefined) return undefined;
  const q = parseQuery(raw.startsWith('?') ? raw.slice(1) : raw, { identifier: {} });
  const t = q.get('identifier')?.[0]?.values[0];
  if (!t) throw notSupported('If-None-Exist supports exactly identifier=system|value');
  const tok = parseToken(t);
  if (!tok.system || !tok.code) throw invalid('If-None-Exist identifier needs system|value');
  return tok;
}

/** Parses an If-Match ETag (`W/"3"` or `"3"`) into a version number. */
export function parseIfMatch(raw: string | undefined): number | undefined {
  if (raw === undefined) return undefined;
  const m = /^(?:W\/)?"(\d{1,9})"$/.exec(raw.trim());
  if (!m) throw invalid(`If-Match must be an ETag such as W/"3", got ${raw}`);
  return Number(m[1]);
}

interface Planned {
  op: WriteOp;
  index: number;
}

/** Access decided up front for a set of operations; `subjects` are resolved patient ids. */
export interface Authorisation {
  patientWrite: Decision | undefined;
  clinical: {
    action: 'clinical:import' | 'clinical:write';
    decisions: Map<string, Decision>;
    system: Decision | undefined;
  };
}

/**
 * Asks the policy for everything the operations need before touching the store (a denial is
 * audited by the gate and answered 403). Observations whose subject is created in the same
 * Bundle need `clinical:import`: a clinician may add values for their patients, not register them.
 */
export async function authorise(
  gate: AccessGate,
  actor: Actor,
  ops: readonly WriteOp[],
): Promise<Authorisation> {
  const auth: Authorisation = {
    patientWrite: undefined,
    clinical: { action: 'clinical:write', decisions: new Map(), system: undefined },
  };
  if (ops.some((o) => o.kind !== 'create-observation')) {
    auth.patientWrite = await gate.check(actor, 'patient:write', { type: 'system' }, FHIR_SOURCE);
  }
  const obs = ops.filter(
    (o): o is Extract<WriteOp, { kind: 'create-observation' }> => o.kind === 'create-observation',
  );
  if (obs.length === 0) return auth;
  if ((await gate.policy.decide(actor, 'clinical:import', { type: 'system' })).allow) {
    auth.clinical.action = 'clinical:import';
    auth.clinical.system = await gate.check(actor, 'clinical:import', { type: 'system' }, FHIR_SOURCE);
    return auth;
  }
  for (const o of obs) {
    const id = directPatientId(o.obs.subject);
    if (id === undefined) {
      // Subject created in this Bundle: only an importer may do that.
      await gate.check(actor, 'clinical:import', { type: 'system' }, FHIR_SOURCE);
      continue;
    }
    if (!auth.clinical.decisions.has(id)) {
      auth.clinical.decisions.set(
        id,
        await gate.check(actor, 'clinical:write', { type: 'patient', patientId: id }, FHIR_SOURCE),
      );
    }
  }
  return auth;
}

/** `Patient/ID` → ID; a bundle-internal reference (urn:uuid:…) → undefined. */
export function directPatientId(ref: string): string | undefined {
  if (ref.startsWith('urn:')) return undefined;
  const m = /^Patient\/([^/]+)$/.exec(ref);
  if (!m || !isFhirId(m[1]!))
    throw unprocessable(
      `Observation.subject.reference "${ref}" must be Patient/<id> or a Bundle entry's fullUrl`,
    );
  return m[1];
}

function identifierKey(t: Token): string {
  return `${t.system}|${t.code}`;
}

async function findObservationByIdentifier(
  trx: Trx,
  t: Token,
): Promise<{ id: string; patient_id: string }[]> {
  const key = identifierKey(t);
  const byIdentifier = await trx
    .selectFrom('observations')
    .select(['id', 'patient_id'])
    .where('identifier', '=', key)
    .execute();
  if (t.system === SID.observation && t.code) {
    const own = await trx
      .selectFrom('observations')
      .select(['id', 'patient_id'])
      .where('id', '=', t.code)
      .where('identifier', 'is', null)
      .execute();
    return [...byIdentifier, ...own];
  }
  return byIdentifier;
}

async function findPatientsByIdentifier(trx: Trx, t: Token): Promise<PatientsTable[]> {
  if (t.system !== SID.mrn) {
    throw notSupported(`conditional create on Patient matches the MRN only (identifier=${SID.mrn}|value)`);
  }
  const p = await patientByMrn(trx, t.code!);
  return p ? [p] : [];
}

/** Runs one operation inside `trx`; `resolve` maps a Bundle fullUrl to the patient id it became. */
async function runOne(
  trx: Trx,
  op: WriteOp,
  resolve: (ref: string) => string | undefined,
  who: string,
): Promise<WriteResult> {
  switch (op.kind) {
    case 'create-patient': {
      if (op.ifNoneExist) {
        const found = await findPatientsByIdentifier(trx, op.ifNoneExist);
        if (found.length > 1) throw multipleMatches('If-None-Exist matched more than one Patient');
        if (found.length === 1) {
          const p = found[0]!;
          return {
            status: 200,
            resourceType: 'Patient',
            id: p.id,
            version: p.version ?? 1,
            patientId: p.id,
            patient: p,
          };
        }
      }
      if (await patientByMrn(trx, op.fields.mrn))
        throw conflict(`a Patient with MRN ${op.fields.mrn} exists (use If-None-Exist to match it)`);
      const p = await insertPatient(trx, op.fields);
      return {
        status: 201,
        resourceType: 'Patient',
        id: p.id,
        version: p.version ?? 1,
        patientId: p.id,
        patient: p,
      };
    }
    case 'update-patient': {
      const cur = await patientById(trx, op.id);
      if (!cur) throw notFound(`Patient/${op.id} not found (update as create is not supported)`);
      if (op.ifMatch !== undefined && op.ifMatch !== (cur.version ?? 1)) {
        throw preconditionFailed(
          `If-Match W/"${op.ifMatch}" does not match the current version W/"${cur.version ?? 1}"`,
        );
      }
      if (op.fields.mrn !== cur.mrn && (await patientByMrn(trx, op.fields.mrn))) {
        throw conflict(`another Patient has MRN ${op.fields.mrn}`);
      }
      const p = await updatePatient(trx, op.id, op.fields);
      return {
        status: 200,
        resourceType: 'Patient',
        id: p.id,
        version: p.version ?? 1,
        patientId: p.id,
        patient: p,
      };
    }
    case 'create-observation': {
      const patientId = directPatientId(op.obs.subject) ?? resolve(op.obs.subject);
      if (!patientId)
        throw unprocessable(`Observation.subject "${op.obs.subject}" is not a fullUrl of this Bundle`);
      if (!(await patientById(trx, patientId)))
        throw notFound(`Observation.subject Patient/${patientId} not found`);
      if (op.ifNoneExist) {
        const found = await findObservationByIdentifier(trx, op.ifNoneExist);
        if (found.length > 1) throw multipleMatches('If-None-Exist matched more than one Observation');
        if (found.length === 1) {
          return {
            status: 200,
            resourceType: 'Observation',
            id: found[0]!.id,
            version: undefined,
            patientId: found[0]!.patient_id,
          };
        }
      }
      const now = Date.now();
      const rows: Insertable<ObservationsTable>[] = op.obs.rows.map((r: ObsDraft) => ({
        ...r,
        id: randomUUID(),
        patient_id: patientId,
        recorded_at: now,
        source: 'fhir',
        source_ref: who,
      }));
      try {
        await trx.insertInto('observations').values(rows).execute();
      } catch (err) {
        if (isUniqueViolation(err))
          throw conflict(`an Observation with identifier ${op.obs.identifier} exists (use If-None-Exist)`);
        throw err;
      }
      return {
        status: 201,
        resourceType: 'Observation',
        id: rows[0]!.id,
        version: undefined,
        patientId,
        observationRows: rows,
      };
    }
  }
}

/** Processing order inside a transaction (FHIR: creates before updates); patients before the observations that point at them. */
function rank(op: WriteOp): number {
  return op.kind === 'create-patient' ? 0 : op.kind === 'update-patient' ? 1 : 2;
}

/**
 * Runs operations atomically: every one succeeds and commits, or the first failure rolls all back
 * and is thrown (with the failing entry's index in the message).
 */
export async function runTransaction(db: Db, ops: readonly WriteOp[], who: string): Promise<WriteResult[]> {
  const planned: Planned[] = ops.map((op, index) => ({ op, index })).sort((a, b) => rank(a.op) - rank(b.op));
  const results: WriteResult[] = new Array(ops.length);
  try {
    await db.transaction().execute(async (trx) => {
      const fullUrls = new Map<string, string>();
      for (const { op, index } of planned) {
        try {
          const r = await runOne(trx, op, (ref) => fullUrls.get(ref), who);
          results[index] = r;
          if (op.kind === 'create-patient' && op.fullUrl) fullUrls.set(op.fullUrl, r.id);
        } catch (err) {
          if (err instanceof AppError && ops.length > 1) {
            throw new AppError(err.status, err.code, `entry ${index}: ${err.message}`, err.headers);
          }
          throw err;
        }
      }
    });
  } catch (err) {
    if (isUniqueViolation(err))
      throw conflict('a concurrent write created the same resource; retry the request');
    throw err;
  }
  return results;
}

/** Appends one audit entry per patient written (after the commit). */
export async function auditWrites(
  gate: AccessGate,
  actor: Actor,
  auth: Authorisation,
  results: readonly WriteResult[],
  interaction: string,
): Promise<void> {
  const byPatient = new Map<
    string,
    { created: number; matched: number; updated: number; kinds: Set<string> }
  >();
  for (const r of results) {
    const e = byPatient.get(r.patientId) ?? { created: 0, matched: 0, updated: 0, kinds: new Set<string>() };
    if (r.status === 201) e.created++;
    else if (
      r.resourceType === 'Patient' &&
      r.patient &&
      r.version !== undefined &&
      r.version > 1 &&
      interaction === 'update'
    )
      e.updated++;
    else e.matched++;
    e.kinds.add(r.resourceType);
    byPatient.set(r.patientId, e);
  }
  for (const [patientId, e] of byPatient) {
    const clinical = e.kinds.has('Observation');
    const action = clinical ? auth.clinical.action : 'patient:write';
    const decision = clinical
      ? (auth.clinical.system ?? auth.clinical.decisions.get(patientId) ?? auth.patientWrite)
      : auth.patientWrite;
    if (!decision) continue;
    await gate.record(actor, action, decision, FHIR_SOURCE, {
      type: `fhir.${interaction}`,
      patientId,
      entity: { type: 'Patient', id: patientId },
      detail: { resources: [...e.kinds], created: e.created, matched: e.matched, updated: e.updated },
    });
  }
}
