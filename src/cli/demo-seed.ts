/**
 * Demo data for `carewire demo`: a small ward with patients, and one account per role with a
 * random password. Passwords are printed at start and kept in DATA/demo-accounts.json (mode 0600)
 * so a restart shows the same ones; nothing secret is ever in the repository.
 */
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { Services } from '../services.ts';
import type { Role } from '../store/schema.ts';

export interface DemoAccount {
  username: string;
  password: string;
  role: Role;
  displayName: string;
}

const PATIENTS = [
  {
    mrn: 'MRN-1001',
    givenName: 'Ada',
    familyName: 'Lovelace',
    sex: 'female',
    birthDate: '1952-12-10',
    ward: 'ICU-A',
    bed: 'A1',
  },
  {
    mrn: 'MRN-1002',
    givenName: 'Alan',
    familyName: 'Turing',
    sex: 'male',
    birthDate: '1954-06-23',
    ward: 'ICU-A',
    bed: 'A2',
  },
  {
    mrn: 'MRN-1003',
    givenName: 'Grace',
    familyName: 'Hopper',
    sex: 'female',
    birthDate: '1946-12-09',
    ward: 'ICU-A',
    bed: 'A3',
  },
  {
    mrn: 'MRN-1004',
    givenName: 'Edsger',
    familyName: 'Dijkstra',
    sex: 'male',
    birthDate: '1950-05-11',
    ward: 'ICU-A',
    bed: 'A4',
  },
  {
    mrn: 'MRN-1005',
    givenName: 'Barbara',
    familyName: 'Liskov',
    sex: 'female',
    birthDate: '1959-11-07',
    ward: 'ICU-A',
    bed: 'A5',
  },
  {
    mrn: 'MRN-1006',
    givenName: 'Donald',
    familyName: 'Knuth',
    sex: 'male',
    birthDate: '1958-01-10',
    ward: 'ICU-A',
    bed: 'A6',
  },
  {
    mrn: 'MRN-2001',
    givenName: 'Margaret',
    familyName: 'Hamilton',
    sex: 'female',
    birthDate: '1961-08-17',
    ward: 'WARD-B',
    bed: 'B1',
  },
  {
    mrn: 'MRN-2002',
    givenName: 'John',
    familyName: 'McCarthy',
    sex: 'male',
    birthDate: '1947-09-04',
    ward: 'WARD-B',
    bed: 'B2',
  },
];

export function demoAccountsFile(dataDir: string): string {
  return path.join(dataDir, 'demo-accounts.json');
}

const randomPassword = () => randomBytes(12).toString('base64url');

/** Seeds on an empty store; on a seeded one returns the accounts saved at first start. */
export async function seedDemo(services: Services, dataDir: string): Promise<DemoAccount[]> {
  const file = demoAccountsFile(dataDir);
  if (await services.users.findByUsername('admin')) {
    return existsSync(file) ? (JSON.parse(readFileSync(file, 'utf8')) as DemoAccount[]) : [];
  }
  const patients = [];
  for (const p of PATIENTS) {
    patients.push(
      (await services.store.db.selectFrom('patients').selectAll().where('mrn', '=', p.mrn).executeTakeFirst())
        ? undefined
        : await services.patients.insert(p),
    );
  }
  const first = patients[0];
  const accounts: DemoAccount[] = [
    { username: 'admin', role: 'admin', displayName: 'Ward Administrator', password: randomPassword() },
    {
      username: 'clinician',
      role: 'clinician',
      displayName: 'Dr. Jane Doe (ICU-A)',
      password: randomPassword(),
    },
    {
      username: 'nurse-b',
      role: 'clinician',
      displayName: 'Nurse Sam Roe (WARD-B)',
      password: randomPassword(),
    },
    { username: 'patient', role: 'patient', displayName: 'Ada Lovelace', password: randomPassword() },
    { username: 'auditor', role: 'auditor', displayName: 'Compliance Auditor', password: randomPassword() },
  ];
  // Written before the accounts exist so a crash between the two never leaves accounts nobody can log in to.
  writeFileSync(file, `${JSON.stringify(accounts, null, 2)}\n`, { mode: 0o600 });
  const ids = new Map<string, string>();
  for (const a of accounts) {
    const u = await services.users.create({
      username: a.username,
      password: a.password,
      role: a.role,
      displayName: a.displayName,
      patientId: a.role === 'patient' ? first?.id : undefined,
    });
    ids.set(a.username, u.id);
  }
  // The ICU clinician treats four named patients; the ward nurse covers all of WARD-B by assignment.
  for (const p of patients.slice(0, 4))
    if (p) await services.careTeams.linkTrusted(ids.get('clinician')!, p.id);
  await services.careTeams.assignWard(ids.get('nurse-b')!, 'WARD-B');
  return accounts;
}
