/**
 * The access policy, cell by cell, over real HTTP: every role × {own patient, care-team patient,
 * other patient, audit data, admin action}. Each denial must be 403 and must be in the audit log.
 * docs/access-policy.md documents the same table.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { call, ENGINES, login, startTestApp, type TestApp } from '../helpers/app.ts';
import { PASSWORD, seedWorld, type World } from '../helpers/fixtures.ts';

type Target = 'own' | 'team' | 'other' | 'audit' | 'admin';
type RoleName = 'patient' | 'clinician' | 'auditor' | 'admin';

const MATRIX: Record<RoleName, Record<Target, 200 | 403>> = {
  patient: { own: 200, team: 403, other: 403, audit: 403, admin: 403 },
  clinician: { own: 200, team: 200, other: 403, audit: 403, admin: 403 },
  auditor: { own: 403, team: 403, other: 403, audit: 200, admin: 403 },
  admin: { own: 200, team: 200, other: 200, audit: 403, admin: 200 },
};

describe.each(ENGINES)('access matrix on %s', (engine) => {
  let t: TestApp;
  let world: World;
  const tokens = {} as Record<RoleName, string>;

  beforeAll(async () => {
    t = await startTestApp(engine, {}, async (s) => {
      world = await seedWorld(s);
    });
    for (const role of Object.keys(MATRIX) as RoleName[]) {
      tokens[role] = (await login(t.url, role, PASSWORD)).body.accessToken;
    }
  });
  afterAll(() => t.close());

  const request = (role: RoleName, target: Target) => {
    const token = tokens[role];
    switch (target) {
      case 'own':
      case 'team':
      case 'other':
        return call(t.url, 'GET', `/api/patients/${world.patients[target]}`, { token });
      case 'audit':
        return call(t.url, 'GET', '/api/audit/events?limit=5', { token });
      case 'admin':
        return call(t.url, 'POST', '/api/care-team', {
          token,
          body: { clinicianId: world.users.clinician, patientId: world.patients.team },
        });
    }
  };

  const cells = (Object.keys(MATRIX) as RoleName[]).flatMap((role) =>
    (Object.keys(MATRIX[role]) as Target[]).map((target) => [role, target, MATRIX[role][target]] as const),
  );

  it.each(cells)('%s → %s gives %i, and a denial is audited', async (role, target, expected) => {
    const r = await request(role, target);
    const status = expected === 200 && target === 'admin' ? 204 : expected;
    expect(r.status).toBe(status);
    await t.services.audit.flush();
    const events = await t.services.audit.query({ userId: world.users[role], limit: 1000 });
    const last = events.at(-1);
    if (expected === 403) {
      expect(r.headers.get('content-type')).toMatch(/problem\+json/);
      expect(last).toMatchObject({ type: 'access.denied', outcome: 4, agent: { role } });
      if (target === 'own' || target === 'team' || target === 'other')
        expect(last?.patientId).toBe(world.patients[target]);
    } else {
      expect(last?.outcome).toBe(0);
      expect(last?.type).not.toBe('access.denied');
    }
  });

  it('lists only the patients each role may see', async () => {
    const names = async (role: RoleName) => {
      const r = await call(t.url, 'GET', '/api/patients', { token: tokens[role] });
      return r.status === 200 ? (r.body as { id: string }[]).map((p) => p.id).sort() : r.status;
    };
    expect(await names('patient')).toEqual([world.patients.own]);
    expect(await names('clinician')).toEqual([world.patients.own, world.patients.team].sort());
    expect(await names('admin')).toEqual(Object.values(world.patients).sort());
    expect(await names('auditor')).toBe(403);
  });

  it('a patient cannot reach another patient by id, even a made-up one', async () => {
    const r = await call(t.url, 'GET', '/api/patients/00000000-0000-0000-0000-000000000000', {
      token: tokens.patient,
    });
    expect(r.status).toBe(403);
  });

  it('break-the-glass: reason required, then time-limited access with purpose ETREAT, flagged', async () => {
    const before = await call(t.url, 'GET', `/api/patients/${world.patients.other}`, {
      token: tokens.clinician,
    });
    expect(before.status).toBe(403);
    expect(before.body.detail).toMatch(/break the glass/);
    const noReason = await call(t.url, 'POST', `/api/patients/${world.patients.other}/break-glass`, {
      token: tokens.clinician,
      body: { reason: 'x' },
    });
    expect(noReason.status).toBe(400);
    const byPatient = await call(t.url, 'POST', `/api/patients/${world.patients.other}/break-glass`, {
      token: tokens.patient,
      body: { reason: 'I want to see it please' },
    });
    expect(byPatient.status).toBe(403);
    const glass = await call(t.url, 'POST', `/api/patients/${world.patients.other}/break-glass`, {
      token: tokens.clinician,
      body: { reason: 'Cardiac arrest in corridor, patient unresponsive' },
    });
    expect(glass.status).toBe(201);
    expect(Date.parse(glass.body.expiresAt)).toBeGreaterThan(Date.now());
    const after = await call(t.url, 'GET', `/api/patients/${world.patients.other}`, {
      token: tokens.clinician,
    });
    expect(after.status).toBe(200);
    await t.services.audit.flush();
    const ev = await t.services.audit.query({ patientId: world.patients.other, limit: 1000 });
    expect(ev.find((e) => e.type === 'break-glass')).toMatchObject({
      purpose: 'ETREAT',
      detail: { flagged: true },
    });
    expect(ev.filter((e) => e.type === 'patient.read').at(-1)).toMatchObject({
      purpose: 'ETREAT',
      detail: { breakGlass: true, flagged: true },
    });
  });

  it('admin actions: create patient and user; others refused; bad input named', async () => {
    const body = {
      mrn: `NEW-${engine}`,
      givenName: 'New',
      familyName: 'Patient',
      sex: 'female',
      birthDate: '1990-01-02',
    };
    expect((await call(t.url, 'POST', '/api/patients', { token: tokens.clinician, body })).status).toBe(403);
    const created = await call(t.url, 'POST', '/api/patients', { token: tokens.admin, body });
    expect(created.status).toBe(201);
    expect((await call(t.url, 'POST', '/api/patients', { token: tokens.admin, body })).status).toBe(409);
    const bad = await call(t.url, 'POST', '/api/patients', {
      token: tokens.admin,
      body: { ...body, mrn: 'X', birthDate: '02/01/1990' },
    });
    expect(bad.status).toBe(400);
    expect(bad.body.detail).toMatch(/birthDate/);
    const extra = await call(t.url, 'POST', '/api/patients', {
      token: tokens.admin,
      body: { ...body, mrn: 'Y', role: 'admin' },
    });
    expect(extra.status).toBe(400);
    const user = await call(t.url, 'POST', '/api/users', {
      token: tokens.admin,
      body: { username: 'newpat', password: PASSWORD, role: 'patient', patientId: created.body.id },
    });
    expect(user.status).toBe(201);
    expect(user.body.password_hash).toBeUndefined();
    const weak = await call(t.url, 'POST', '/api/users', {
      token: tokens.admin,
      body: { username: 'weak', password: 'short', role: 'auditor' },
    });
    expect(weak.status).toBe(400);
    expect((await call(t.url, 'GET', '/api/users', { token: tokens.patient })).status).toBe(403);
    expect((await call(t.url, 'GET', '/api/users', { token: tokens.admin })).status).toBe(200);
  });
});
