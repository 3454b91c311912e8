/** FHIR search grammar, cursors, mapping round trips and retry timing: pure functions, no store. */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { parseSince } from '../../src/cli/fhir.ts';
import { retryAfterMs } from '../../src/fhir/client.ts';
import { fromFhirObservation, type ObsRow, toFhirObservation } from '../../src/fhir/observation-map.ts';
import { fromFhirPatient, toFhirPatient } from '../../src/fhir/patient-map.ts';
import {
  dateMatches,
  decodeCursor,
  encodeCursor,
  parseDate,
  parseQuery,
  parseReference,
  parseToken,
  splitValues,
} from '../../src/fhir/search-params.ts';
import { expectValid, expectVitalSign } from './validator.ts';

const T = Date.parse('2024-03-05T10:00:00.000Z');

describe('date search values', () => {
  it('gives each precision its implicit range', () => {
    expect(parseDate('2024')).toMatchObject({
      prefix: 'eq',
      lo: Date.parse('2024-01-01T00:00:00Z'),
      hi: Date.parse('2025-01-01T00:00:00Z'),
    });
    expect(parseDate('ge2024-02')).toMatchObject({
      prefix: 'ge',
      lo: Date.parse('2024-02-01T00:00:00Z'),
      hi: Date.parse('2024-03-01T00:00:00Z'),
    });
    expect(parseDate('lt2024-03-05')).toMatchObject({
      lo: Date.parse('2024-03-05T00:00:00Z'),
      hi: Date.parse('2024-03-06T00:00:00Z'),
      dateOnly: true,
    });
    expect(parseDate('2024-03-05T10:00Z')).toMatchObject({ lo: T, hi: T + 60_000, dateOnly: false });
    expect(parseDate('2024-03-05T10:00:00Z')).toMatchObject({ lo: T, hi: T + 1000 });
    expect(parseDate('2024-03-05T10:00:00.5Z')).toMatchObject({ lo: T + 500, hi: T + 600 });
    expect(parseDate('2024-03-05T10:00:00.123Z')).toMatchObject({ lo: T + 123, hi: T + 124 });
    expect(parseDate('2024-03-05T12:00:00+02:00')).toMatchObject({ lo: T, hi: T + 1000 });
    expect(parseDate('2024-03-05T10:00:00')).toMatchObject({ lo: T }); // no zone: UTC
  });

  it.each([
    '',
    'x2024',
    '2024-13',
    '2024-02-30',
    '2024-03-05T25:00:00Z',
    '2024-03-05T10:00:00+15:00',
    '24-03-05',
    '2024-03-05T10',
    'ge',
    'ge2024-03-05T10:00:00ZZ',
  ])('refuses %j', (v) => {
    expect(() => parseDate(v)).toThrow(/date value|time zone|out of range|incomplete/);
  });

  it('refuses the approximate prefix it does not implement', () => {
    expect(() => parseDate('ap2024')).toThrow(/not supported/);
  });

  it('matches points exactly at the boundaries of the range', () => {
    const day = parseDate('2024-03-05');
    const start = day.lo;
    const end = day.hi;
    const cases: Array<[string, number, boolean]> = [
      ['eq', start, true],
      ['eq', end - 1, true],
      ['eq', end, false],
      ['eq', start - 1, false],
      ['ne', start, false],
      ['ne', end, true],
      ['gt', end - 1, false],
      ['gt', end, true],
      ['sa', end, true],
      ['lt', start, false],
      ['lt', start - 1, true],
      ['eb', start - 1, true],
      ['ge', start, true],
      ['ge', start - 1, false],
      ['le', end - 1, true],
      ['le', end, false],
    ];
    for (const [p, t, want] of cases)
      expect(dateMatches(parseDate(`${p}2024-03-05`), t), `${p} at ${t - start}`).toBe(want);
  });
});

describe('tokens, references, values', () => {
  it('splits system and code, honouring escapes', () => {
    expect(parseToken('http://loinc.org|8867-4')).toEqual({ system: 'http://loinc.org', code: '8867-4' });
    expect(parseToken('8867-4')).toEqual({ system: undefined, code: '8867-4' });
    expect(parseToken('|8867-4')).toEqual({ system: '', code: '8867-4' });
    expect(parseToken('http://loinc.org|')).toEqual({ system: 'http://loinc.org', code: undefined });
    expect(parseToken('a\\|b|c')).toEqual({ system: 'a|b', code: 'c' });
    expect(() => parseToken('a|b|c')).toThrow(/more than one/);
    expect(splitValues('a,b\\,c,d')).toEqual(['a', 'b,c', 'd']);
  });

  it('reads references to the right type only', () => {
    expect(parseReference('abc-1', 'Patient')).toBe('abc-1');
    expect(parseReference('Patient/abc-1', 'Patient')).toBe('abc-1');
    expect(parseReference('http://x/fhir/R4/Patient/abc-1', 'Patient')).toBe('abc-1');
    expect(() => parseReference('Group/abc', 'Patient')).toThrow(/must point to a Patient/);
    expect(() => parseReference('a b', 'Patient')).toThrow(/not a Patient id/);
  });

  it('refuses unknown parameters, unknown modifiers and repeats that are not allowed', () => {
    const spec = { code: { multi: true }, date: { repeat: true }, name: { modifiers: ['exact'] } };
    expect(() => parseQuery('foo=1', spec)).toThrow(/unknown search parameter "foo"/);
    expect(() => parseQuery('code:text=x', spec)).toThrow(/modifier ":text"/);
    expect(() => parseQuery('code=a&code=b', spec)).toThrow(/only once/);
    expect(() => parseQuery('code=', spec)).toThrow(/empty value/);
    const q = parseQuery('code=a,b&date=ge2024&date=le2025&name:exact=X&_count=5', spec);
    expect(q.get('code')?.[0]?.values).toEqual(['a', 'b']);
    expect(q.get('date')).toHaveLength(2);
    expect(q.get('name')?.[0]?.modifier).toBe('exact');
  });
});

describe('cursors', () => {
  it('round-trip any keyset position', () => {
    fc.assert(
      fc.property(
        fc.constantFrom('asc', 'desc'),
        fc.integer({ min: 0, max: 2 ** 50 }),
        fc.integer({ min: 1, max: 2 ** 40 }),
        (d, a, b) => {
          expect(decodeCursor(encodeCursor([d, a, b]), ['string', 'number', 'number'])).toEqual([d, a, b]);
        },
      ),
    );
  });

  it.each([
    '',
    '!!!',
    'x'.repeat(600),
    encodeCursor(['desc', 1]),
    encodeCursor(['desc', 'x', 2]),
    encodeCursor(['desc', 1.5, 2]),
    Buffer.from('{').toString('base64url'),
  ])('refuses a forged or truncated cursor %#', (c) => {
    expect(() => decodeCursor(c, ['string', 'number', 'number'])).toThrow(/_cursor is malformed/);
  });
});

const row = (over: Partial<ObsRow>): ObsRow => ({
  seq: 1,
  id: 'row-1',
  patient_id: 'p1',
  code: '8867-4',
  code_system: 'http://loinc.org',
  display: null,
  mdc_code: null,
  value_num: 72,
  value_text: null,
  unit: '/min',
  ref_range: null,
  abnormal_flags: null,
  status: 'final',
  category: 'vital-signs',
  panel: null,
  effective_at: T,
  recorded_at: T + 5,
  source: 'device',
  source_ref: null,
  identifier: null,
  ...over,
});

describe('observation mapping', () => {
  it('serves each vital sign to the profile, MDC as the second coding', () => {
    const hr = toFhirObservation(row({ mdc_code: '147842' }));
    expectVitalSign(hr);
    expect(hr.code.coding).toEqual([
      { system: 'http://loinc.org', code: '8867-4', display: 'Heart rate' },
      { system: 'urn:iso:std:iso:11073:10101', code: '147842', display: 'MDC_ECG_HEART_RATE' },
    ]);
    for (const [code, unit] of [
      ['9279-1', '/min'],
      ['2708-6', '%'],
      ['8310-5', 'Cel'],
    ] as const) {
      // No category stored (an HL7 feed may omit it): still served as a vital sign.
      expectVitalSign(toFhirObservation(row({ code, unit, category: null })));
    }
  });

  it('serves a blood pressure as the 85354-9 panel with both components', () => {
    const sys = row({
      id: 's',
      code: '8480-6',
      value_num: 120,
      unit: 'mm[Hg]',
      panel: '85354-9',
      mdc_code: '150021',
    });
    const dia = row({
      id: 'd',
      code: '8462-4',
      value_num: 80,
      unit: 'mm[Hg]',
      panel: '85354-9',
      mdc_code: '150022',
    });
    const bp = toFhirObservation(sys, dia);
    expectVitalSign(bp);
    expect(bp.id).toBe('s');
    expect(bp.component?.map((c) => c.valueQuantity?.value)).toEqual([120, 80]);
    // Half a panel stays a valid panel: the missing part says why it is absent.
    const half = toFhirObservation(sys);
    expectVitalSign(half);
    expect(half.component?.[1]?.dataAbsentReason).toBeDefined();
  });

  it('keeps what it reads back: FHIR → rows → FHIR', () => {
    const sent = toFhirObservation(
      row({ mdc_code: '147842', abnormal_flags: 'H', ref_range: '60-100', identifier: 'urn:x|42' }),
    );
    const parsed = fromFhirObservation(sent);
    expect(parsed.identifier).toBe('urn:x|42');
    expect(parsed.rows[0]).toMatchObject({
      code: '8867-4',
      mdc_code: '147842',
      value_num: 72,
      unit: '/min',
      abnormal_flags: 'H',
      ref_range: '60-100',
      effective_at: T,
    });
    const back = toFhirObservation({ ...row({}), ...parsed.rows[0], id: 'row-1', seq: 1 } as ObsRow);
    expect(back.code).toEqual(sent.code);
    expect(back.valueQuantity).toEqual(sent.valueQuantity);
    expect(back.identifier).toEqual(sent.identifier);
  });

  it('refuses what it could not store faithfully (422)', () => {
    const good = toFhirObservation(row({}));
    const bad: Array<[string, unknown]> = [
      ['not an object', null],
      ['wrong type', { ...good, resourceType: 'Patient' }],
      ['bad status', { ...good, status: 'done' }],
      ['no subject', { ...good, subject: undefined }],
      ['no time', { ...good, effectiveDateTime: undefined }],
      ['time without zone', { ...good, effectiveDateTime: '2024-03-05T10:00:00' }],
      ['no coding', { ...good, code: { text: 'x' } }],
      ['no value', { ...good, valueQuantity: undefined }],
      ['NaN value', { ...good, valueQuantity: { value: 'x' } }],
      [
        'BP without components',
        {
          ...good,
          code: { coding: [{ system: 'http://loinc.org', code: '85354-9' }] },
          valueQuantity: undefined,
        },
      ],
    ];
    for (const [what, body] of bad)
      expect(() => fromFhirObservation(body), what).toThrow(expect.objectContaining({ status: 422 }));
  });
});

describe('patient mapping', () => {
  const p = {
    id: 'p1',
    mrn: 'MRN-1',
    given_name: 'Ada',
    family_name: 'Lovelace',
    sex: 'female',
    birth_date: '1815-12-10',
    ward: 'ICU-A',
    bed: 'A1',
    created_at: T,
    updated_at: T,
    version: 3,
  };
  it('is valid R4 and reads back the same fields', () => {
    const f = toFhirPatient(p);
    expectValid(f);
    expect(f.meta).toEqual({ versionId: '3', lastUpdated: new Date(T).toISOString() });
    expect(fromFhirPatient(f)).toEqual({
      mrn: 'MRN-1',
      givenName: 'Ada',
      familyName: 'Lovelace',
      sex: 'female',
      birthDate: '1815-12-10',
      ward: 'ICU-A',
      bed: 'A1',
    });
  });
  it('needs an MRN and a name', () => {
    const f = toFhirPatient(p);
    expect(() => fromFhirPatient({ ...f, identifier: [{ system: 'urn:other', value: 'x' }] })).toThrow(/MRN/);
    expect(() => fromFhirPatient({ ...f, name: [] })).toThrow(/name/);
    expect(() => fromFhirPatient({ ...f, gender: 'f' })).toThrow(/gender/);
    expect(() => fromFhirPatient({ ...f, birthDate: '1815' })).toThrow(/birthDate/);
  });
});

describe('client timing', () => {
  it('reads Retry-After as seconds or an HTTP date', () => {
    expect(retryAfterMs('3')).toBe(3000);
    expect(retryAfterMs(new Date(T + 5000).toUTCString(), T)).toBe(5000);
    expect(retryAfterMs('soon')).toBeUndefined();
    expect(retryAfterMs(null)).toBeUndefined();
  });
  it('reads --since as a time or a duration', () => {
    expect(parseSince('2h', T)).toBe(T - 7_200_000);
    expect(parseSince('2024-03-05T10:00:00Z')).toBe(T);
    expect(() => parseSince('yesterday')).toThrow(/--since/);
  });
});

describe('the validator itself', () => {
  it('catches resources that break R4 or the vital-signs profile', () => {
    const hr = toFhirObservation(row({}));
    expect(() => expectValid({ ...hr, foo: 1 } as never)).toThrow(/not valid FHIR R4/);
    expect(() => expectValid({ ...hr, status: undefined } as never)).toThrow(/not valid FHIR R4/);
    expect(() => expectVitalSign({ ...hr, valueQuantity: { ...hr.valueQuantity, code: 'bpm' } })).toThrow();
    expect(() =>
      expectVitalSign({
        ...hr,
        category: [
          {
            coding: [
              { system: 'http://terminology.hl7.org/CodeSystem/observation-category', code: 'laboratory' },
            ],
          },
        ],
      }),
    ).toThrow(/vitalsigns/);
    const bp = toFhirObservation(row({ id: 's', code: '8480-6', unit: 'mm[Hg]', panel: '85354-9' }));
    expect(() => expectVitalSign({ ...bp, component: bp.component?.slice(0, 1) })).toThrow();
    expect(() =>
      expectVitalSign({ ...hr, code: { coding: [{ system: 'http://loinc.org', code: '1234-5' }] } }),
    ).toThrow(/vital-signs code/);
  });
});

describe('isoInstant', () => {
  it('formats exactly as Date.prototype.toISOString', async () => {
    const { isoInstant } = await import('../../src/fhir/iso.ts');
    fc.assert(
      fc.property(fc.integer({ min: -62167219200000, max: 253402300799999 }), (ms) => {
        expect(isoInstant(ms)).toBe(new Date(ms).toISOString());
      }),
      { numRuns: 20_000 },
    );
    for (const ms of [0, -1, 951782400000, 951868799999, 4107542400000, -62167219200000, 253402300799999]) {
      expect(isoInstant(ms)).toBe(new Date(ms).toISOString());
    }
  });
});

describe('the search fast path', () => {
  const text = fc.oneof(fc.constantFrom('a', 'é"\\\n', '\u2028', '<x>'), fc.string({ maxLength: 12 }));
  const rowArb = fc.record({
    id: fc.oneof(fc.uuid(), fc.constant('o-1')),
    patient_id: fc.oneof(fc.uuid(), fc.constant('p"1')),
    code: fc.constantFrom('8867-4', '9279-1', '2708-6', '59408-5', '8310-5', '2345-7', '147842', 'X"Y'),
    code_system: fc.constantFrom(
      'http://loinc.org',
      'urn:iso:std:iso:11073:10101',
      'L',
      '99 LOCAL',
      'http://snomed.info/sct',
    ),
    display: fc.option(text, { nil: null }),
    mdc_code: fc.option(fc.constantFrom('147842', '150456', '999', '8867-4'), { nil: null }),
    value_num: fc.option(fc.double({ noNaN: true, noDefaultInfinity: true }), { nil: null }),
    value_text: fc.option(text, { nil: null }),
    unit: fc.option(fc.constantFrom('/min', '%', 'Cel', 'mm[Hg]', 'mmol/L', 'x"y'), { nil: null }),
    ref_range: fc.option(fc.constantFrom('60-100', ' 3.9 - 5.8 ', '<5', 'neg', '-1--2'), { nil: null }),
    abnormal_flags: fc.option(fc.constantFrom('H', 'L,HH', 'A, N', 'toolong', '<'), { nil: null }),
    status: fc.constantFrom('final', 'preliminary', 'amended', 'done'),
    category: fc.option(fc.constantFrom('vital-signs', 'laboratory', 'weird"cat'), { nil: null }),
    effective_at: fc.integer({ min: 0, max: 4102444800000 }),
    recorded_at: fc.integer({ min: 0, max: 4102444800000 }),
    identifier: fc.option(fc.constantFrom('urn:x|1', 'http://a|b|c', 'sys|"q"'), { nil: null }),
  });

  it('serialises rows exactly as JSON.stringify of the reference mapping', async () => {
    const { observationJson } = await import('../../src/fhir/observation-map.ts');
    fc.assert(
      fc.property(rowArb, (r) => {
        const full = row({ ...r, panel: null });
        expect(observationJson(full)).toBe(JSON.stringify(toFhirObservation(full)));
      }),
      { numRuns: 3000 },
    );
  });

  it('wraps entries in the same searchset Bundle, byte for byte', async () => {
    const { searchset, searchsetJson } = await import('../../src/fhir/bundle-builder.ts');
    const { observationJson } = await import('../../src/fhir/observation-map.ts');
    fc.assert(
      fc.property(
        fc.array(rowArb, { maxLength: 5 }),
        fc.option(fc.string({ maxLength: 20 }), { nil: undefined }),
        fc.option(fc.nat(), { nil: undefined }),
        fc.constantFrom('', 'patient=p1&_count=5', 'code=a%7Cb&_cursor=x&_count=9'),
        (rs, next, total, raw) => {
          const rows = rs.map((r) => row({ ...r, panel: null }));
          const want = JSON.stringify(
            searchset(
              'http://h/fhir/R4',
              'Observation',
              raw,
              { resources: rows.map((r) => toFhirObservation(r)), next, total },
              7,
            ),
          );
          const got = searchsetJson(
            'http://h/fhir/R4',
            'Observation',
            raw,
            rows.map((r) => ({ id: r.id, json: observationJson(r) })),
            next,
            total,
            7,
          );
          expect(got).toBe(want);
        },
      ),
      { numRuns: 500 },
    );
  });
});
