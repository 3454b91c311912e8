/**
 * Makes sure the simulated patients and their monitors exist, idempotently: each device's key is
 * kept in a 0600 file beside the data (a device keeps its key), so a second run reuses the same
 * devices; a device registered earlier whose key file was lost is registered again with a new key.
 * Two ways in: the local store (the operator's machine, like `carewire device add`) or the admin
 * HTTP API of a running server.
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import type { Services } from '../services.ts';
import type { SimDevice } from './simulator.ts';

export interface DeviceSpec {
  deviceId: string;
  label: string;
  /** The patient it monitors, by MRN; created if missing. */
  patient: { mrn: string; givenName: string; familyName: string; ward: string; bed: string };
  scenario?: SimDevice['scenario'];
}

type KeyFile = Record<string, string>;

function readKeys(file: string): KeyFile {
  return existsSync(file) ? (JSON.parse(readFileSync(file, 'utf8')) as KeyFile) : {};
}

function writeKeys(file: string, keys: KeyFile): void {
  writeFileSync(file, `${JSON.stringify(keys, null, 2)}\n`, { mode: 0o600 });
}

const who = { agent: { username: 'simulator', role: 'operator', address: 'local' }, source: 'simulator' };

/** Through the services of a local store (demo, and `simulate` next to the server's data folder). */
export async function provisionLocal(
  s: Services,
  specs: readonly DeviceSpec[],
  keyFile: string,
): Promise<SimDevice[]> {
  const keys = readKeys(keyFile);
  const registered = new Set((await s.devices.list()).map((d) => d.id));
  const out: SimDevice[] = [];
  for (const spec of specs) {
    const p = spec.patient;
    const existing = await s.store.db
      .selectFrom('patients')
      .select('id')
      .where('mrn', '=', p.mrn)
      .executeTakeFirst();
    if (!existing) await s.patients.insert(p);
    let key = keys[spec.deviceId];
    if (!registered.has(spec.deviceId) || key === undefined) {
      if (registered.has(spec.deviceId)) await s.devices.remove(spec.deviceId, who);
      key = (
        await s.devices.add({ id: spec.deviceId, patient: p.mrn, description: 'CareWire simulator' }, who)
      ).key;
      keys[spec.deviceId] = key;
      writeKeys(keyFile, keys);
    }
    out.push({ deviceId: spec.deviceId, key, label: spec.label, scenario: spec.scenario });
  }
  return out;
}

/** Through the admin API of a running server (`simulate --server URL --admin-user … `). */
export async function provisionRemote(
  baseUrl: string,
  admin: { username: string; password: string },
  specs: readonly DeviceSpec[],
  keyFile: string,
): Promise<SimDevice[]> {
  const api = async (method: string, p: string, body?: unknown, token?: string) => {
    const res = await fetch(new URL(p, baseUrl), {
      method,
      headers: {
        ...(body === undefined ? {} : { 'content-type': 'application/json' }),
        ...(token ? { authorization: `Bearer ${token}` } : {}),
      },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await res.text();
    return { status: res.status, body: text ? (JSON.parse(text) as Record<string, unknown>) : null };
  };
  const login = await api('POST', '/api/auth/login', admin);
  if (login.status !== 200) throw new Error(`admin login failed (${login.status})`);
  const token = String((login.body as { accessToken?: string }).accessToken ?? '');
  const keys = readKeys(keyFile);
  const listed = await api('GET', '/api/devices', undefined, token);
  if (listed.status !== 200) throw new Error(`listing devices failed (${listed.status})`);
  const registered = new Set((listed.body as unknown as Array<{ id: string }>).map((d) => d.id));
  const out: SimDevice[] = [];
  for (const spec of specs) {
    const created = await api('POST', '/api/patients', spec.patient, token);
    if (created.status !== 201 && created.status !== 409)
      throw new Error(`creating patient ${spec.patient.mrn} failed (${created.status})`);
    let key = keys[spec.deviceId];
    if (!registered.has(spec.deviceId) || key === undefined) {
      if (registered.has(spec.deviceId))
        await api('DELETE', `/api/devices/${encodeURIComponent(spec.deviceId)}`, undefined, token);
      const r = await api(
        'POST',
        '/api/devices',
        { id: spec.deviceId, patient: spec.patient.mrn, description: 'CareWire simulator' },
        token,
      );
      if (r.status !== 201)
        throw new Error(`registering ${spec.deviceId} failed (${r.status}: ${JSON.stringify(r.body)})`);
      key = String((r.body as { key: string }).key);
      keys[spec.deviceId] = key;
      writeKeys(keyFile, keys);
    }
    out.push({ deviceId: spec.deviceId, key, label: spec.label, scenario: spec.scenario });
  }
  return out;
}

/** N simulated patients SIM-0001… with scenarios assigned to the first ones. */
export function simSpecs(
  n: number,
  scenarios: ReadonlyArray<[NonNullable<SimDevice['scenario']>, number]>,
): DeviceSpec[] {
  const assigned: Array<SimDevice['scenario']> = [];
  for (const [name, count] of scenarios) for (let i = 0; i < count; i++) assigned.push(name);
  if (assigned.length > n) throw new Error(`${assigned.length} scenarios for ${n} patients`);
  return Array.from({ length: n }, (_, i) => {
    const num = String(i + 1).padStart(4, '0');
    return {
      deviceId: `sim-mon-${num}`,
      label: `S${i + 1}`,
      patient: {
        mrn: `SIM-${num}`,
        givenName: 'Sim',
        familyName: `Patient ${num}`,
        ward: 'SIM',
        bed: `S${i + 1}`,
      },
      scenario: assigned[i],
    };
  });
}
