/**
 * Manual records: added by patients and clinicians, changed only by adding versions, mirrored as
 * observations, and "who accessed my record" from the audit log.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { call, ENGINES, login, startTestApp, type TestApp } from '../helpers/app.ts';
import { PASSWORD, seedWorld, type World } from '../helpers/fixtures.ts';

describe.each(ENGINES)('records on %s', (engine) => {
  let t: TestApp;
  let world: World;
  const tok: Record<string, string> = {};

  beforeAll(async () => {
    t = await startTestApp(engine, {}, async (s) => {
      world = await seedWorld(s);
    });
    for (const u of ['clinician', 'patient', 'admin', 'auditor'])
      tok[u] = (await login(t.url, u, PASSWORD)).body.accessToken;
  });
  afterAll(() => t.close());

  const post = (who: string, patientId: string, body: unknown) =>
    call(t.url, 'POST', `/api/patients/${patientId}/records`, { token: tok[who], body });

  it('patients and clinicians add records; numeric ones become observations (source manual)', async () => {
    const { own } = world.patients;
    const temp = await post('patient', own, { kind: 'temperature', value: 38.4 });
    expect(temp.status).toBe(201);
    expect(temp.body).toMatchObject({
      kind: 'temperature',
      value: 38.4,
      unit: 'Cel',
      version: 1,
      previousVersionId: null,
    });
    expect(temp.body.author).toMatchObject({ name: 'patient', role: 'patient' });
    const bp = await post('clinician', own, { kind: 'blood-pressure', systolic: 142, diastolic: 91 });
    expect(bp.status).toBe(201);
    const note = await post('clinician', own, { kind: 'note', text: 'Feels better after fluids.' });
    expect(note.status).toBe(201);
    const weight = await post('patient', own, { kind: 'weight', value: 71.3 });
    expect(weight.status).toBe(201);
    const list = await call(t.url, 'GET', `/api/patients/${own}/records`, { token: tok.patient });
    expect(list.status).toBe(200);
    expect(list.body.map((r: { kind: string }) => r.kind).sort()).toEqual(
      ['blood-pressure', 'note', 'temperature', 'weight'].sort(),
    );
    const obs = await call(t.url, 'GET', `/api/patients/${own}/observations`, { token: tok.patient });
    const manual = obs.body.filter((o: { source: string }) => o.source === 'manual');
    const byCode = Object.fromEntries(
      manual.map((o: { code: string; valueNum: number }) => [o.code, o.valueNum]),
    );
    expect(byCode).toMatchObject({ '8310-5': 38.4, '8480-6': 142, '8462-4': 91, '29463-7': 71.3 });
    expect(manual.find((o: { code: string }) => o.code === '8480-6')).toMatchObject({
      panel: '85354-9',
      unit: 'mm[Hg]',
    });
  });

  it('a change adds a version pointing to the previous one; history keeps every version', async () => {
    const { own } = world.patients;
    const v1 = (await post('patient', own, { kind: 'temperature', value: 37.9 })).body;
    const v2 = await call(t.url, 'PUT', `/api/records/${v1.id}`, {
      token: tok.patient,
      body: { value: 37.6, expectVersionId: v1.versionId },
    });
    expect(v2.status).toBe(200);
    expect(v2.body).toMatchObject({ id: v1.id, version: 2, previousVersionId: v1.versionId, value: 37.6 });
    const stale = await call(t.url, 'PUT', `/api/records/${v1.id}`, {
      token: tok.patient,
      body: { value: 37.0, expectVersionId: v1.versionId },
    });
    expect(stale.status).toBe(409);
    const hist = await call(t.url, 'GET', `/api/records/${v1.id}/history`, { token: tok.clinician });
    expect(hist.status).toBe(200);
    expect(hist.body.map((r: { version: number; value: number }) => [r.version, r.value])).toEqual([
      [1, 37.9],
      [2, 37.6],
    ]);
    const list = await call(t.url, 'GET', `/api/patients/${own}/records`, { token: tok.patient });
    const mine = list.body.filter((r: { id: string }) => r.id === v1.id);
    expect(mine).toHaveLength(1);
    expect(mine[0].version).toBe(2);
    const obs = await call(t.url, 'GET', `/api/patients/${own}/observations?code=8310-5`, {
      token: tok.patient,
    });
    const statuses = obs.body
      .filter((o: { valueNum: number }) => o.valueNum === 37.9 || o.valueNum === 37.6)
      .map((o: { status: string }) => o.status)
      .sort();
    expect(statuses).toEqual(['amended', 'final']);
    // The engine refuses to overwrite a version, even for a caller with SQL access through the app.
    await expect(
      t.services.store.db
        .updateTable('records')
        .set({ value_num: 1 })
        .where('record_id', '=', v1.id)
        .execute(),
    ).rejects.toThrow(/append-only/);
  });

  it('refuses bad input with a clear message', async () => {
    const { own } = world.patients;
    const cases: Array<[unknown, RegExp]> = [
      [{ kind: 'temperature', value: 99 }, /temperature must be 25 to 45/],
      [{ kind: 'temperature' }, /temperature is required/],
      [{ kind: 'blood-pressure', systolic: 80, diastolic: 120 }, /systolic .* must be above diastolic/],
      [{ kind: 'weight', value: -3 }, /weight must be/],
      [{ kind: 'note', text: '   ' }, /a note needs text/],
      [{ kind: 'note', text: 'x'.repeat(4001) }, /./],
      [{ kind: 'pulse', value: 80 }, /./],
      [{ kind: 'temperature', value: 37, extra: 1 }, /./],
      [{ kind: 'temperature', value: 37, effectiveAt: '2999-01-01T00:00:00Z' }, /future/],
    ];
    for (const [body, msg] of cases) {
      const r = await post('patient', own, body);
      expect(r.status, JSON.stringify(body)).toBe(400);
      expect(r.body.detail).toMatch(msg);
    }
    const kind = (await post('patient', own, { kind: 'note', text: 'hello' })).body;
    const r = await call(t.url, 'PUT', `/api/records/${kind.id}`, {
      token: tok.patient,
      body: { kind: 'weight', value: 70 },
    });
    expect(r.status).toBe(400);
    expect(
      (await call(t.url, 'PUT', '/api/records/nope', { token: tok.patient, body: { value: 1 } })).status,
    ).toBe(404);
  });

  it('access follows the policy: no other patients, no auditors or admins; patients amend only their own', async () => {
    const { own, team, other } = world.patients;
    expect((await post('patient', team, { kind: 'temperature', value: 37 })).status).toBe(403);
    expect((await post('clinician', other, { kind: 'temperature', value: 37 })).status).toBe(403);
    expect((await call(t.url, 'GET', `/api/patients/${own}/records`, { token: tok.auditor })).status).toBe(
      403,
    );
    expect((await call(t.url, 'GET', `/api/patients/${own}/records`, { token: tok.admin })).status).toBe(403);
    const byClinician = (await post('clinician', own, { kind: 'note', text: 'Plan: oral antibiotics.' }))
      .body;
    const r = await call(t.url, 'PUT', `/api/records/${byClinician.id}`, {
      token: tok.patient,
      body: { text: 'No plan.' },
    });
    expect(r.status).toBe(403);
    await t.services.audit.flush();
    const denied = await t.services.audit.query({ patientId: own, type: 'access.denied', limit: 1000 });
    expect(denied.at(-1)).toMatchObject({ outcome: 4, agent: { userId: world.users.patient } });
  });

  it('who accessed my record: the patient sees every access to their data, others may not look', async () => {
    const { own, team } = world.patients;
    await call(t.url, 'GET', `/api/patients/${own}`, { token: tok.clinician });
    await call(t.url, 'GET', '/api/patients', { token: tok.clinician });
    await call(t.url, 'GET', `/api/patients/${own}`, { token: tok.auditor }); // denied: also shown
    const log = await call(t.url, 'GET', `/api/patients/${own}/access-log`, { token: tok.patient });
    expect(log.status).toBe(200);
    const rows = log.body as Array<{ type: string; who: { username: string }; outcome: number; seq: number }>;
    expect(rows.some((e) => e.type === 'patient.read' && e.who.username === 'clinician')).toBe(true);
    expect(rows.some((e) => e.type === 'patient.list' && e.who.username === 'clinician')).toBe(true);
    expect(
      rows.some((e) => e.type === 'access.denied' && e.who.username === 'auditor' && e.outcome === 4),
    ).toBe(true);
    // Newest first, no addresses or user ids for the patient.
    expect(rows.map((e) => e.seq)).toEqual([...rows.map((e) => e.seq)].sort((a, b) => b - a));
    expect(JSON.stringify(rows)).not.toMatch(/address|userId/);
    expect(
      (await call(t.url, 'GET', `/api/patients/${team}/access-log`, { token: tok.patient })).status,
    ).toBe(403);
    expect(
      (await call(t.url, 'GET', `/api/patients/${own}/access-log`, { token: tok.clinician })).status,
    ).toBe(403);
    const asAuditor = await call(t.url, 'GET', `/api/patients/${own}/access-log?limit=2`, {
      token: tok.auditor,
    });
    expect(asAuditor.status).toBe(200);
    expect(asAuditor.body).toHaveLength(2);
  });
});
