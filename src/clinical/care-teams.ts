/** Care-team links and ward assignments: who treats whom. Managed by admins, read by the policy. */
import type { Actor } from '../auth/policy.ts';
import { badRequest, notFound } from '../errors.ts';
import type { Db } from '../store/db.ts';
import type { AccessContext, AccessGate } from './access-gate.ts';

export class CareTeamService {
  readonly #db: Db;
  readonly #gate: AccessGate;

  constructor(db: Db, gate: AccessGate) {
    this.#db = db;
    this.#gate = gate;
  }

  async link(actor: Actor, clinicianId: string, patientId: string, ctx: AccessContext): Promise<void> {
    const decision = await this.#gate.check(actor, 'careteam:manage', { type: 'system' }, ctx);
    await this.linkTrusted(clinicianId, patientId);
    await this.#gate.record(actor, 'careteam:manage', decision, ctx, {
      type: 'careteam.link',
      patientId,
      entity: { type: 'User', id: clinicianId },
    });
  }

  async unlink(actor: Actor, clinicianId: string, patientId: string, ctx: AccessContext): Promise<boolean> {
    const decision = await this.#gate.check(actor, 'careteam:manage', { type: 'system' }, ctx);
    const res = await this.#db
      .deleteFrom('care_team')
      .where('clinician_id', '=', clinicianId)
      .where('patient_id', '=', patientId)
      .executeTakeFirst();
    await this.#gate.record(actor, 'careteam:manage', decision, ctx, {
      type: 'careteam.unlink',
      patientId,
      entity: { type: 'User', id: clinicianId },
    });
    return Number(res.numDeletedRows) > 0;
  }

  /** For trusted callers (demo seeding) that are not acting for a user. */
  async linkTrusted(clinicianId: string, patientId: string): Promise<void> {
    const clinician = await this.#db
      .selectFrom('users')
      .select('role')
      .where('id', '=', clinicianId)
      .executeTakeFirst();
    if (!clinician) throw notFound(`user ${clinicianId} not found`);
    if (clinician.role !== 'clinician') throw badRequest('only clinicians join care teams');
    const patient = await this.#db
      .selectFrom('patients')
      .select('id')
      .where('id', '=', patientId)
      .executeTakeFirst();
    if (!patient) throw notFound(`patient ${patientId} not found`);
    const exists = await this.#db
      .selectFrom('care_team')
      .select('patient_id')
      .where('clinician_id', '=', clinicianId)
      .where('patient_id', '=', patientId)
      .executeTakeFirst();
    if (!exists) {
      await this.#db
        .insertInto('care_team')
        .values({ clinician_id: clinicianId, patient_id: patientId, created_at: Date.now() })
        .execute();
    }
  }

  async assignWard(clinicianId: string, ward: string): Promise<void> {
    const exists = await this.#db
      .selectFrom('ward_assignments')
      .select('ward')
      .where('clinician_id', '=', clinicianId)
      .where('ward', '=', ward)
      .executeTakeFirst();
    if (!exists) {
      await this.#db
        .insertInto('ward_assignments')
        .values({ clinician_id: clinicianId, ward, created_at: Date.now() })
        .execute();
    }
  }
}
