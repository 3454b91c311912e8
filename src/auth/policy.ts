/**
 * The access policy: the one place that answers "may this actor do this action on this resource".
 * Every gateway (HTTP, FHIR, sockets, CLI) asks it; nothing else decides access. The documented
 * matrix is docs/access-policy.md and test/http/access-matrix.test.ts checks it cell by cell.
 *
 * - patient:   their own record only.
 * - clinician: patients on their care team or in a ward they are assigned to (purpose TREAT);
 *              any other patient only after breaking the glass with a reason (purpose ETREAT,
 *              time-limited, flagged in the audit log).
 * - auditor:   audit data; never clinical values or patient records.
 * - admin:     users, devices, care teams and patient registration (demographics);
 *              no clinical values.
 */
import { randomUUID } from 'node:crypto';
import { type CompiledQuery, sql } from 'kysely';
import { badRequest, notFound } from '../errors.ts';
import type { Db } from '../store/db.ts';
import type { Role } from '../store/schema.ts';

export interface Actor {
  userId: string;
  username: string;
  role: Role;
  /** For patients: their own patient record. */
  patientId?: string | null | undefined;
  sessionId?: string | undefined;
  address?: string | undefined;
}

export type Action =
  /** List the patients the actor may see (demographics: name, bed). */
  | 'patient:list'
  /** Read a patient's record header (demographics, ward, bed). */
  | 'patient:read'
  /** Register or update a patient's demographics. */
  | 'patient:write'
  /** Read clinical values: vitals, observations, alarms, records. */
  | 'clinical:read'
  /** Add clinical values: records, notes. */
  | 'clinical:write'
  /** Import clinical values from another system (FHIR transaction, `fhir push`): write-only, no read. */
  | 'clinical:import'
  | 'alarm:ack'
  | 'audit:read'
  /** Search the HL7 message store (raw messages and ACKs): interface troubleshooting by admins. */
  | 'hl7:read'
  /** "Who accessed my record": the audit entries about one patient (the patient, auditors). */
  | 'access-log:read'
  | 'user:manage'
  | 'device:manage'
  | 'careteam:manage'
  | 'break-glass';

export type Resource = { type: 'patient'; patientId: string } | { type: 'system' };

export type Purpose = 'TREAT' | 'ETREAT' | 'PATRQT' | 'HOPERAT' | 'HSYSADMIN';

export interface Decision {
  allow: boolean;
  /** Why, in words fit for an error message and the audit log. */
  reason: string;
  /** Purpose of use recorded with the access (HL7 v3 PurposeOfUse codes). */
  purpose?: Purpose | undefined;
  /** Access granted only by break-the-glass: flagged for review. */
  breakGlass?: boolean | undefined;
}

const ADMIN_ACTIONS: ReadonlySet<Action> = new Set([
  'user:manage',
  'device:manage',
  'careteam:manage',
  'patient:write',
  'patient:list',
  'patient:read',
  'hl7:read',
  'clinical:import',
]);
const PATIENT_ACTIONS: ReadonlySet<Action> = new Set([
  'patient:list',
  'patient:read',
  'clinical:read',
  'clinical:write',
  'access-log:read',
]);
const CLINICIAN_PATIENT_ACTIONS: ReadonlySet<Action> = new Set([
  'patient:read',
  'clinical:read',
  'clinical:write',
  'alarm:ack',
]);

export const BREAK_GLASS_REASON_MIN = 10;

const allow = (reason: string, purpose?: Purpose, breakGlass?: boolean): Decision => ({
  allow: true,
  reason,
  purpose,
  breakGlass,
});
const deny = (reason: string): Decision => ({ allow: false, reason });

export class AccessPolicy {
  readonly #db: Db;
  readonly #breakGlassTtlMs: number;

  readonly #careTeamQuery: CompiledQuery<unknown>;

  constructor(db: Db, opts: { breakGlassTtlSec: number }) {
    this.#db = db;
    // Parameters in order: clinician, patient (care team); patient, clinician (ward).
    this.#careTeamQuery = db
      .selectFrom('care_team')
      .select('patient_id')
      .where('clinician_id', '=', '?')
      .where('patient_id', '=', '?')
      .unionAll(
        db
          .selectFrom('patients')
          .innerJoin('ward_assignments', 'ward_assignments.ward', 'patients.ward')
          .select('patients.id as patient_id')
          .where('patients.id', '=', '?')
          .where('ward_assignments.clinician_id', '=', '?'),
      )
      .limit(sql.lit(1))
      .compile();
    this.#breakGlassTtlMs = opts.breakGlassTtlSec * 1000;
  }

  async decide(actor: Actor, action: Action, resource: Resource): Promise<Decision> {
    switch (actor.role) {
      case 'admin':
        return ADMIN_ACTIONS.has(action)
          ? allow('administration', 'HSYSADMIN')
          : deny(`admins may not ${action}: no clinical data by default`);
      case 'auditor':
        return action === 'audit:read' || action === 'access-log:read'
          ? allow('audit review', 'HOPERAT')
          : deny(`auditors may not ${action}: audit data only, no clinical values`);
      case 'patient':
        if (!PATIENT_ACTIONS.has(action)) return deny(`patients may not ${action}`);
        if (action === 'patient:list') return allow('own record', 'PATRQT');
        if (resource.type === 'patient' && actor.patientId && resource.patientId === actor.patientId) {
          return allow('own record', 'PATRQT');
        }
        return deny('patients may only see their own record');
      case 'clinician':
        return this.#clinician(actor, action, resource);
    }
  }

  async #clinician(actor: Actor, action: Action, resource: Resource): Promise<Decision> {
    if (action === 'patient:list') return allow('care team', 'TREAT');
    if (action === 'break-glass') return allow('break-the-glass request', 'ETREAT', true);
    if (!CLINICIAN_PATIENT_ACTIONS.has(action) || resource.type !== 'patient') {
      return deny(`clinicians may not ${action}`);
    }
    if (await this.isOnCareTeam(actor.userId, resource.patientId)) return allow('care team', 'TREAT');
    if (await this.#hasBreakGlass(actor.userId, resource.patientId)) {
      return allow('break-the-glass', 'ETREAT', true);
    }
    return deny('patient is not on your care team; break the glass with a reason for emergency access');
  }

  /** Care team link, or assignment to the ward the patient lies on. */
  async isOnCareTeam(clinicianId: string, patientId: string): Promise<boolean> {
    // Asked on every clinical request: one statement, built and compiled once (building it per
    // call cost more than running it; bench/fhir.ts profile).
    const r = await this.#db.executeQuery({
      ...this.#careTeamQuery,
      parameters: [clinicianId, patientId, patientId, clinicianId],
    });
    return r.rows.length > 0;
  }

  async #hasBreakGlass(clinicianId: string, patientId: string): Promise<boolean> {
    const row = await this.#db
      .selectFrom('break_glass')
      .select('id')
      .where('user_id', '=', clinicianId)
      .where('patient_id', '=', patientId)
      .where('expires_at', '>', Date.now())
      .executeTakeFirst();
    return !!row;
  }

  /**
   * Which patients an actor may list: `'all'` for admins (demographics), otherwise explicit ids.
   * Auditors get none.
   */
  async listablePatientIds(actor: Actor): Promise<'all' | string[]> {
    switch (actor.role) {
      case 'admin':
        return 'all';
      case 'auditor':
        return [];
      case 'patient':
        return actor.patientId ? [actor.patientId] : [];
      case 'clinician': {
        const now = Date.now();
        const rows = await this.#db
          .selectFrom('care_team')
          .select('patient_id')
          .where('clinician_id', '=', actor.userId)
          .union(
            this.#db
              .selectFrom('patients')
              .innerJoin('ward_assignments', 'ward_assignments.ward', 'patients.ward')
              .select('patients.id as patient_id')
              .where('ward_assignments.clinician_id', '=', actor.userId),
          )
          .union(
            this.#db
              .selectFrom('break_glass')
              .select('patient_id')
              .where('user_id', '=', actor.userId)
              .where('expires_at', '>', now),
          )
          .execute();
        return rows.map((r) => r.patient_id);
      }
    }
  }

  /** Records a break-the-glass grant. The caller has checked `decide(actor, 'break-glass')`. */
  async grantBreakGlass(
    actor: Actor,
    patientId: string,
    reason: string,
  ): Promise<{ id: string; expiresAt: number }> {
    const why = reason.trim();
    if (why.length < BREAK_GLASS_REASON_MIN) {
      throw badRequest(`break-the-glass needs a reason of at least ${BREAK_GLASS_REASON_MIN} characters`);
    }
    const p = await this.#db
      .selectFrom('patients')
      .select('id')
      .where('id', '=', patientId)
      .executeTakeFirst();
    if (!p) throw notFound(`patient ${patientId} not found`);
    const now = Date.now();
    const grant = { id: randomUUID(), expiresAt: now + this.#breakGlassTtlMs };
    await this.#db
      .insertInto('break_glass')
      .values({
        id: grant.id,
        user_id: actor.userId,
        patient_id: patientId,
        reason: why.slice(0, 1000),
        created_at: now,
        expires_at: grant.expiresAt,
      })
      .execute();
    return grant;
  }
}
