/**
 * The demo's bedside monitors: one per demo patient (MRN-1001…2002), registered idempotently in
 * the demo's store (keys in DATA/demo-devices.json, 0600), simulated against the demo's own
 * telemetry and alarm ports. Two patients deteriorate (sepsis in A3, hypoxia in B1) so NEWS2 and
 * alarms have something to show; the rest drift around their baselines.
 */

import { readFileSync } from 'node:fs';
import path from 'node:path';
import type { RunningApp } from '../app.ts';
import type { DemoDevice } from './demo-devices.ts';
import type { ScenarioName } from './patient-model.ts';
import { type DeviceSpec, provisionLocal } from './provision.ts';
import { Simulator } from './simulator.ts';

const DEMO_BEDS: Array<[mrn: string, ward: string, bed: string, scenario?: ScenarioName]> = [
  ['MRN-1001', 'ICU-A', 'A1'],
  ['MRN-1002', 'ICU-A', 'A2'],
  ['MRN-1003', 'ICU-A', 'A3', 'sepsis'],
  ['MRN-1004', 'ICU-A', 'A4'],
  ['MRN-1005', 'ICU-A', 'A5'],
  ['MRN-1006', 'ICU-A', 'A6'],
  ['MRN-2001', 'WARD-B', 'B1', 'hypoxia'],
  ['MRN-2002', 'WARD-B', 'B2'],
];

export async function startDemoMonitors(app: RunningApp): Promise<DemoDevice> {
  const s = app.services;
  const specs: DeviceSpec[] = [];
  for (const [mrn, ward, bed, scenario] of DEMO_BEDS) {
    const p = await s.store.db
      .selectFrom('patients')
      .select(['given_name', 'family_name'])
      .where('mrn', '=', mrn)
      .executeTakeFirst();
    if (!p) continue; // the demo seed names these patients; a changed seed simply gets fewer monitors
    specs.push({
      deviceId: `demo-mon-${bed.toLowerCase()}`,
      label: bed,
      patient: { mrn, givenName: p.given_name, familyName: p.family_name, ward, bed },
      scenario,
    });
  }
  const devices = await provisionLocal(s, specs, path.join(app.config.dataDir, 'demo-devices.json'));
  const sim = new Simulator({
    devices,
    host: app.config.host,
    telemetryPort: app.ports.telemetry!,
    alarmPort: app.ports.alarm!,
    rateHz: 1,
    rampMs: 240_000,
    journalDir: path.join(app.config.dataDir, 'demo-journal'),
    tls: app.tlsCertFile ? { ca: readFileSync(app.tlsCertFile, 'utf8') } : undefined,
  });
  sim.start();
  return {
    description: `${devices.length} bedside monitors → vitals udp :${app.ports.telemetry}, alarms tcp :${app.ports.alarm} (sepsis in A3, hypoxia in B1)`,
    stop: () => sim.stop(),
  };
}
