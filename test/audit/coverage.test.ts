/**
 * What is audited, path by path: each request below leaves exactly one entry in the Merkle log,
 * with the right type, outcome, patient and actor; a denied read leaves a failure entry.
 * REST only: the FHIR and socket gateways are other issues' and bring their own tests.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AuditEntry } from '../../src/audit/merkle/index.ts';
import { call, ENGINES, login, startTestApp, type TestApp } from '../helpers/app.ts';
import { runCli } from '../helpers/cli.ts';
import { PASSWORD, seedWorld, type World } from '../helpers/fixtures.ts';

describe.each(ENGINES)('audit coverage over REST on %s', (engine) => {
  let t: TestApp;
  let world: World;
  const tokens: Record<string, string> = {};

  beforeAll(async () => {
    t = await startTestApp(engine, {}, async (s) => {
      world = await seedWorld(s);
    });
    for (const u of ['clinician', 'patient', 'admin', 'auditor'])
      tokens[u] = (await login(t.url, u, PASSWORD)).body.accessToken;
  });
  afterAll(() => t.close());

  /** The entries `fn` added to the log. */
  async function added(fn: () => Promise<unknown>): Promise<AuditEntry[]> {
    await t.services.audit.flush();
    const before = (await t.services.audit.head()).size;
    await fn();
    await t.services.audit.flush();
    return (await t.services.audit.entries({ from: before, limit: 1000 })).map((e) => e.entry);
  }

  async function one(fn: () => Promise<unknown>): Promise<AuditEntry> {
    const list = await added(fn);
    expect(list.map((e) => e.type)).toHaveLength(1);
    return list[0]!;
  }

  it('login success and failure, refresh and logout: one entry each', async () => {
    let refresh = '';
    let access = '';
    const ok = await one(async () => {
      const r = await login(t.url, 'clinician', PASSWORD);
      refresh = r.body.refreshToken;
      access = r.body.accessToken;
    });
    expect(ok).toMatchObject({
      type: 'auth.login',
      outcome: 0,
      agent: { username: 'clinician', userId: world.users.clinician },
    });
    const bad = await one(() => login(t.url, 'clinician', 'wrong password!'));
    expect(bad).toMatchObject({ type: 'auth.login', outcome: 4, agent: { username: 'clinician' } });
    const unknown = await one(() => login(t.url, 'nobody\u0007\u202e', 'wrong password!'));
    // Attacker-chosen text is kept but made harmless for an auditor's terminal.
    expect(unknown).toMatchObject({
      type: 'auth.login',
      outcome: 4,
      agent: { username: 'nobody\uFFFD\uFFFD' },
    });
    const r = await one(() => call(t.url, 'POST', '/api/auth/refresh', { body: { refreshToken: refresh } }));
    expect(r).toMatchObject({ type: 'auth.refresh', outcome: 0, agent: { userId: world.users.clinician } });
    const out = await one(async () => {
      const fresh = await login(t.url, 'patient', PASSWORD);
      access = fresh.body.accessToken;
    });
    expect(out.type).toBe('auth.login');
    const lo = await one(() => call(t.url, 'POST', '/api/auth/logout', { token: access }));
    expect(lo).toMatchObject({ type: 'auth.logout', outcome: 0, agent: { userId: world.users.patient } });
  });

  it('a read of patient data through each REST path leaves exactly one entry with the right patient and actor', async () => {
    const { team, own } = world.patients;
    const cases: Array<[string, string, string, string]> = [
      ['clinician', `/api/patients/${team}`, 'patient.read', team],
      ['clinician', `/api/patients/${team}/observations`, 'observation.read', team],
      ['clinician', `/api/patients/${team}/records`, 'record.list', team],
      ['patient', `/api/patients/${own}`, 'patient.read', own],
      ['patient', `/api/patients/${own}/records`, 'record.list', own],
      ['patient', `/api/patients/${own}/access-log`, 'access-log.read', own],
      ['auditor', `/api/patients/${own}/access-log`, 'access-log.read', own],
    ];
    for (const [who, url, type, patientId] of cases) {
      const e = await one(async () =>
        expect((await call(t.url, 'GET', url, { token: tokens[who] })).status).toBe(200),
      );
      expect(e, url).toMatchObject({
        type,
        action: 'R',
        outcome: 0,
        source: 'http',
        agent: { userId: world.users[who as keyof World['users']], role: who },
        entity: { patientId },
      });
    }
    const list = await one(() => call(t.url, 'GET', '/api/patients', { token: tokens.clinician }));
    expect(list).toMatchObject({
      type: 'patient.list',
      outcome: 0,
      agent: { userId: world.users.clinician },
    });
    expect((list.detail as { patientIds: string[] }).patientIds.sort()).toEqual([own, team].sort());
  });

  it('a denied read leaves one failure entry naming the patient and the actor', async () => {
    const { other, team } = world.patients;
    for (const [who, url, patientId] of [
      ['patient', `/api/patients/${team}`, team],
      ['patient', `/api/patients/${team}/access-log`, team],
      ['clinician', `/api/patients/${other}/observations`, other],
      ['auditor', `/api/patients/${team}/records`, team],
      ['admin', `/api/patients/${team}/access-log`, team],
    ] as const) {
      const e = await one(async () =>
        expect((await call(t.url, 'GET', url, { token: tokens[who] })).status).toBe(403),
      );
      expect(e, `${who} ${url}`).toMatchObject({
        type: 'access.denied',
        outcome: 4,
        agent: { userId: world.users[who], role: who },
        entity: { patientId },
      });
    }
  });

  it('writes, break-the-glass and admin changes: one entry each', async () => {
    const { own, other } = world.patients;
    const created = await one(async () => {
      const r = await call(t.url, 'POST', `/api/patients/${own}/records`, {
        token: tokens.patient,
        body: { kind: 'temperature', value: 37.2 },
      });
      expect(r.status).toBe(201);
    });
    expect(created).toMatchObject({ type: 'record.create', action: 'C', entity: { patientId: own } });
    const glass = await one(() =>
      call(t.url, 'POST', `/api/patients/${other}/break-glass`, {
        token: tokens.clinician,
        body: { reason: 'Unresponsive in the corridor, no team on site' },
      }),
    );
    expect(glass).toMatchObject({ type: 'break-glass', purpose: 'ETREAT', entity: { patientId: other } });
    const read = await one(() => call(t.url, 'GET', `/api/patients/${other}`, { token: tokens.clinician }));
    expect(read).toMatchObject({
      type: 'patient.read',
      purpose: 'ETREAT',
      detail: { breakGlass: true, flagged: true },
    });
    const link = await one(async () =>
      expect(
        (
          await call(t.url, 'POST', '/api/care-team', {
            token: tokens.admin,
            body: { clinicianId: world.users.clinician, patientId: other },
          })
        ).status,
      ).toBe(204),
    );
    expect(link).toMatchObject({ outcome: 0, agent: { userId: world.users.admin, role: 'admin' } });
    const user = await one(() =>
      call(t.url, 'POST', '/api/users', {
        token: tokens.admin,
        body: { username: 'nurse.kim', password: 'a long enough password', role: 'clinician' },
      }),
    );
    expect(user).toMatchObject({ outcome: 0, agent: { role: 'admin' } });
  });

  it('a CLI user change by another process on the same store is one entry in the same log', async () => {
    const where = [
      '--data',
      t.dataDir,
      ...(engine === 'postgres' ? ['--database-url', t.app.config.databaseUrl!] : []),
    ];
    const list = await added(async () => {
      const r = await runCli([
        'user',
        'add',
        'cli.made',
        '--role',
        'auditor',
        '--password',
        'another long password',
        ...where,
      ]);
      expect(r.code, r.stderr).toBe(0);
    });
    expect(list).toHaveLength(1);
    expect(list[0]).toMatchObject({ type: 'user.create', source: 'cli', agent: { role: 'operator' } });
    // The server's next append continues the same tree.
    const after = await one(() =>
      call(t.url, 'GET', `/api/patients/${world.patients.own}`, { token: tokens.patient }),
    );
    expect(after.seq).toBe(list[0]!.seq + 1);
    const v = await call(t.url, 'POST', '/api/audit/verify', { token: tokens.auditor, body: {} });
    expect(v.status).toBe(200);
    expect(v.body).toMatchObject({ ok: true, firstBad: null });
  });
});
