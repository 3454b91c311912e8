import { describe, expect, it } from 'vitest';
import {
  BP_PANEL,
  isPlausible,
  toVitalValues,
  VITAL_SIGNS,
  type VitalKey,
  vitalByCode,
  vitalByKey,
  vitalByMdc,
  vitalsByLoinc,
} from '../../src/clinical/vital-signs.ts';

// Transcribed from the vital-sign code table of the clinical reference (clinical.md).
const expected: Array<[VitalKey, string, string, number]> = [
  ['heartRate', '8867-4', '/min', 147842],
  ['pulseRate', '8867-4', '/min', 149530],
  ['respiratoryRate', '9279-1', '/min', 151562],
  ['spo2', '2708-6', '%', 150456],
  ['temperature', '8310-5', 'Cel', 150364],
  ['systolicBp', '8480-6', 'mm[Hg]', 150021],
  ['diastolicBp', '8462-4', 'mm[Hg]', 150022],
];

describe('vital-sign codes', () => {
  it('maps each sign to the LOINC, UCUM and MDC codes of the clinical reference', () => {
    for (const [key, loinc, ucum, mdc] of expected) {
      const v = vitalByKey(key);
      expect([v.loinc, v.ucum, v.mdc], key).toEqual([loinc, ucum, mdc]);
      expect(vitalByCode(v.code)).toBe(v);
      expect(vitalByMdc(mdc)).toBe(v);
    }
    expect(VITAL_SIGNS).toHaveLength(expected.length);
    expect(vitalByKey('spo2').loincExtra).toEqual(['59408-5']);
    expect(BP_PANEL).toMatchObject({ loinc: '85354-9', mdc: 150020 });
  });

  it('has unique wire codes in 1..65535', () => {
    const codes = VITAL_SIGNS.map((v) => v.code);
    expect(new Set(codes).size).toBe(codes.length);
    for (const c of codes) expect(c >= 1 && c <= 65535).toBe(true);
    expect(vitalByCode(0)).toBeUndefined();
    expect(vitalByCode(999)).toBeUndefined();
  });

  it('finds signs by LOINC code, preferred first', () => {
    expect(vitalsByLoinc('8867-4').map((v) => v.key)).toEqual(['heartRate', 'pulseRate']);
    expect(vitalsByLoinc('59408-5').map((v) => v.key)).toEqual(['spo2']);
    expect(vitalsByLoinc('0000-0')).toEqual([]);
  });

  it('flags implausible values', () => {
    const spo2 = vitalByKey('spo2');
    expect(isPlausible(spo2, 97)).toBe(true);
    expect(isPlausible(spo2, 101)).toBe(false);
    expect(isPlausible(spo2, -1)).toBe(false);
    expect(isPlausible(spo2, Number.NaN)).toBe(false);
  });

  it('converts wire measurements to values by sign, setting aside unknown and implausible ones', () => {
    const r = toVitalValues([
      { code: 1, value: 72 },
      { code: 4, value: 130 },
      { code: 5, value: 36.6 },
      { code: 999, value: 1 },
    ]);
    expect(r).toEqual({
      values: { heartRate: 72, temperature: 36.6 },
      unknownCodes: [999],
      implausible: ['spo2'],
    });
  });
});
