/**
 * The real-time core on a real server, both engines: handshake authentication (token, cookie with
 * Origin check, forged and missing credentials), room joins through the access policy with
 * denials audited, live alarm and vitals delivery, and replay by offsets after a reconnect and
 * after a server restart.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startApp } from '../../src/app.ts';
import { loadConfig } from '../../src/config.ts';
import type { AlarmEventPayload, SubscribeAck, VitalsEvent } from '../../src/realtime/protocol.ts';
import { ENGINES, login, startTestApp, type TestApp } from '../helpers/app.ts';
import { PASSWORD, seedWorld, type World } from '../helpers/fixtures.ts';
import { collect, connect, connected, raiseDeviceAlarm, subscribe } from './helpers.ts';

type Ok = Extract<SubscribeAck, { ok: true }>;

describe.each(ENGINES)('realtime on %s', (engine) => {
  let t: TestApp;
  let w: World;
  const tokens: Record<string, string> = {};

  beforeAll(async () => {
    t = await startTestApp(engine);
    w = await seedWorld(t.services);
    await t.services.careTeams.assignWard(w.users.clinician, 'W1');
    for (const u of ['admin', 'clinician', 'patient', 'auditor']) {
      const r = await login(t.url, u, PASSWORD);
      tokens[u] = r.body.accessToken;
    }
  });
  afterAll(async () => t?.close());

  it('refuses a handshake without, with a forged, or with a malformed token', async () => {
    for (const token of [undefined, `${tokens.clinician!.slice(0, -4)}AAAA`, 'not a token!']) {
      const s = connect(t.url, token === undefined ? {} : { token });
      const err = (await connected(s).then(
        () => null,
        (e: Error & { data?: { status: number } }) => e,
      )) as (Error & { data?: { status: number } }) | null;
      s.close();
      expect(err?.data?.status).toBe(401);
    }
  });

  it('accepts the session cookie only from an allowed Origin', async () => {
    const cookie = `cw_at=${tokens.clinician}`;
    const evil = connect(t.url, { headers: { cookie, origin: 'https://evil.example' } });
    await expect(connected(evil)).rejects.toMatchObject({ data: { status: 403 } });
    evil.close();
    const own = connect(t.url, { headers: { cookie, origin: t.url } });
    await connected(own);
    const ack = (await subscribe(own, { sub: { scope: 'patient', patientId: w.patients.team } })) as Ok;
    expect(ack.ok).toBe(true);
    own.close();
  });

  it('refuses a patient asking for another patient, with a denied event, and audits it', async () => {
    const s = connect(t.url, { token: tokens.patient });
    await connected(s);
    const denied = collect<{ code: string }>(s, 'denied');
    const ack = await subscribe(s, { sub: { scope: 'patient', patientId: w.patients.team } });
    expect(ack).toMatchObject({ ok: false, error: { code: 'forbidden' } });
    await denied.until((d) => d.code === 'forbidden');
    // A ward is not theirs either.
    expect(await subscribe(s, { sub: { scope: 'ward', ward: 'W1' } })).toMatchObject({ ok: false });
    // Their own record is.
    const own = (await subscribe(s, { sub: { scope: 'station' } })) as Ok;
    expect(own.ok).toBe(true);
    expect(own.patients.map((p) => p.id)).toEqual([w.patients.own]);
    s.close();
    await t.services.audit.flush?.();
    const rows = await t.services.store.db
      .selectFrom('audit_events')
      .selectAll()
      .where('type', '=', 'access.denied')
      .execute();
    const text = JSON.stringify(rows);
    expect(text).toContain('socket');
    expect(text).toContain(w.patients.team);
    expect(text).toContain('ward:watch');
  });

  it('refuses admins and auditors clinical rooms', async () => {
    for (const who of ['admin', 'auditor']) {
      const s = connect(t.url, { token: tokens[who] });
      await connected(s);
      expect(await subscribe(s, { sub: { scope: 'station' } })).toMatchObject({
        ok: false,
        error: { code: 'forbidden' },
      });
      expect(await subscribe(s, { sub: { scope: 'patient', patientId: w.patients.own } })).toMatchObject({
        ok: false,
      });
      s.close();
    }
  });

  it('answers malformed subscriptions with a clear bad-request', async () => {
    const s = connect(t.url, { token: tokens.clinician });
    await connected(s);
    for (const bad of [
      null,
      'x',
      { sub: {} },
      { sub: { scope: 'patient', patientId: '../etc' } },
      { sub: { scope: 'station' }, since: { alarms: -1 } },
      { sub: { scope: 'station' }, since: { vitals: { a: 'x' } } },
    ]) {
      const ack = await s.timeout(5000).emitWithAck('subscribe', bad);
      expect(ack).toMatchObject({ ok: false, error: { code: 'bad-request' } });
    }
    s.close();
  });

  it('disconnects a socket that sends an oversized message', async () => {
    const s = connect(t.url, { token: tokens.clinician });
    await connected(s);
    const gone = new Promise<string>((r) => s.once('disconnect', (reason) => r(reason)));
    s.emit('subscribe', { sub: { scope: 'station' }, pad: 'x'.repeat(200_000) });
    expect(await gone).toBe('transport close');
  });

  it('delivers alarms at once and vitals coalesced to the station of a ward clinician', async () => {
    const s = connect(t.url, { token: tokens.clinician });
    await connected(s);
    const ack = (await subscribe(s, { sub: { scope: 'station' } })) as Ok;
    // Ward W1 (own, team) by assignment; nothing of W9.
    expect(ack.patients.map((p) => p.id).sort()).toEqual([w.patients.own, w.patients.team].sort());
    const alarms = collect<AlarmEventPayload>(s, 'alarm');
    const vitals = collect<VitalsEvent>(s, 'vitals');
    const { alarmRef } = await raiseDeviceAlarm(t.services, w.patients.team);
    const got = await alarms.until((a) => a.alarm.id === alarmRef);
    expect(got).toMatchObject({ type: 'raised', alarm: { priority: 'high', state: 'active' } });
    expect(got.offset).toBeGreaterThan(0);
    // 10 samples in one burst reach the browser as at most a couple of coalesced updates.
    const base = Date.now();
    for (let i = 0; i < 10; i++) {
      await t.services.bus.publish('vitals', {
        samples: [
          { deviceId: 'd', patientId: w.patients.own, seq: i, ts: base + i, values: { heartRate: 60 + i } },
        ],
      });
    }
    const last = await vitals.until((v) => v.updates.some((u) => u.samples.at(-1)!.values.heartRate === 69));
    expect(last.updates.find((u) => u.patientId === w.patients.own)!.samples[0]!.ts).toBe(base + 9);
    const updatesForOwn = vitals.items
      .flatMap((v) => v.updates)
      .filter((u) => u.patientId === w.patients.own);
    expect(updatesForOwn.length).toBeLessThanOrEqual(3);
    // Nothing of the other ward's patient reaches this clinician.
    await t.services.bus.publish('vitals', {
      samples: [
        { deviceId: 'd9', patientId: w.patients.other, seq: 1, ts: Date.now(), values: { heartRate: 99 } },
      ],
    });
    await raiseDeviceAlarm(t.services, w.patients.other);
    await new Promise((r) => setTimeout(r, 600));
    expect(JSON.stringify([alarms.items, vitals.items])).not.toContain(w.patients.other);
    s.close();
  });

  it('answers a first subscription with recent vitals and the last NIBP even when older', async () => {
    const now = Date.now();
    const row = (ts: number, v: { heart_rate?: number; systolic_bp?: number; diastolic_bp?: number }) => ({
      device_id: 'dev-nibp',
      seq: ts,
      patient_id: w.patients.own,
      ts,
      received_at: ts,
      heart_rate: v.heart_rate ?? null,
      pulse_rate: null,
      resp_rate: null,
      spo2: null,
      temperature: null,
      systolic_bp: v.systolic_bp ?? null,
      diastolic_bp: v.diastolic_bp ?? null,
      other: null,
      flags: 0,
    });
    await t.services.store.db
      .insertInto('vital_samples')
      .values([
        row(now - 40 * 60_000, { systolic_bp: 131, diastolic_bp: 77 }),
        row(now - 60_000, { heart_rate: 71 }),
        row(now - 30_000, { heart_rate: 72 }),
      ])
      .execute();
    const s = connect(t.url, { token: tokens.clinician });
    await connected(s);
    const ack = (await subscribe(s, { sub: { scope: 'patient', patientId: w.patients.own } })) as Ok;
    const own = ack.vitals.find((u) => u.patientId === w.patients.own)!;
    expect(own.samples.map((x) => x.values)).toEqual([
      { systolicBp: 131, diastolicBp: 77 },
      { heartRate: 71 },
      { heartRate: 72 },
    ]);
    // From an offset: only what came after it, no old NIBP again.
    const again = (await subscribe(s, {
      sub: { scope: 'patient', patientId: w.patients.own },
      since: { vitals: { [w.patients.own]: now - 45_000 } },
    })) as Ok;
    expect(again.vitals.find((u) => u.patientId === w.patients.own)!.samples.map((x) => x.values)).toEqual([
      { heartRate: 72 },
    ]);
    s.close();
  });

  it('replays what a client missed while disconnected, from its offsets', async () => {
    const s = connect(t.url, { token: tokens.clinician });
    await connected(s);
    const first = (await subscribe(s, { sub: { scope: 'station' } })) as Ok;
    s.close();
    const missed = await raiseDeviceAlarm(t.services, w.patients.own, 'vtach');
    const again = connect(t.url, { token: tokens.clinician });
    await connected(again);
    const ack = (await subscribe(again, {
      sub: { scope: 'station' },
      since: { alarms: first.alarmOffset },
    })) as Ok;
    expect(ack.alarms.map((a) => a.id)).toContain(missed.alarmRef);
    expect(ack.alarmOffset).toBeGreaterThanOrEqual(first.alarmOffset);
    again.close();
  });
});

describe('realtime across a server restart (sqlite)', () => {
  it('replays an alarm raised while the client was away and the server restarted', async () => {
    const t = await startTestApp('sqlite');
    let second: Awaited<ReturnType<typeof startApp>> | undefined;
    try {
      const w = await seedWorld(t.services);
      const token = (await login(t.url, 'clinician', PASSWORD)).body.accessToken as string;
      const s = connect(t.url, { token });
      await connected(s);
      const before = (await subscribe(s, { sub: { scope: 'patient', patientId: w.patients.team } })) as Ok;
      s.close();
      const port = t.app.ports.http;
      const missed = await raiseDeviceAlarm(t.services, w.patients.team, 'vfib');
      await t.app.stop();
      second = await startApp(
        loadConfig(
          {
            data: t.dataDir,
            port: String(port),
            telemetryPort: '0',
            alarmPort: '0',
            hl7Port: '0',
            logLevel: 'silent',
          },
          {},
        ),
      );
      const again = connect(second.url, { token });
      await connected(again);
      const ack = (await subscribe(again, {
        sub: { scope: 'patient', patientId: w.patients.team },
        since: { alarms: before.alarmOffset },
      })) as Ok;
      expect(ack.alarms.map((a) => a.id)).toContain(missed.alarmRef);
      again.close();
    } finally {
      await second?.stop();
      await t.close();
    }
  });
});
