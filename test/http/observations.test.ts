/** Observations through the service layer and REST: stored by a trusted writer, read under the policy. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { call, ENGINES, login, startTestApp, type TestApp } from '../helpers/app.ts';
import { PASSWORD, seedWorld, type World } from '../helpers/fixtures.ts';

describe.each(ENGINES)('observations on %s', (engine) => {
  let t: TestApp;
  let world: World;
  const base = Date.parse('2026-11-01T10:00:00Z');

  beforeAll(async () => {
    t = await startTestApp(engine, {}, async (s) => {
      world = await seedWorld(s);
      await s.observations.insertIn(s.store.db, [
        {
          patientId: world.patients.team,
          code: '8867-4',
          valueNum: 72,
          unit: '/min',
          effectiveAt: base,
          source: 'device',
          mdcCode: '147842',
        },
        {
          patientId: world.patients.team,
          code: '8867-4',
          valueNum: 75,
          unit: '/min',
          effectiveAt: base + 60_000,
          source: 'device',
        },
        {
          patientId: world.patients.team,
          code: '8310-5',
          valueNum: 37.2,
          unit: 'Cel',
          effectiveAt: base + 30_000,
          source: 'hl7',
        },
        {
          patientId: world.patients.other,
          code: '8867-4',
          valueNum: 99,
          unit: '/min',
          effectiveAt: base,
          source: 'device',
        },
      ]);
    });
  });
  afterAll(() => t.close());

  it('a care-team clinician reads values newest first, filtered by code and time; the read is audited', async () => {
    const token = (await login(t.url, 'clinician', PASSWORD)).body.accessToken;
    const all = await call(t.url, 'GET', `/api/patients/${world.patients.team}/observations`, { token });
    expect(all.status).toBe(200);
    expect(all.body.map((o: { valueNum: number }) => o.valueNum)).toEqual([75, 37.2, 72]);
    expect(all.body[2]).toMatchObject({
      code: '8867-4',
      codeSystem: 'http://loinc.org',
      mdcCode: '147842',
      unit: '/min',
    });
    const hr = await call(
      t.url,
      'GET',
      `/api/patients/${world.patients.team}/observations?code=8867-4&from=${new Date(base + 1).toISOString()}`,
      { token },
    );
    expect(hr.body.map((o: { valueNum: number }) => o.valueNum)).toEqual([75]);
    await t.services.audit.flush();
    const ev = await t.services.audit.query({ patientId: world.patients.team, type: 'observation.read' });
    expect(ev.length).toBeGreaterThanOrEqual(2);
  });

  it('refuses other patients, auditors and admins (no clinical values), and bad queries', async () => {
    const clin = (await login(t.url, 'clinician', PASSWORD)).body.accessToken;
    expect(
      (await call(t.url, 'GET', `/api/patients/${world.patients.other}/observations`, { token: clin }))
        .status,
    ).toBe(403);
    for (const role of ['auditor', 'admin', 'patient']) {
      const token = (await login(t.url, role, PASSWORD)).body.accessToken;
      expect(
        (await call(t.url, 'GET', `/api/patients/${world.patients.team}/observations`, { token })).status,
      ).toBe(403);
    }
    const bad = await call(t.url, 'GET', `/api/patients/${world.patients.team}/observations?from=yesterday`, {
      token: clin,
    });
    expect(bad.status).toBe(400);
    const big = await call(t.url, 'GET', `/api/patients/${world.patients.team}/observations?limit=100000`, {
      token: clin,
    });
    expect(big.status).toBe(400);
  });
});
