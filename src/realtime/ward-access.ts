/**
 * The ward rule of the access policy, for ward rooms. A ward room carries every patient on the
 * ward, including those admitted later, so it is not the sum of per-patient decisions: it is open
 * to clinicians assigned to the ward (the same `ward_assignments` link through which
 * `AccessPolicy.isOnCareTeam` grants each of the ward's patients). A care-team link to one patient
 * does not open the ward; patients, admins and auditors never watch wards.
 */
import type { Actor, Decision } from '../auth/policy.ts';
import type { Db } from '../store/db.ts';

export async function decideWard(db: Db, actor: Actor, ward: string): Promise<Decision> {
  if (actor.role !== 'clinician') return { allow: false, reason: `${actor.role}s may not watch a ward` };
  const row = await db
    .selectFrom('ward_assignments')
    .select('ward')
    .where('clinician_id', '=', actor.userId)
    .where('ward', '=', ward)
    .executeTakeFirst();
  return row
    ? { allow: true, reason: 'ward assignment', purpose: 'TREAT' }
    : { allow: false, reason: `you are not assigned to ward ${ward}` };
}

/** The wards a clinician is assigned to (none for other roles). */
export async function assignedWards(db: Db, actor: Actor): Promise<string[]> {
  if (actor.role !== 'clinician') return [];
  const rows = await db
    .selectFrom('ward_assignments')
    .select('ward')
    .where('clinician_id', '=', actor.userId)
    .orderBy('ward')
    .execute();
  return rows.map((r) => r.ward);
}
