/**
 * The simulator's physiology: baselines stay unremarkable, each deterioration scenario really
 * moves NEWS2 into the emergency band, NIBP comes every few minutes rather than continuously, and
 * the oximeter shows motion artifacts. Then a short run against a real server stores its vitals.
 */
import { rmSync } from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { scoreNews2 } from '../../src/monitoring/news2.ts';
import { PatientModel, parseScenarios, SCENARIOS } from '../../src/simulate/patient-model.ts';
import { provisionLocal, simSpecs } from '../../src/simulate/provision.ts';
import { Simulator } from '../../src/simulate/simulator.ts';
import { startTestApp, tempDir } from '../helpers/app.ts';
import { waitFor } from '../helpers/cli.ts';

function news2(m: PatientModel, at: number): number {
  const v = m.truth(at);
  return scoreNews2({
    respirationRate: v.respiratoryRate,
    spo2: v.spo2,
    onOxygen: false,
    systolicBp: v.systolicBp,
    pulse: v.heartRate,
    consciousness: 'A',
    temperature: v.temperature,
  }).total;
}

describe('PatientModel', () => {
  it('keeps a patient without a scenario near baseline for hours (NEWS2 ≤ 3)', () => {
    const m = new PatientModel({ seed: 7 });
    let worst = 0;
    for (let t = 0; t < 6 * 3600; t++) {
      m.step(1000, 1_763_700_000_000 + t * 1000);
      if (t % 60 === 0) worst = Math.max(worst, news2(m, 1_763_700_000_000 + t * 1000));
    }
    expect(worst).toBeLessThanOrEqual(3);
  });

  it.each(SCENARIOS)('%s drives NEWS2 to 7 or more at full severity', (scenario) => {
    const m = new PatientModel({ seed: 11, scenario, onsetMs: 60_000, rampMs: 180_000 });
    const t0 = 1_763_700_000_000;
    for (let t = 0; t < 60; t++) m.step(1000, t0 + t * 1000);
    expect(news2(m, t0 + 60_000)).toBeLessThanOrEqual(3);
    for (let t = 60; t < 300; t++) m.step(1000, t0 + t * 1000);
    expect(m.severity()).toBe(1);
    expect(news2(m, t0 + 300_000)).toBeGreaterThanOrEqual(7);
  });

  it('reports NIBP every few minutes, temperature once a minute, and shows SpO2 artifacts', () => {
    const m = new PatientModel({ seed: 3, nibpEveryMs: 300_000, artifactsPerHour: 60 });
    let nibp = 0;
    let temps = 0;
    let artifactSeconds = 0;
    for (let t = 0; t < 3600; t++) {
      const s = m.step(1000, t * 1000);
      if (s.systolicBp !== undefined) nibp++;
      if (s.temperature !== undefined) temps++;
      if (m.artifactActive) artifactSeconds++;
      expect(s.spo2).toBeDefined();
    }
    expect(nibp).toBeGreaterThanOrEqual(11);
    expect(nibp).toBeLessThanOrEqual(13);
    expect(temps).toBe(60);
    expect(artifactSeconds).toBeGreaterThan(0);
  });

  it('parses scenario lists and refuses unknown ones', () => {
    expect(parseScenarios('sepsis:2,hemorrhage:1,hypoxia')).toEqual([
      ['sepsis', 2],
      ['hemorrhage', 1],
      ['hypoxia', 1],
    ]);
    expect(() => parseScenarios('flu:1')).toThrow(/unknown scenario 'flu'/);
    expect(() => parseScenarios('sepsis:x')).toThrow(/whole number/);
    expect(() => simSpecs(1, [['sepsis', 2]])).toThrow(/2 scenarios for 1 patients/);
  });
});

describe('Simulator against a server', () => {
  const dir = tempDir('cw-sim-');
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('provisions idempotently and its vitals are stored, with the simulated loss counted', async () => {
    const t = await startTestApp('sqlite');
    try {
      const specs = simSpecs(3, [['sepsis', 1]]);
      const keyFile = path.join(dir, 'keys.json');
      const first = await provisionLocal(t.services, specs, keyFile);
      const second = await provisionLocal(t.services, specs, keyFile);
      expect(second.map((d) => d.key)).toEqual(first.map((d) => d.key));
      expect((await t.services.devices.list()).filter((d) => d.id.startsWith('sim-mon-'))).toHaveLength(3);
      const sim = new Simulator({
        devices: first,
        host: '127.0.0.1',
        telemetryPort: t.app.ports.telemetry!,
        alarmPort: t.app.ports.alarm!,
        rateHz: 20,
        loss: 0.2,
        journalDir: path.join(dir, 'journal'),
        seed: 5,
      });
      sim.start();
      await waitFor(
        () => (sim.status().sent + sim.status().dropped >= 120 ? true : undefined),
        10_000,
        'datagrams',
      );
      await sim.stop();
      const st = sim.status();
      expect(st.dropped).toBeGreaterThan(0);
      await waitFor(
        async () => {
          await t.services.vitals.flush();
          const r = await t.services.store.db
            .selectFrom('vital_samples')
            .select((eb) => eb.fn.countAll<number>().as('n'))
            .executeTakeFirstOrThrow();
          return Number(r.n) === st.sent ? true : undefined;
        },
        5000,
        'every sent datagram stored',
      );
    } finally {
      await t.close();
    }
  });
});
