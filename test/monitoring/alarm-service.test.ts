/**
 * The alarm service on a real store with an injected clock: escalation after exactly 60 s
 * unacknowledged (bus event for the ward with the clinicians to notify, stored escalated_at), none
 * for an alarm acknowledged in time, and open alarms rebuilt from the store after a restart without
 * escalating or raising twice. Both engines.
 */
import { rmSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { InProcessBus } from '../../src/bus/bus.ts';
import { loadConfig } from '../../src/config.ts';
import { AlarmService } from '../../src/monitoring/alarm-service.ts';
import { createServices, type Services } from '../../src/services.ts';
import { openStore, type Store } from '../../src/store/db.ts';
import { ENGINES, tempDir } from '../helpers/app.ts';
import { waitFor } from '../helpers/cli.ts';
import { createPgSchema, type PgSchema } from '../helpers/pg.ts';

const T0 = 1_763_700_000_000;

describe.each(ENGINES)('alarm service on %s', (engine) => {
  const dir = tempDir('cw-alarmsvc-');
  let schema: PgSchema | undefined;
  let store: Store;
  let s: Services;
  let patientId: string;
  let nurse: string;
  let doctor: string;
  const bus = new InProcessBus();
  let clock = T0;
  const escalations: Array<{
    ward: string;
    patientId: string;
    clinicianIds: string[];
    alarm: { id: string };
  }> = [];

  beforeAll(async () => {
    schema = engine === 'postgres' ? await createPgSchema() : undefined;
    const config = loadConfig({ data: dir, logLevel: 'silent', databaseUrl: schema?.url }, {});
    store = await openStore({ dataDir: dir, databaseUrl: schema?.url });
    s = await createServices(config, store, bus);
    patientId = (
      await s.patients.insert({ mrn: 'E-1', givenName: 'E', familyName: 'Sc', ward: 'ICU', bed: '3' })
    ).id;
    nurse = (
      await s.users.create({ username: 'nurse', password: 'correct horse battery', role: 'clinician' })
    ).id;
    doctor = (
      await s.users.create({ username: 'doctor', password: 'correct horse battery', role: 'clinician' })
    ).id;
    await s.careTeams.assignWard(nurse, 'ICU');
    await s.careTeams.linkTrusted(doctor, patientId);
    await bus.subscribe('alarm.escalated', (m: (typeof escalations)[number]) => {
      escalations.push(m);
    });
  });
  afterAll(async () => {
    await s?.close();
    await store?.close();
    await schema?.drop();
    rmSync(dir, { recursive: true, force: true });
  });

  const service = () =>
    new AlarmService(
      { db: store.db, bus, gate: s.gate, audit: s.audit, observations: s.observations },
      { now: () => clock, tickMs: 0, observationRefreshMs: 0 },
    );
  const asystole = (alarmId: string) => ({
    alarmId,
    event: 'raised' as const,
    kind: 'asystole',
    category: 'physiological' as const,
    priority: 'high' as const,
    time: clock,
    text: 'Asystole',
  });

  it('escalates a high alarm unacknowledged for 60 s, once, to the ward and care team', async () => {
    const svc = service();
    await svc.start();
    clock = T0;
    await svc.deviceAlarm({ id: 'mon-e', patientId }, asystole('as-1'));
    const open = svc.engine.open(patientId);
    expect(open).toHaveLength(1);
    clock = T0 + 59_999;
    expect(svc.tick().filter((e) => e.type === 'escalated')).toEqual([]);
    clock = T0 + 60_000;
    expect(svc.tick().map((e) => e.type)).toEqual(['escalated']);
    clock = T0 + 120_000;
    expect(svc.tick()).toEqual([]); // once only
    const got = await waitFor(() => escalations[0], 3000, 'alarm.escalated on the bus');
    expect(got).toMatchObject({ ward: 'ICU', patientId, alarm: { id: open[0]!.id } });
    expect(got.clinicianIds.sort()).toEqual([nurse, doctor].sort());
    await svc.flush();
    const row = await store.db
      .selectFrom('alarms')
      .selectAll()
      .where('id', '=', open[0]!.id)
      .executeTakeFirstOrThrow();
    expect(Number(row.escalated_at)).toBe(T0 + 60_000);
    expect(row.state).toBe('active');
    await svc.close();
  });

  it('rebuilds open alarms after a restart without raising or escalating them again', async () => {
    const before = escalations.length;
    const svc = service();
    await svc.start();
    const open = svc.engine.open(patientId);
    expect(open.map((a) => [a.kind, a.escalatedAt])).toEqual([['asystole', T0 + 60_000]]);
    // The same condition reported again de-duplicates into the restored alarm.
    clock = T0 + 130_000;
    await svc.deviceAlarm({ id: 'mon-e', patientId }, asystole('as-2'));
    expect(svc.engine.open(patientId)).toHaveLength(1);
    clock = T0 + 400_000;
    svc.tick();
    await new Promise((r) => setTimeout(r, 50));
    expect(escalations.length).toBe(before);
    // Acknowledged in time: a new high alarm acknowledged at 30 s never escalates.
    const doc = { userId: doctor, username: 'doctor', role: 'clinician' as const };
    await svc.acknowledge(doc, open[0]!.id, { source: 'test' });
    clock = T0 + 500_000;
    await svc.deviceAlarm({ id: 'mon-e', patientId }, { ...asystole('vf-1'), kind: 'vfib', text: 'VF' });
    const vf = svc.engine.open(patientId).find((a) => a.kind === 'vfib')!;
    clock = T0 + 530_000;
    await svc.acknowledge(doc, vf.id, { source: 'test' });
    clock = T0 + 600_000;
    expect(svc.tick().filter((e) => e.type === 'escalated')).toEqual([]);
    await svc.close();
  });
});
