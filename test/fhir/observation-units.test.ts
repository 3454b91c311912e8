/**
 * A Quantity names UCUM only for units that can be UCUM codes: units kept as an HL7 sender wrote
 * them may read as something else in UCUM (`C` is coulomb, `F` farad) or be an MDC code number.
 */
import { describe, expect, it } from 'vitest';
import { type ObsRow, toFhirObservation } from '../../src/fhir/observation-map.ts';

const row = (unit: string | null): ObsRow => ({
  seq: 1,
  id: '0190a1b2-0000-7000-8000-000000000001',
  patient_id: 'p1',
  code: '8310-5',
  code_system: 'http://loinc.org',
  display: 'Body temperature',
  mdc_code: null,
  value_num: 98.6,
  value_text: null,
  unit,
  ref_range: null,
  abnormal_flags: null,
  status: 'final',
  category: 'vital-signs',
  panel: null,
  effective_at: 1,
  recorded_at: 1,
  source: 'hl7',
  source_ref: null,
  identifier: null,
});

describe('FHIR Quantity units', () => {
  it('codes UCUM units and gives other units as text only', () => {
    const q = (unit: string | null) => toFhirObservation(row(unit)).valueQuantity;
    expect(q('[degF]')).toMatchObject({ value: 98.6, system: 'http://unitsofmeasure.org', code: '[degF]' });
    expect(q('mmol/L')).toMatchObject({ system: 'http://unitsofmeasure.org', code: 'mmol/L' });
    for (const unit of ['F', 'C', '266560', 'deg F', '°F']) {
      const got = q(unit);
      expect(got, unit).toEqual({ value: 98.6, unit });
    }
    expect(q(null)).toEqual({ value: 98.6 });
  });
});
