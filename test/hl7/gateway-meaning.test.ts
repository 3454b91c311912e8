/**
 * What HL7 messages mean once received, end to end on both engines: ADT admits, updates and
 * discharges registry patients; ORU results appear as observations through the REST API (LOINC
 * with the MDC code kept, UCUM units, ranges, flags, times); content errors are AE naming the
 * field; the admin search API; and the `hl7 export` file.
 */
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MllpClient } from '../../src/hl7/client.ts';
import { call, ENGINES, login } from '../helpers/app.ts';
import { runCli } from '../helpers/cli.ts';
import { PASSWORD, seedWorld, type World } from '../helpers/fixtures.ts';
import { type Hl7App, startHl7App } from './gateway-helpers.ts';

const A01 = [
  'MSH|^~\\&|ADT|HOSP|CW|CW|20260301080000+0100||ADT^A01^ADT_A01|ADT-1|P|2.5.1',
  'EVN|A01|20260301075500+0100',
  'PID|1||T-2^^^HOSP^MR~99887766^^^NHS^NH||Mate^Tea^J||19700214|F',
  'PV1|1|I|ICU-B^12^B7',
  '',
].join('\r');
const A08 = A01.replace('ADT^A01', 'ADT^A08').replace('ADT-1', 'ADT-2').replace('Mate^Tea', 'Mate-Smith^Tea');
const A03 = [
  'MSH|^~\\&|ADT|HOSP|CW|CW|20260305120000+0000||ADT^A03^ADT_A03|ADT-3|P|2.5.1',
  'EVN|A03|20260305120000+0000',
  'PID|1||T-2^^^HOSP^MR||Mate-Smith^Tea',
  `PV1|1|I|ICU-B^12^B7${'|'.repeat(42)}20260305115900+0000`, // PV1-45 discharge time
  '',
].join('\r');
const PCD01 = [
  'MSH|^~\\&|MON^ABCDEF0123456789^EUI-64|ICU|CW|CW|20260301090000+0000||ORU^R01^ORU_R01|PCD-1|P|2.6|||NE|AL',
  'PID|1||T-2^^^HOSP^MR',
  'OBR|1|PCD-1^MON||182777000^monitoring of patient^SCT|||20260301090000+0000',
  'OBX|1|NM|147842^MDC_ECG_HEART_RATE^MDC|1.1.1.1|88|264864^MDC_DIM_BEAT_PER_MIN^MDC|50-120||||R|||20260301085959+0000',
  'OBX|2|NM|150456^MDC_PULS_OXIM_SAT_O2^MDC|1.1.1.2|91|262688^MDC_DIM_PERCENT^MDC|94-100|L|||F',
  'OBX|3|NM|150021^MDC_PRESS_BLD_NONINV_SYS^MDC|1.1.1.3|141|266016^MDC_DIM_MMHG^MDC||H|||F|||20260301085958+0000',
  'OBX|4|NM|188736^MDC_MASS_BODY_ACTUAL^MDC|1.1.1.4|71.5|263875^MDC_DIM_KILO_G^MDC||||F',
  '',
].join('\r');
const LAB_NEW_PATIENT = [
  'MSH|^~\\&|LAB|HOSP|CW|CW|20260302100000||ORU^R01|LAB-1|P|2.5.1',
  'PID|1||NEW-77^^^HOSP^MR||Newman^Nora||19881130|F',
  'OBR|1|||24321-2^BMP^LN|||20260302094500',
  'OBX|1|NM|2823-3^Potassium^LN||5.9|mmol/L^mmol/L^UCUM|3.5-5.1|H~A|||F',
  'OBX|2|SN|2160-0^Creatinine^LN||<^10|umol/L|62-106||||F',
  'OBX|3|ST|8251-1^Comment^LN||hemolysed\\E\\repeat||||||C',
  '',
].join('\r');
const LAB_BAD_NUMBER = LAB_NEW_PATIENT.replace('LAB-1', 'LAB-2').replace('|5.9|', '|five|');

describe.each(ENGINES)('HL7 meaning on %s', (engine) => {
  let t: Hl7App;
  let world: World;
  let clinician: string;
  let admin: string;
  const acks: Record<string, { code: string | undefined; errors: string[] }> = {};

  beforeAll(async () => {
    // The lab sends local times without an offset (as v2.5 labs often do): read in Berlin time.
    t = await startHl7App(engine, { hl7Timezone: 'Europe/Berlin' }, async (s) => {
      world = await seedWorld(s);
    });
    const c = await MllpClient.connect({ host: '127.0.0.1', port: t.port });
    for (const [name, m] of Object.entries({ A01, A08, PCD01, LAB_NEW_PATIENT, LAB_BAD_NUMBER })) {
      const r = await c.send(m, { timeoutMs: 10_000 });
      acks[name] = { code: r.code, errors: r.acks.flatMap((a) => a.errors) };
    }
    await c.close();
    clinician = (await login(t.url, 'clinician', PASSWORD)).body.accessToken;
    admin = (await login(t.url, 'admin', PASSWORD)).body.accessToken;
  });
  afterAll(async () => {
    await t.close();
  });

  it('acknowledges each message as its content deserves', () => {
    expect(acks.A01?.code).toBe('AA');
    expect(acks.A08?.code).toBe('AA');
    expect(acks.PCD01?.code).toBe('AA'); // enhanced mode NE/AL: the application ACK only
    expect(acks.LAB_NEW_PATIENT?.code).toBe('AA');
    expect(acks.LAB_BAD_NUMBER?.code).toBe('AE');
    expect(acks.LAB_BAD_NUMBER?.errors.join(' ')).toMatch(/102 .*OBX\[1\]-5 "five" is not a number/);
  });

  it('ADT admits and updates the registry patient by MRN: name, sex, birth date, ward and bed, identifiers', async () => {
    const p = await call(t.url, 'GET', `/api/patients/${world.patients.team}`, { token: admin });
    expect(p.status).toBe(200);
    expect(p.body).toMatchObject({
      mrn: 'T-2',
      familyName: 'Mate-Smith',
      givenName: 'Tea',
      sex: 'female',
      birthDate: '1970-02-14',
      ward: 'ICU-B',
      bed: 'B7',
    });
    const row = await t.services.store.db
      .selectFrom('patients')
      .select(['identifiers', 'admitted_at', 'discharged_at'])
      .where('id', '=', world.patients.team)
      .executeTakeFirstOrThrow();
    expect(JSON.parse(row.identifiers!)).toEqual([
      { value: 'T-2', type: 'MR', authority: 'HOSP' },
      { value: '99887766', type: 'NH', authority: 'NHS' },
    ]);
    expect(Number(row.admitted_at)).toBe(Date.parse('2026-03-01T06:55:00Z'));
    expect(row.discharged_at).toBeNull();
  });

  it('ORU observations are visible through GET /api/patients/:id/observations', async () => {
    const r = await call(t.url, 'GET', `/api/patients/${world.patients.team}/observations`, {
      token: clinician,
    });
    expect(r.status).toBe(200);
    const byMdc = Object.fromEntries(
      (r.body as Array<Record<string, unknown>>).map((o) => [o.mdcCode as string, o]),
    );
    expect(byMdc['147842']).toMatchObject({
      code: '8867-4',
      codeSystem: 'http://loinc.org',
      valueNum: 88,
      unit: '/min',
      refRange: '50-120',
      status: 'preliminary',
      category: 'vital-signs',
      source: 'hl7',
      effectiveAt: Date.parse('2026-03-01T08:59:59Z'),
    });
    // No OBX-14: the time is OBR-7.
    expect(byMdc['150456']).toMatchObject({
      code: '2708-6',
      unit: '%',
      abnormalFlags: 'L',
      effectiveAt: Date.parse('2026-03-01T09:00:00Z'),
    });
    expect(byMdc['150021']).toMatchObject({ code: '8480-6', unit: 'mm[Hg]', panel: '85354-9' });
    // An MDC code without a LOINC vital sign keeps its MDC coding.
    expect(byMdc['188736']).toMatchObject({ code: '188736', codeSystem: 'urn:iso:std:iso:11073:10101' });
  });

  it('an ORU for an unknown MRN creates the patient from PID; AE messages apply nothing', async () => {
    const row = await t.services.store.db
      .selectFrom('patients')
      .selectAll()
      .where('mrn', '=', 'NEW-77')
      .executeTakeFirstOrThrow();
    expect(row).toMatchObject({
      given_name: 'Nora',
      family_name: 'Newman',
      sex: 'female',
      birth_date: '1988-11-30',
    });
    const obs = await t.services.store.db
      .selectFrom('observations')
      .selectAll()
      .where('patient_id', '=', row.id)
      .orderBy('code')
      .execute();
    // Only LAB-1's three values: LAB-2 (AE) stored nothing but its raw message.
    expect(obs.map((o) => [o.code, o.value_num, o.value_text, o.unit, o.abnormal_flags, o.status])).toEqual([
      ['2160-0', null, '<10', 'umol/L', null, 'final'],
      ['2823-3', 5.9, null, 'mmol/L', 'H,A', 'final'],
      ['8251-1', null, 'hemolysed\\repeat', null, null, 'corrected'],
    ]);
    // OBR-7 09:45 without an offset, in Berlin (CET, UTC+1): 08:45 UTC.
    expect(obs.every((o) => Number(o.effective_at) === Date.parse('2026-03-02T08:45:00Z'))).toBe(true);
  });

  it('ADT^A03 discharges: discharge time set, ward and bed cleared', async () => {
    const c = await MllpClient.connect({ host: '127.0.0.1', port: t.port });
    expect((await c.send(A03, { timeoutMs: 10_000 })).code).toBe('AA');
    await c.close();
    const row = await t.services.store.db
      .selectFrom('patients')
      .select(['ward', 'bed', 'discharged_at'])
      .where('mrn', '=', 'T-2')
      .executeTakeFirstOrThrow();
    expect(row).toEqual({ ward: null, bed: null, discharged_at: Date.parse('2026-03-05T11:59:00Z') });
  });

  it('GET /api/hl7/messages: admins search by type, control id, ack code, patient, time; others get 403; audited', async () => {
    const all = await call(t.url, 'GET', '/api/hl7/messages?limit=2', { token: admin });
    expect(all.status).toBe(200);
    expect(all.body.items).toHaveLength(2);
    expect(all.body.next).toBeTypeOf('number');
    const older = await call(t.url, 'GET', `/api/hl7/messages?limit=100&before=${all.body.next}`, {
      token: admin,
    });
    const ids = [...all.body.items, ...older.body.items].map((m: { controlId: string }) => m.controlId);
    expect(ids.sort()).toEqual(['ADT-1', 'ADT-2', 'ADT-3', 'LAB-1', 'LAB-2', 'PCD-1']);
    const ae = await call(t.url, 'GET', '/api/hl7/messages?ackCode=AE', { token: admin });
    expect(ae.body.items.map((m: { controlId: string }) => m.controlId)).toEqual(['LAB-2']);
    expect(ae.body.items[0].error).toContain('OBX[1]-5');
    expect(ae.body.items[0].acks[0]).toMatch(/^MSH\|.*\rMSA\|AE\|LAB-2\r/);
    const oru = await call(t.url, 'GET', `/api/hl7/messages?type=ORU&patient=${world.patients.team}`, {
      token: admin,
    });
    expect(oru.body.items.map((m: { controlId: string }) => m.controlId)).toEqual(['PCD-1']);
    expect(oru.body.items[0].raw).toBe(PCD01);
    const byId = await call(t.url, 'GET', '/api/hl7/messages?controlId=ADT-2', { token: admin });
    expect(byId.body.items).toHaveLength(1);
    const future = await call(t.url, 'GET', '/api/hl7/messages?from=2999-01-01T00:00:00Z', { token: admin });
    expect(future.body.items).toEqual([]);
    const denied = await call(t.url, 'GET', '/api/hl7/messages', { token: clinician });
    expect(denied.status).toBe(403);
    const bad = await call(t.url, 'GET', '/api/hl7/messages?limit=0', { token: admin });
    expect(bad.status).toBe(400);
    await t.services.audit.flush();
    const searches = await t.services.audit.query({ type: 'hl7.search', limit: 100 });
    expect(searches.length).toBeGreaterThanOrEqual(6);
    const denials = await t.services.audit.query({ type: 'access.denied', limit: 100 });
    expect(denials.some((d) => d.detail?.requested === 'hl7:read')).toBe(true);
  });

  it('carewire hl7 export writes patient_<id>.json with the patient and records newest first', async () => {
    if (engine === 'postgres') return; // the CLI opens the SQLite file of the data folder
    const out = mkdtempSync(path.join(tmpdir(), 'cw-export-'));
    const r = await runCli(['hl7', 'export', '--patient', 'NEW-77', '--out', out, '--data', t.dataDir]);
    expect(r.code, r.stderr).toBe(0);
    const doc = JSON.parse(readFileSync(path.join(out, 'patient_NEW-77.json'), 'utf8'));
    expect(Object.keys(doc)).toEqual(['id', 'mrn', 'name', 'surname', 'sex', 'dateOfBirth', 'records']);
    expect(doc).toMatchObject({
      mrn: 'NEW-77',
      name: 'Nora',
      surname: 'Newman',
      sex: 'female',
      dateOfBirth: '1988-11-30',
    });
    expect(doc.records).toHaveLength(3);
    expect(Object.keys(doc.records[0])).toEqual([
      'Timestamp',
      'ObservationID',
      'ObservationValue',
      'Units',
      'ReferenceRange',
      'AbnormalFlags',
    ]);
    expect(doc.records).toContainEqual({
      Timestamp: '2026-03-02T08:45:00.000Z',
      ObservationID: '2823-3',
      ObservationValue: 5.9,
      Units: 'mmol/L',
      ReferenceRange: '3.5-5.1',
      AbnormalFlags: 'H,A',
    });
    const missing = await runCli(['hl7', 'export', '--patient', 'NOPE', '--out', out, '--data', t.dataDir]);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toContain('no patient with id or MRN NOPE');
  });

  it('searches a patient with many messages page by page, filters reaching past many newer ones', async () => {
    // 1,200 messages of one patient: the 3 oldest ADT, then ORU (more than two chunks of ids).
    const rows = Array.from({ length: 1200 }, (_, i) => ({
      dedup_key: `BULK|B-${i}`,
      control_id: `B-${i}`,
      sending_app: 'BULK',
      sending_facility: 'HOSP',
      message_type: i < 3 ? 'ADT' : 'ORU',
      trigger_event: i < 3 ? 'A08' : 'R01',
      version: '2.5.1',
      received_at: 1_000 + i,
      raw: 'MSH|…',
      ack: '',
      ack_code: 'AA',
      patient_id: 'p-many',
    }));
    for (let k = 0; k < rows.length; k += 200) {
      await t.services.store.db
        .insertInto('hl7_messages')
        .values(rows.slice(k, k + 200))
        .execute();
    }
    const get = (q: string) => call(t.url, 'GET', `/api/hl7/messages?patient=p-many&${q}`, { token: admin });
    const adt = await get('type=ADT&limit=100');
    expect(adt.body.items.map((m: { controlId: string }) => m.controlId)).toEqual(['B-2', 'B-1', 'B-0']);
    expect(adt.body.next).toBeNull();
    // Pages of 400 walk all 1,200, newest first, without a gap or a repeat.
    const seen: string[] = [];
    let before = '';
    for (let page = 0; page < 5; page++) {
      const r = await get(`limit=400${before}`);
      seen.push(...r.body.items.map((m: { controlId: string }) => m.controlId));
      if (r.body.next === null) break;
      before = `&before=${r.body.next}`;
    }
    expect(seen).toEqual(rows.map((r) => r.control_id).reverse());
  });
});
