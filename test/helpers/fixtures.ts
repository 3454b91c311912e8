/** A small world for HTTP tests: one user per role, three patients, one care-team link. */
import type { Services } from '../../src/services.ts';

export const PASSWORD = 'correct horse battery';

export interface World {
  patients: { own: string; team: string; other: string };
  users: { admin: string; clinician: string; patient: string; auditor: string };
}

export async function seedWorld(s: Services): Promise<World> {
  const own = await s.patients.insert({
    mrn: 'T-1',
    givenName: 'Pat',
    familyName: 'Own',
    ward: 'W1',
    bed: '1',
  });
  const team = await s.patients.insert({
    mrn: 'T-2',
    givenName: 'Tea',
    familyName: 'Mate',
    ward: 'W1',
    bed: '2',
  });
  const other = await s.patients.insert({
    mrn: 'T-3',
    givenName: 'Oth',
    familyName: 'Er',
    ward: 'W9',
    bed: '9',
  });
  const admin = await s.users.create({ username: 'admin', password: PASSWORD, role: 'admin' });
  const clinician = await s.users.create({ username: 'clinician', password: PASSWORD, role: 'clinician' });
  const patient = await s.users.create({
    username: 'patient',
    password: PASSWORD,
    role: 'patient',
    patientId: own.id,
  });
  const auditor = await s.users.create({ username: 'auditor', password: PASSWORD, role: 'auditor' });
  // The clinician treats the patient's own record too, so "own patient" for a clinician is a team patient.
  await s.careTeams.linkTrusted(clinician.id, team.id);
  await s.careTeams.linkTrusted(clinician.id, own.id);
  return {
    patients: { own: own.id, team: team.id, other: other.id },
    users: { admin: admin.id, clinician: clinician.id, patient: patient.id, auditor: auditor.id },
  };
}
