/**
 * How the FHIR API applies the one access policy: every interaction asks the AccessGate (which
 * audits denials), searches are limited in SQL to the patients the actor may see (so totals and
 * pages never count what the actor may not see), each distinct patient in a page is decided again
 * by the policy (break-the-glass access is flagged per patient), and each read or search appends
 * exactly one audit entry naming the patients it returned.
 */
import type { Actor, Decision } from '../auth/policy.ts';
import type { AccessContext, AccessGate } from '../clinical/access-gate.ts';
import { forbidden } from '../errors.ts';

export const FHIR_SOURCE: AccessContext = { source: 'fhir' };

export type PatientScope = { kind: 'all' } | { kind: 'some'; ids: string[] };

/**
 * The patients a search may return. Explicit patients (a `patient=` parameter) are each checked
 * (403 and an audited denial for one outside the actor's reach); otherwise the actor's listable
 * patients, and for clinical data an actor who may list everyone (admin) must also pass
 * `clinical:read` on the system, which the policy refuses.
 */
export async function searchScope(
  gate: AccessGate,
  actor: Actor,
  action: 'clinical:read' | 'patient:read',
  explicit: string[] | undefined,
): Promise<{ scope: PatientScope; decisions: Map<string, Decision>; base: Decision }> {
  const decisions = new Map<string, Decision>();
  if (explicit) {
    let base: Decision | undefined;
    for (const id of explicit) {
      const d = await gate.check(actor, action, { type: 'patient', patientId: id }, FHIR_SOURCE);
      decisions.set(id, d);
      base ??= d;
    }
    return { scope: { kind: 'some', ids: explicit }, decisions, base: base! };
  }
  const base = await gate.check(actor, 'patient:list', { type: 'system' }, FHIR_SOURCE);
  const ids = await gate.policy.listablePatientIds(actor);
  if (ids === 'all') {
    if (action === 'clinical:read') {
      // Throws (and audits) for admins: they may list demographics, not read clinical values.
      await gate.check(actor, 'clinical:read', { type: 'system' }, FHIR_SOURCE);
    }
    return { scope: { kind: 'all' }, decisions, base };
  }
  return { scope: { kind: 'some', ids }, decisions, base };
}

/**
 * Decides each distinct patient of a result page (memoised in `decisions`): the SQL scope already
 * excludes patients the actor may not see, so a refusal here means the policy changed between the
 * two questions (a grant expired); such a page is refused rather than partly shown.
 */
export async function decidePage(
  gate: AccessGate,
  actor: Actor,
  action: 'clinical:read' | 'patient:read',
  patientIds: Iterable<string>,
  decisions: Map<string, Decision>,
): Promise<Decision[]> {
  const out: Decision[] = [];
  for (const id of patientIds) {
    let d = decisions.get(id);
    if (!d) {
      d = await gate.policy.decide(actor, action, { type: 'patient', patientId: id });
      if (!d.allow) throw forbidden(d.reason);
      decisions.set(id, d);
    }
    out.push(d);
  }
  return out;
}

/** One decision standing for a page: flagged when any patient in it was reached by breaking the glass. */
export function combine(base: Decision, page: Decision[]): Decision {
  const bg = page.find((d) => d.breakGlass);
  return bg ?? page[0] ?? base;
}
