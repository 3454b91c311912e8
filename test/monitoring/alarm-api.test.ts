/**
 * Alarms and vitals through the HTTP API on a real server, fed by real datagrams: a deteriorating
 * patient's vitals raise a NEWS2 alarm end-to-end; only a clinician on the care team may
 * acknowledge it (403 for everyone else, each denial audited); the vitals range, latest values and
 * NEWS2 endpoints answer through the access policy. Both engines.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { call, ENGINES, login, startTestApp, type TestApp } from '../helpers/app.ts';
import { waitFor } from '../helpers/cli.ts';
import { PASSWORD, seedWorld, type World } from '../helpers/fixtures.ts';
import { datagram, sendAll } from '../telemetry/helpers.ts';

describe.each(ENGINES)('alarm and vitals API on %s', (engine) => {
  let t: TestApp;
  let w: World;
  const tokens: Record<string, string> = {};

  beforeAll(async () => {
    t = await startTestApp(engine);
    w = await seedWorld(t.services);
    await t.services.users.create({ username: 'outsider', password: PASSWORD, role: 'clinician' });
    for (const u of ['admin', 'clinician', 'patient', 'auditor', 'outsider']) {
      const r = await login(t.url, u, PASSWORD);
      expect(r.status).toBe(200);
      tokens[u] = r.body.accessToken;
    }
    const added = await t.services.devices.add(
      { id: 'mon-team', patient: w.patients.team },
      { agent: {}, source: 'test' },
    );
    const key = Buffer.from(added.key, 'base64url');
    // A septic patient: every NEWS2 vital sign in its worst band.
    const now = Date.now();
    const bufs = [];
    for (let i = 0; i < 5; i++) {
      bufs.push(
        datagram(
          'mon-team',
          key,
          i + 1,
          { respiratoryRate: 28, spo2: 90, heartRate: 135, systolicBp: 85, temperature: 39.5 },
          now - (5 - i) * 1000,
        ),
      );
    }
    await sendAll(t.app.ports.telemetry!, bufs);
  });
  afterAll(async () => t?.close());

  const active = async (who: string) =>
    call(t.url, 'GET', '/api/alarms?state=active', { token: tokens[who] });

  it('raises a high NEWS2 alarm end-to-end from datagrams', async () => {
    const news2 = await waitFor(
      async () => {
        const r = await active('clinician');
        return r.body?.find?.((a: { kind: string }) => a.kind === 'news2');
      },
      8000,
      'news2 alarm',
    );
    expect(news2).toMatchObject({
      patientId: w.patients.team,
      priority: 'high',
      state: 'active',
      source: 'news2',
    });
    const score = await call(t.url, 'GET', `/api/patients/${w.patients.team}/news2`, {
      token: tokens.clinician,
    });
    expect(score.status).toBe(200);
    // rr 28 → 3, SpO2 90 → 3, HR 135 → 3, SBP 85 → 3, temp 39.5 → 2; air/oxygen and ACVPU missing.
    expect(score.body).toMatchObject({ total: 14, complete: false, band: 'high' });
    expect(score.body.missing).toEqual(['airOrOxygen', 'consciousness']);
  });

  it('lets only a clinician on the care team acknowledge (403 for the others)', async () => {
    const list = await active('clinician');
    const alarm = list.body.find((a: { kind: string }) => a.kind === 'news2');
    for (const who of ['outsider', 'admin', 'auditor', 'patient']) {
      const r = await call(t.url, 'POST', `/api/alarms/${alarm.id}/ack`, { token: tokens[who] });
      expect(r.status, who).toBe(403);
      expect(r.headers.get('content-type')).toContain('application/problem+json');
    }
    expect(
      (await call(t.url, 'POST', '/api/alarms/no-such-alarm/ack', { token: tokens.clinician })).status,
    ).toBe(404);
    const ok = await call(t.url, 'POST', `/api/alarms/${alarm.id}/ack`, { token: tokens.clinician });
    expect(ok.status).toBe(200);
    expect(ok.body).toMatchObject({ id: alarm.id, state: 'acknowledged', acknowledgedBy: 'clinician' });
    const row = await t.services.store.db
      .selectFrom('alarms')
      .selectAll()
      .where('id', '=', alarm.id)
      .executeTakeFirstOrThrow();
    expect(row.state).toBe('acknowledged');
    expect(row.acked_by).toBe('clinician');
    const acked = await call(t.url, 'GET', '/api/alarms?state=acknowledged', { token: tokens.clinician });
    expect(acked.body.map((a: { id: string }) => a.id)).toContain(alarm.id);
    await t.services.audit.flush();
    const denials = await t.services.audit.query({ type: 'access.denied', limit: 1000 });
    expect(
      denials.filter((d) => (d.detail as { requested?: string })?.requested === 'alarm:ack').length,
    ).toBeGreaterThanOrEqual(4);
  });

  it('hides alarms from those who may not see the patient', async () => {
    expect((await active('outsider')).body).toEqual([]);
    expect((await active('admin')).status).toBe(403);
    expect((await active('auditor')).status).toBe(403);
  });

  it('answers a vitals range and the latest values with their age (team only)', async () => {
    await t.services.vitals.flush(); // stored within flushMs; live delivery does not wait for it
    const range = await call(
      t.url,
      'GET',
      `/api/patients/${w.patients.team}/vitals?code=8867-4&from=${Date.now() - 60_000}`,
      {
        token: tokens.clinician,
      },
    );
    expect(range.status).toBe(200);
    expect(range.body).toHaveLength(1);
    expect(range.body[0]).toMatchObject({ key: 'heartRate', loinc: '8867-4', bucketMs: 0 });
    expect(range.body[0].points.map((p: { value: number }) => p.value)).toEqual([135, 135, 135, 135, 135]);
    const down = await call(
      t.url,
      'GET',
      `/api/patients/${w.patients.team}/vitals?code=heartRate&from=${Date.now() - 60_000}&maxPoints=2`,
      { token: tokens.clinician },
    );
    expect(down.body[0].bucketMs).toBeGreaterThan(0);
    expect(down.body[0].points.length).toBeLessThanOrEqual(2);
    expect(down.body[0].points.reduce((n: number, p: { n: number }) => n + p.n, 0)).toBe(5);
    const latest = await call(t.url, 'GET', `/api/patients/${w.patients.team}/vitals/latest`, {
      token: tokens.clinician,
    });
    const temp = latest.body.values.find((v: { key: string }) => v.key === 'temperature');
    expect(temp).toMatchObject({ value: 39.5, unit: 'Cel' });
    expect(temp.ageMs).toBeGreaterThanOrEqual(0);
    expect(
      (await call(t.url, 'GET', `/api/patients/${w.patients.team}/vitals`, { token: tokens.outsider }))
        .status,
    ).toBe(403);
    expect(
      (
        await call(t.url, 'GET', `/api/patients/${w.patients.team}/vitals?code=bogus`, {
          token: tokens.clinician,
        })
      ).status,
    ).toBe(400);
  });

  it('takes manual NEWS2 inputs and rescores (complete once air/oxygen and ACVPU are known)', async () => {
    const put = await call(t.url, 'PUT', `/api/patients/${w.patients.team}/news2/inputs`, {
      token: tokens.clinician,
      body: { onOxygen: true, consciousness: 'V' },
    });
    expect(put.status).toBe(204);
    const score = await call(t.url, 'GET', `/api/patients/${w.patients.team}/news2`, {
      token: tokens.clinician,
    });
    expect(score.body).toMatchObject({ total: 19, complete: true });
    const bad = await call(t.url, 'PUT', `/api/patients/${w.patients.team}/news2/inputs`, {
      token: tokens.clinician,
      body: { spo2Scale: 3 },
    });
    expect(bad.status).toBe(400);
  });

  it('manages devices through the admin API only', async () => {
    const made = await call(t.url, 'POST', '/api/devices', {
      token: tokens.admin,
      body: { id: 'api-mon', bed: 'X1' },
    });
    expect(made.status).toBe(201);
    expect(Buffer.from(made.body.key, 'base64url').length).toBe(32);
    const row = await t.services.store.db
      .selectFrom('devices')
      .select('key')
      .where('id', '=', 'api-mon')
      .executeTakeFirstOrThrow();
    expect(row.key).not.toContain(made.body.key); // stored sealed, never as given out
    expect(
      (await call(t.url, 'POST', '/api/devices', { token: tokens.clinician, body: { id: 'x' } })).status,
    ).toBe(403);
    expect(
      (await call(t.url, 'POST', '/api/devices', { token: tokens.admin, body: { id: 'api-mon' } })).status,
    ).toBe(409);
    const list = await call(t.url, 'GET', '/api/devices', { token: tokens.admin });
    expect(list.body.map((d: { id: string }) => d.id)).toContain('api-mon');
    expect(JSON.stringify(list.body)).not.toContain(made.body.key);
    expect((await call(t.url, 'DELETE', '/api/devices/api-mon', { token: tokens.admin })).status).toBe(204);
    expect((await call(t.url, 'DELETE', '/api/devices/api-mon', { token: tokens.admin })).status).toBe(404);
  });
});
