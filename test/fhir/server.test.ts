/**
 * The FHIR R4 API over real HTTP, on SQLite and PostgreSQL: every resource it returns passes the
 * independent validator; search semantics (dates, codes, sort, paging, bounds, unknown
 * parameters); the access policy on reads, searches and writes; conditional create, versions and
 * ETags; transaction atomicity and batch independence; errors as OperationOutcome.
 */
import type { Bundle, Observation, OperationOutcome, Patient } from '@medplum/fhirtypes';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { NewObservation } from '../../src/clinical/observations.ts';
import { SID } from '../../src/fhir/constants.ts';
import { dateMatches, parseDate } from '../../src/fhir/search-params.ts';
import type { Services } from '../../src/services.ts';
import { call, ENGINES, type Json, login, startTestApp, type TestApp } from '../helpers/app.ts';
import { PASSWORD, seedWorld, type World } from '../helpers/fixtures.ts';
import { expectValid, expectVitalSign } from './validator.ts';

const T0 = Date.parse('2024-03-05T00:00:00Z');
const MIN = 60_000;
/** Heart rates for the patient: 530 one minute apart, plus 3 sharing one instant (ties break by seq). */
const HR_TIMES = [
  ...Array.from({ length: 530 }, (_, i) => T0 + i * MIN),
  T0 + 100 * MIN,
  T0 + 100 * MIN,
  T0 + 100 * MIN,
];

const F = '/fhir/R4';

function expectOutcome(r: Json, status: number, code?: string): OperationOutcome {
  expect(r.status, JSON.stringify(r.body)).toBe(status);
  expect(r.headers.get('content-type')).toMatch(/^application\/fhir\+json/);
  const oo = r.body as OperationOutcome;
  expectValid(oo);
  expect(oo.resourceType).toBe('OperationOutcome');
  if (code) expect(oo.issue[0]?.code).toBe(code);
  return oo;
}

async function seedObservations(s: Services, w: World): Promise<void> {
  const list: NewObservation[] = HR_TIMES.map((t, i) => ({
    patientId: w.patients.own,
    code: '8867-4',
    mdcCode: i % 2 ? '147842' : undefined,
    valueNum: 60 + (i % 40),
    unit: '/min',
    category: 'vital-signs',
    effectiveAt: t,
    source: 'device',
  }));
  const at = T0 - 60 * MIN;
  list.push(
    {
      patientId: w.patients.own,
      code: '9279-1',
      valueNum: 16,
      unit: '/min',
      category: 'vital-signs',
      effectiveAt: at,
      source: 'device',
    },
    {
      patientId: w.patients.own,
      code: '2708-6',
      mdcCode: '150456',
      valueNum: 97,
      unit: '%',
      category: 'vital-signs',
      effectiveAt: at,
      source: 'device',
    },
    {
      patientId: w.patients.own,
      code: '8310-5',
      valueNum: 37.2,
      unit: 'Cel',
      category: 'vital-signs',
      effectiveAt: at,
      source: 'device',
    },
    {
      patientId: w.patients.own,
      code: '8480-6',
      mdcCode: '150021',
      valueNum: 121,
      unit: 'mm[Hg]',
      category: 'vital-signs',
      panel: '85354-9',
      effectiveAt: at,
      source: 'hl7',
    },
    {
      patientId: w.patients.own,
      code: '8462-4',
      mdcCode: '150022',
      valueNum: 79,
      unit: 'mm[Hg]',
      category: 'vital-signs',
      panel: '85354-9',
      effectiveAt: at,
      source: 'hl7',
    },
    {
      patientId: w.patients.own,
      code: '2345-7',
      codeSystem: 'http://loinc.org',
      valueNum: 5.4,
      unit: 'mmol/L',
      refRange: '3.9-5.8',
      category: 'laboratory',
      effectiveAt: at,
      source: 'hl7',
    },
    {
      patientId: w.patients.team,
      code: '8867-4',
      valueNum: 88,
      unit: '/min',
      category: 'vital-signs',
      effectiveAt: at,
      source: 'device',
    },
    {
      patientId: w.patients.other,
      code: '8867-4',
      valueNum: 99,
      unit: '/min',
      category: 'vital-signs',
      effectiveAt: at,
      source: 'device',
    },
  );
  await s.observations.insertIn(s.store.db, list);
  const now = Date.now();
  const alarm = (
    id: string,
    patient: string,
    state: string,
    priority: string,
    kind: string,
    category: string,
  ) => ({
    id,
    patient_id: patient,
    kind,
    category,
    priority,
    source: 'rule',
    state,
    latched: 0,
    condition_present: 1,
    text: `${kind} alarm`,
    value: 150,
    limit_value: 130,
    raised_at: now - 1000,
    high_since: null,
    acked_at: state === 'acknowledged' ? now : null,
    acked_by: state === 'acknowledged' ? 'clinician' : null,
    resolved_at: state === 'resolved' ? now : null,
    resolved_by: null,
    resolution: state === 'resolved' ? 'condition-cleared' : null,
    escalated_at: null,
    device_id: 'mon-1',
    device_alarm_id: `${id}-d`,
    updated_at: now,
  });
  await s.store.db
    .insertInto('alarms')
    .values([
      alarm('al-1', w.patients.own, 'active', 'high', 'hr-high', 'physiological'),
      alarm('al-2', w.patients.own, 'acknowledged', 'medium', 'spo2-low', 'physiological'),
      alarm('al-3', w.patients.own, 'resolved', 'low', 'lead-off', 'technical'),
      alarm('al-4', w.patients.other, 'active', 'high', 'asystole', 'physiological'),
    ])
    .execute();
}

describe.each(ENGINES)('FHIR R4 server on %s', (engine) => {
  let t: TestApp;
  let w: World;
  const tok = {} as Record<'admin' | 'clinician' | 'patient' | 'auditor', string>;
  const get = (path: string, role: keyof typeof tok = 'clinician') =>
    call(t.url, 'GET', F + path, { token: tok[role] });
  const entries = (b: Bundle) => (b.entry ?? []).map((e) => e.resource!);

  beforeAll(async () => {
    t = await startTestApp(engine, {}, async (s) => {
      w = await seedWorld(s);
      await seedObservations(s, w);
    });
    for (const role of ['admin', 'clinician', 'patient', 'auditor'] as const)
      tok[role] = (await login(t.url, role, PASSWORD)).body.accessToken;
  });
  afterAll(() => t.close());

  it('publishes a valid CapabilityStatement of exactly what is supported, without a token', async () => {
    const r = await call(t.url, 'GET', `${F}/metadata`);
    expect(r.status).toBe(200);
    expect(r.headers.get('content-type')).toMatch(/^application\/fhir\+json/);
    expectValid(r.body);
    const rest = r.body.rest[0];
    expect(rest.resource.map((x: { type: string }) => x.type)).toEqual([
      'Patient',
      'Observation',
      'Flag',
      'AuditEvent',
    ]);
    const obs = rest.resource.find((x: { type: string }) => x.type === 'Observation');
    expect(obs.searchParam.map((p: { name: string }) => p.name).sort()).toEqual([
      '_id',
      '_sort',
      'category',
      'code',
      'date',
      'identifier',
      'patient',
      'subject',
    ]);
    expect(rest.interaction.map((i: { code: string }) => i.code)).toEqual(['transaction', 'batch']);
    // What is listed works; what is not listed is refused.
    const sample: Record<string, string> = {
      _id: 'x',
      patient: w.patients.own,
      subject: `Patient/${w.patients.own}`,
      code: '8867-4',
      category: 'vital-signs',
      date: 'ge2024',
      identifier: 'urn:x|1',
      _sort: 'date',
    };
    for (const p of obs.searchParam as Array<{ name: string }>) {
      const r = await get(`/Observation?${p.name}=${encodeURIComponent(sample[p.name]!)}&_count=1`);
      expect(r.status, p.name).toBe(200);
    }
    expectOutcome(
      await get(`/Observation?patient=${w.patients.own}&value-quantity=gt5`),
      400,
      'not-supported',
    );
  });

  it('answers without a token, with a bad token and on unknown routes with an OperationOutcome', async () => {
    expectOutcome(await call(t.url, 'GET', `${F}/Patient/${w.patients.own}`), 401, 'login');
    expectOutcome(
      await call(t.url, 'GET', `${F}/Patient/${w.patients.own}`, { token: `${tok.clinician}x` }),
      401,
      'login',
    );
    expectOutcome(await get('/Encounter'), 404, 'not-found');
    const bad = await fetch(`${t.url}${F}/Patient`, {
      method: 'POST',
      headers: { authorization: `Bearer ${tok.admin}`, 'content-type': 'application/fhir+json' },
      body: '{"resourceType":"Patient",',
    });
    expect(bad.status).toBe(400);
    expectValid((await bad.json()) as OperationOutcome);
  });

  it('reads a patient with versionId and ETag; the policy decides who may', async () => {
    const r = await get(`/Patient/${w.patients.own}`);
    expect(r.status).toBe(200);
    expectValid(r.body);
    expect(r.body.identifier[0]).toMatchObject({ system: 'https://carewire.dev/fhir/sid/mrn', value: 'T-1' });
    expect(r.headers.get('etag')).toBe(`W/"${r.body.meta.versionId}"`);
    expect((await get(`/Patient/${w.patients.own}`, 'patient')).status).toBe(200);
    expectOutcome(await get(`/Patient/${w.patients.team}`, 'patient'), 403, 'forbidden');
    expectOutcome(await get(`/Patient/${w.patients.other}`), 403, 'forbidden');
    expectOutcome(await get(`/Patient/${w.patients.own}`, 'auditor'), 403);
    expect((await get(`/Patient/${w.patients.other}`, 'admin')).status).toBe(200);
    expectOutcome(await get('/Patient/no-such-patient', 'admin'), 404, 'not-found');
  });

  it('serves every vital sign and the BP panel to the vital-signs profile', async () => {
    const b = (await get(`/Observation?patient=${w.patients.own}&date=lt2024-03-05&_count=100`))
      .body as Bundle;
    expectValid(b);
    const byCode = new Map(
      entries(b).map((o) => [(o as Observation).code.coding?.[0]?.code, o as Observation]),
    );
    for (const code of ['9279-1', '2708-6', '8310-5', '85354-9']) {
      const o = byCode.get(code);
      expect(o, code).toBeDefined();
      expectVitalSign(o!);
      const read = await get(`/Observation/${o!.id}`);
      expect(read.status).toBe(200);
      expect(read.body).toEqual(o);
    }
    const bp = byCode.get('85354-9')!;
    expect(bp.component?.map((c) => [c.code.coding?.[0]?.code, c.valueQuantity?.value])).toEqual([
      ['8480-6', 121],
      ['8462-4', 79],
    ]);
    expect(byCode.get('2708-6')!.code.coding?.[1]).toMatchObject({
      system: 'urn:iso:std:iso:11073:10101',
      code: '150456',
    });
    const lab = byCode.get('2345-7')!;
    expectValid(lab);
    expect(lab.category?.[0]?.coding?.[0]?.code).toBe('laboratory');
    expect(lab.referenceRange?.[0]).toMatchObject({ low: { value: 3.9 }, high: { value: 5.8 } });
    // The diastolic row is a component, not an Observation of its own.
    const dia = await t.services.store.db
      .selectFrom('observations')
      .select('id')
      .where('code', '=', '8462-4')
      .executeTakeFirstOrThrow();
    expectOutcome(await get(`/Observation/${dia.id}`), 404, 'not-found');
  });

  it('searches codes with and without a system', async () => {
    const ids = async (q: string) =>
      entries((await get(`/Observation?patient=${w.patients.own}&${q}&_count=1000`)).body)
        .map((o) => o.id)
        .sort();
    const hr = await ids('code=http://loinc.org|8867-4');
    expect(hr).toHaveLength(HR_TIMES.length);
    expect(await ids('code=8867-4')).toEqual(hr);
    expect((await ids('code=urn:iso:std:iso:11073:10101|147842')).length).toBe(
      Math.floor(HR_TIMES.length / 2),
    );
    expect(await ids('code=http://snomed.info/sct|8867-4')).toEqual([]);
    expect(await ids('code=|8867-4')).toEqual([]);
    const bp = await ids('code=http://loinc.org|85354-9');
    expect(bp).toHaveLength(1);
    expect(await ids('code=urn:iso:std:iso:11073:10101|150020')).toEqual(bp);
    expect(await ids('code=8480-6')).toEqual([]); // a component, found through its panel
    expect((await ids('code=9279-1,8310-5')).length).toBe(2);
    expect((await ids('category=vital-signs')).length).toBe(HR_TIMES.length + 4);
    expect(
      (await ids('category=http://terminology.hl7.org/CodeSystem/observation-category|laboratory')).length,
    ).toBe(1);
  });

  it('finds observations by _id and by their own identifier, merged or not', async () => {
    const ids = async (q: string) =>
      entries((await get(`/Observation?${q}&_count=1000`)).body)
        .map((o) => o.id)
        .sort();
    const hr = await ids(`patient=${w.patients.own}&code=8867-4`);
    const [a, b] = hr;
    if (!a || !b) throw new Error('the seed has heart rates');
    const searched = async () => {
      expect(await ids(`_id=${a},${b},no-such-id`)).toEqual([a, b].sort());
      expect(await ids(`patient=${w.patients.own}&_id=${a}`)).toEqual([a]);
      expect(await ids(`patient=${w.patients.other}&_id=${a}`)).toEqual([]);
      expect(await ids(`identifier=${encodeURIComponent(`${SID.observation}|${b}`)}`)).toEqual([b]);
    };
    await searched();
    // The same once everything is in SQLite's merged search copy (a no-op on PostgreSQL).
    await t.services.store.mergeSearchCopies();
    await searched();
  });

  it('applies date prefixes exactly as FHIR defines them', async () => {
    const allTimes = [...HR_TIMES];
    for (const v of [
      '2024-03-05T01:40',
      'ge2024-03-05T01:40:00Z',
      'gt2024-03-05T01:40:00Z',
      'le2024-03-05T01:40:00Z',
      'lt2024-03-05T01:40:00Z',
      'eq2024-03-05',
      'ne2024-03-05T01:40:00Z',
      'sa2024-03-05T08:00:00Z',
      'eb2024-03-05T00:10:00.000Z',
      'ge2024-03-05T03:00:00+02:00',
    ]) {
      const r = await get(
        `/Observation?patient=${w.patients.own}&code=8867-4&date=${encodeURIComponent(v)}&_count=1000&_total=accurate`,
      );
      expect(r.status, v).toBe(200);
      const want = allTimes.filter((x) => dateMatches(parseDate(v), x)).length;
      expect(r.body.total, v).toBe(want);
      expect(r.body.entry?.length ?? 0, v).toBe(want);
    }
    const range = await get(
      `/Observation?patient=${w.patients.own}&code=8867-4&date=ge2024-03-05T01:00:00Z&date=lt2024-03-05T02:00:00Z&_total=accurate`,
    );
    expect(range.body.total).toBe(60 + 3);
    expectOutcome(await get(`/Observation?patient=${w.patients.own}&date=yesterday`), 400, 'invalid');
  });

  it('sorts by date both ways and pages over 500 results without gaps or repeats', async () => {
    for (const sort of ['date', '-date']) {
      const seen: string[] = [];
      const times: number[] = [];
      let url: string | undefined =
        `${F}/Observation?patient=${w.patients.own}&code=http://loinc.org|8867-4&_sort=${sort}&_count=37`;
      let pages = 0;
      while (url) {
        const r = await call(t.url, 'GET', url.replace(/^https?:\/\/[^/]+/, ''), { token: tok.clinician });
        expect(r.status).toBe(200);
        if (pages === 0) expectValid(r.body);
        for (const o of entries(r.body)) {
          seen.push(o.id!);
          times.push(Date.parse((o as Observation).effectiveDateTime!));
        }
        url = r.body.link.find((l: { relation: string }) => l.relation === 'next')?.url;
        pages++;
        // Rows written between pages must neither shift the pages nor appear twice.
        if (pages === 3)
          await t.services.observations.insertIn(t.services.store.db, [
            {
              patientId: w.patients.team,
              code: '8867-4',
              valueNum: 1,
              unit: '/min',
              effectiveAt: T0 + 5 * MIN,
              source: 'device',
            },
          ]);
      }
      expect(new Set(seen).size).toBe(seen.length);
      expect(seen.length).toBe(HR_TIMES.length);
      expect(pages).toBe(Math.ceil(HR_TIMES.length / 37));
      const sorted = [...times].sort((a, b) => (sort === 'date' ? a - b : b - a));
      expect(times).toEqual(sorted);
    }
  });

  it('keeps _count within bounds and refuses malformed paging', async () => {
    const base = `/Observation?patient=${w.patients.own}&code=8867-4`;
    const big = await get(`${base}&_count=5000`);
    expect(big.body.entry).toHaveLength(HR_TIMES.length);
    expect(big.body.link[0].url).toContain('_count=1000');
    const zero = await get(`${base}&_count=0&_total=accurate`);
    expect(zero.body).toMatchObject({ total: HR_TIMES.length });
    expect(zero.body.entry).toEqual([]);
    expect((await get(`${base}&_count=1`)).body.entry).toHaveLength(1);
    for (const bad of [
      '_count=-1',
      '_count=abc',
      '_count=1.5',
      '_total=maybe',
      '_cursor=garbage!',
      '_sort=value',
      '_format=xml',
    ]) {
      expectOutcome(await get(`${base}&${bad}`), bad === '_format=xml' ? 406 : 400);
    }
    expectOutcome(await get(`${base}&code:text=heart`), 400, 'not-supported');
    const asc = (await get(`${base}&_sort=date&_count=2`)).body.link[1].url as string;
    expectOutcome(
      await get(asc.replace(/^https?:\/\/[^/]+\/fhir\/R4/, '').replace('_sort=date', '_sort=-date')),
      400,
    );
  });

  it('lets a patient see only their own observations, in reads and searches, and totals never leak', async () => {
    const mine = await get('/Observation?_count=1000&_total=accurate', 'patient');
    expect(mine.status).toBe(200);
    const patients = new Set(entries(mine.body).map((o) => (o as Observation).subject?.reference));
    expect([...patients]).toEqual([`Patient/${w.patients.own}`]);
    const all = await t.services.store.db
      .selectFrom('observations')
      .select((eb) => eb.fn.countAll<number>().as('n'))
      .executeTakeFirstOrThrow();
    expect(mine.body.total).toBeLessThan(Number(all.n));
    expectOutcome(await get(`/Observation?patient=${w.patients.team}`, 'patient'), 403, 'forbidden');
    expectOutcome(await get(`/Observation?subject=Patient/${w.patients.other}`, 'patient'), 403);
    const teamObs = await t.services.store.db
      .selectFrom('observations')
      .select('id')
      .where('patient_id', '=', w.patients.team)
      .executeTakeFirstOrThrow();
    expectOutcome(await get(`/Observation/${teamObs.id}`, 'patient'), 403, 'forbidden');
    expect((await get(`/Observation/${teamObs.id}`, 'clinician')).status).toBe(200);
    const pats = await get('/Patient?_total=accurate', 'patient');
    expect(entries(pats.body).map((p) => p.id)).toEqual([w.patients.own]);
    expect(pats.body.total).toBe(1);
  });

  it('refuses a clinician outside the care team, admins and auditors clinical data, and audits each access', async () => {
    const denied = await get(`/Observation?patient=${w.patients.other}&code=8867-4`);
    expectOutcome(denied, 403, 'forbidden');
    const otherObs = await t.services.store.db
      .selectFrom('observations')
      .select('id')
      .where('patient_id', '=', w.patients.other)
      .executeTakeFirstOrThrow();
    expectOutcome(await get(`/Observation/${otherObs.id}`), 403);
    expectOutcome(await get('/Observation', 'admin'), 403);
    expectOutcome(await get('/Observation', 'auditor'), 403);
    const broad = await get('/Observation?_count=1000&_total=accurate');
    const seen = new Set(entries(broad.body).map((o) => (o as Observation).subject?.reference));
    expect(seen.has(`Patient/${w.patients.other}`)).toBe(false);
    expect(seen.has(`Patient/${w.patients.team}`)).toBe(true);
    await t.services.audit.flush();
    const ev = await t.services.audit.query({ userId: w.users.clinician, limit: 1000 });
    expect(
      ev.some((e) => e.type === 'access.denied' && e.patientId === w.patients.other && e.source === 'fhir'),
    ).toBe(true);
    const search = ev.filter((e) => e.type === 'observation.search').at(-1)!;
    expect(search.source).toBe('fhir');
    expect([...((search.detail?.patientIds ?? []) as string[])].sort()).toEqual(
      [w.patients.own, w.patients.team].sort(),
    );
  });

  it('serves alarms as Flags searchable by patient and status', async () => {
    const r = await get(`/Flag?patient=${w.patients.own}&_total=accurate`);
    expect(r.status).toBe(200);
    expectValid(r.body);
    expect(r.body.total).toBe(3);
    const flags = entries(r.body) as Array<import('@medplum/fhirtypes').Flag>;
    const al1 = flags.find((f) => f.id === 'al-1')!;
    expect(al1.status).toBe('active');
    expect(
      al1.extension?.find((e) => e.url.endsWith('flag-priority'))?.valueCodeableConcept?.coding?.[0]?.code,
    ).toBe('PH');
    expect(flags.find((f) => f.id === 'al-3')).toMatchObject({
      status: 'inactive',
      category: [{ coding: [{ code: 'safety' }] }],
    });
    const active = entries((await get(`/Flag?patient=${w.patients.own}&status=active`)).body)
      .map((f) => f.id)
      .sort();
    expect(active).toEqual(['al-1', 'al-2']);
    expect(
      entries((await get(`/Flag?patient=${w.patients.own}&status=inactive`)).body).map((f) => f.id),
    ).toEqual(['al-3']);
    expect(entries((await get('/Flag?status=active')).body).map((f) => f.id)).not.toContain('al-4');
    expectOutcome(await get(`/Flag?patient=${w.patients.other}`), 403);
    expectOutcome(await get('/Flag?status=done'), 400);
    expectValid((await get('/Flag/al-2')).body);
    expectOutcome(await get('/Flag/al-4'), 403);
  });

  it('shows the audit log to auditors as AuditEvents, and to no one else', async () => {
    const r = await get(`/AuditEvent?patient=${w.patients.own}&_count=5`, 'auditor');
    expect(r.status).toBe(200);
    expectValid(r.body);
    expect(r.body.entry.length).toBe(5);
    const first = entries(r.body)[0]!;
    const one = await get(`/AuditEvent/${first.id}`, 'auditor');
    expect(one.body).toEqual(first);
    const next = r.body.link
      .find((l: { relation: string }) => l.relation === 'next')
      .url.replace(/^https?:\/\/[^/]+\/fhir\/R4/, '');
    const page2 = await get(next, 'auditor');
    expect(Number(entries(page2.body)[0]!.id)).toBeGreaterThan(Number(entries(r.body)[4]!.id));
    const denials = await get(`/AuditEvent?type=access.denied&altid=${w.users.clinician}`, 'auditor');
    expect(entries(denials.body).every((e) => (e as { outcome: string }).outcome === '4')).toBe(true);
    expectOutcome(await get('/AuditEvent', 'clinician'), 403);
    expectOutcome(await get('/AuditEvent?_total=accurate', 'auditor'), 400, 'not-supported');
    expectOutcome(await get('/AuditEvent/999999999', 'auditor'), 404);
  });

  it('creates patients (admin), conditionally on the MRN, and updates them with If-Match', async () => {
    const body: Patient = {
      resourceType: 'Patient',
      identifier: [{ system: 'https://carewire.dev/fhir/sid/mrn', value: 'NEW-1' }],
      name: [{ family: 'Hopper', given: ['Grace'] }],
      gender: 'female',
      birthDate: '1906-12-09',
    };
    const post = (token: string, headers: Record<string, string> = {}) =>
      call(t.url, 'POST', `${F}/Patient`, { token, body, headers: { ...headers } });
    expectOutcome(await post(tok.clinician), 403, 'forbidden');
    const created = await post(tok.admin);
    expect(created.status).toBe(201);
    expectValid(created.body);
    expect(created.headers.get('location')).toMatch(
      new RegExp(`/fhir/R4/Patient/${created.body.id}/_history/1$`),
    );
    expect(created.headers.get('etag')).toBe('W/"1"');
    expectOutcome(await post(tok.admin), 409, 'conflict');
    const cond = await post(tok.admin, {
      'if-none-exist': 'identifier=https://carewire.dev/fhir/sid/mrn|NEW-1',
    });
    expect(cond.status).toBe(200);
    expect(cond.body.id).toBe(created.body.id);
    expect(
      (await get('/Patient?identifier=https://carewire.dev/fhir/sid/mrn|NEW-1', 'admin')).body.entry,
    ).toHaveLength(1);
    expect((await get('/Patient?name=grac&gender=female&birthdate=1906', 'admin')).body.entry).toHaveLength(
      1,
    );
    expect((await get('/Patient?name:exact=grac', 'admin')).body.entry ?? []).toHaveLength(0);
    expect((await get('/Patient?birthdate=gt1906-12-09', 'admin')).body.entry ?? []).toHaveLength(0);
    expectOutcome(
      await call(t.url, 'POST', `${F}/Patient`, { token: tok.admin, body: { ...body, identifier: [] } }),
      422,
      'processing',
    );

    const id = created.body.id as string;
    const put = (b: unknown, ifMatch?: string) =>
      call(t.url, 'PUT', `${F}/Patient/${id}`, {
        token: tok.admin,
        body: b,
        headers: ifMatch ? { 'if-match': ifMatch } : {},
      });
    const updated = await put(
      { ...body, id, name: [{ family: 'Hopper', given: ['Grace', 'Brewster'] }] },
      'W/"1"',
    );
    expect(updated.status).toBe(200);
    expect(updated.headers.get('etag')).toBe('W/"2"');
    expectOutcome(await put({ ...body, id }, 'W/"1"'), 412);
    expectOutcome(await put({ ...body, id: 'other' }), 400);
    expectOutcome(
      await call(t.url, 'PUT', `${F}/Patient/nope`, { token: tok.admin, body: { ...body, id: 'nope' } }),
      404,
    );
    // A writer that knows nothing of FHIR (the registry) still produces a new version.
    await t.services.store.db.updateTable('patients').set({ bed: '7' }).where('id', '=', id).execute();
    expect((await get(`/Patient/${id}`, 'admin')).headers.get('etag')).toBe('W/"3"');
  });

  it('runs a transaction Bundle atomically and a batch entry by entry', async () => {
    const patient: Patient = {
      resourceType: 'Patient',
      identifier: [{ system: 'https://carewire.dev/fhir/sid/mrn', value: 'TX-1' }],
      name: [{ family: 'Turing', given: ['Alan'] }],
    };
    const hr: Observation = {
      resourceType: 'Observation',
      status: 'final',
      identifier: [{ system: 'urn:test:obs', value: 'hr-1' }],
      category: [
        {
          coding: [
            { system: 'http://terminology.hl7.org/CodeSystem/observation-category', code: 'vital-signs' },
          ],
        },
      ],
      code: { coding: [{ system: 'http://loinc.org', code: '8867-4' }] },
      subject: { reference: 'urn:uuid:6f1c0d8e-0000-4000-8000-000000000001' },
      effectiveDateTime: '2024-03-06T08:00:00Z',
      valueQuantity: { value: 64, unit: '/min', system: 'http://unitsofmeasure.org', code: '/min' },
    };
    const bp: Observation = {
      ...hr,
      identifier: [{ system: 'urn:test:obs', value: 'bp-1' }],
      code: { coding: [{ system: 'http://loinc.org', code: '85354-9' }] },
      valueQuantity: undefined,
      component: [
        {
          code: { coding: [{ system: 'http://loinc.org', code: '8480-6' }] },
          valueQuantity: { value: 118, system: 'http://unitsofmeasure.org', code: 'mm[Hg]' },
        },
        {
          code: { coding: [{ system: 'http://loinc.org', code: '8462-4' }] },
          valueQuantity: { value: 76, system: 'http://unitsofmeasure.org', code: 'mm[Hg]' },
        },
      ],
    };
    const tx = (obs: Observation[], type: 'transaction' | 'batch' = 'transaction'): Bundle => ({
      resourceType: 'Bundle',
      type,
      entry: [
        {
          fullUrl: 'urn:uuid:6f1c0d8e-0000-4000-8000-000000000001',
          resource: patient,
          request: {
            method: 'POST',
            url: 'Patient',
            ifNoneExist: 'identifier=https://carewire.dev/fhir/sid/mrn|TX-1',
          },
        },
        ...obs.map((o) => ({
          resource: o,
          request: {
            method: 'POST' as const,
            url: 'Observation',
            ifNoneExist: `identifier=${o.identifier![0]!.system}|${o.identifier![0]!.value}`,
          },
        })),
      ],
    });
    const count = async () =>
      Number(
        (
          await t.services.store.db
            .selectFrom('observations')
            .select((eb) => eb.fn.countAll<number>().as('n'))
            .executeTakeFirstOrThrow()
        ).n,
      );
    const patients = async () =>
      Number(
        (
          await t.services.store.db
            .selectFrom('patients')
            .select((eb) => eb.fn.countAll<number>().as('n'))
            .executeTakeFirstOrThrow()
        ).n,
      );

    // Atomic: the bad entry refuses the whole transaction, the patient included.
    const [obsBefore, patBefore] = [await count(), await patients()];
    const broken = await call(t.url, 'POST', F, {
      token: tok.admin,
      body: tx([hr, { ...bp, subject: { reference: 'Patient/does-not-exist' } }]),
    });
    expectOutcome(broken, 404);
    expect(broken.body.issue[0].diagnostics).toMatch(/^entry 2: /);
    expect([await count(), await patients()]).toEqual([obsBefore, patBefore]);
    expectOutcome(await call(t.url, 'POST', F, { token: tok.clinician, body: tx([hr]) }), 403);

    const ok = await call(t.url, 'POST', F, { token: tok.admin, body: tx([hr, bp]) });
    expect(ok.status).toBe(200);
    expectValid(ok.body);
    expect(ok.body.type).toBe('transaction-response');
    expect(ok.body.entry.map((e: { response: { status: string } }) => e.response.status)).toEqual([
      '201 Created',
      '201 Created',
      '201 Created',
    ]);
    expect([await count(), await patients()]).toEqual([obsBefore + 3, patBefore + 1]);
    const again = await call(t.url, 'POST', F, { token: tok.admin, body: tx([hr, bp]) });
    expect(again.body.entry.map((e: { response: { status: string } }) => e.response.status)).toEqual([
      '200 OK',
      '200 OK',
      '200 OK',
    ]);
    expect([await count(), await patients()]).toEqual([obsBefore + 3, patBefore + 1]);
    // What the admin imported is served (to a reader) as the vital-signs profile asks.
    const pid = ok.body.entry[0].response.location.split('/')[1];
    await t.services.careTeams.linkTrusted(w.users.clinician, pid);
    const stored = await get(`/Observation?patient=${pid}&code=85354-9`);
    expectVitalSign(entries(stored.body)[0] as Observation);
    expect(entries(stored.body)[0]).toMatchObject({
      identifier: [{ system: 'urn:test:obs', value: 'bp-1' }],
    });
    // The admin imports but cannot read back.
    expectOutcome(await get(`/Observation?patient=${pid}`, 'admin'), 403);

    const batch = await call(t.url, 'POST', F, {
      token: tok.admin,
      body: tx(
        [
          { ...hr, identifier: [{ system: 'urn:test:obs', value: 'hr-2' }] },
          { ...hr, status: 'nonsense' as never, identifier: [{ system: 'urn:test:obs', value: 'hr-3' }] },
        ],
        'batch',
      ),
    });
    expect(batch.status).toBe(200);
    expectValid(batch.body);
    expect(batch.body.entry.map((e: { response: { status: string } }) => e.response.status)).toEqual([
      '200 OK',
      '422 Unprocessable Entity',
      '422 Unprocessable Entity',
    ]);
    expectOutcome(
      await call(t.url, 'POST', F, {
        token: tok.admin,
        body: { resourceType: 'Bundle', type: 'collection' },
      }),
      422,
    );
    expectOutcome(
      await call(t.url, 'POST', F, {
        token: tok.admin,
        body: {
          resourceType: 'Bundle',
          type: 'transaction',
          entry: [{ request: { method: 'DELETE', url: 'Patient/x' } }],
        },
      }),
      400,
      'not-supported',
    );
  });

  it('lets a clinician add an observation for a care-team patient only', async () => {
    const o: Observation = {
      resourceType: 'Observation',
      status: 'final',
      code: { coding: [{ system: 'http://loinc.org', code: '9279-1' }] },
      subject: { reference: `Patient/${w.patients.team}` },
      effectiveDateTime: '2024-03-07T08:00:00Z',
      valueQuantity: { value: 18, system: 'http://unitsofmeasure.org', code: '/min' },
    };
    const r = await call(t.url, 'POST', `${F}/Observation`, { token: tok.clinician, body: o });
    expect(r.status).toBe(201);
    expectVitalSign(r.body);
    expect(r.headers.get('location')).toContain(`/Observation/${r.body.id}`);
    expectOutcome(
      await call(t.url, 'POST', `${F}/Observation`, {
        token: tok.clinician,
        body: { ...o, subject: { reference: `Patient/${w.patients.other}` } },
      }),
      403,
    );
  });
});
