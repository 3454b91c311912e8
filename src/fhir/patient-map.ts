/**
 * Patient ↔ FHIR R4 Patient. The MRN is the identifier (system SID.mrn, type MR); identifiers HL7
 * ADT brought (PID-3) follow it. Ward and bed travel as CareWire extensions: FHIR puts a patient's
 * location on an Encounter, which CareWire does not model, and care teams by ward depend on them.
 */
import type { Extension, Patient as FhirPatient, Identifier } from '@medplum/fhirtypes';
import type { PatientsTable } from '../store/schema.ts';
import { CW, HL7, SID } from './constants.ts';
import { unprocessable } from './outcome.ts';

const GENDERS = new Set(['male', 'female', 'other', 'unknown']);

/** A patient row; `identifiers` (HL7 PID-3, migration 0003) is read when the column exists. */
export type PatientRow = PatientsTable & { identifiers?: string | null | undefined };

export function toFhirPatient(r: PatientRow): FhirPatient {
  const identifier: Identifier[] = [
    {
      use: 'usual',
      type: { coding: [{ system: HL7.identifierType, code: 'MR', display: 'Medical record number' }] },
      system: SID.mrn,
      value: r.mrn,
    },
  ];
  for (const id of parseIdentifiers(r.identifiers)) {
    if (id.value === r.mrn && (!id.type || id.type === 'MR')) continue;
    const extra: Identifier = { value: id.value };
    if (id.authority) extra.system = `urn:carewire:hl7-authority:${encodeURIComponent(id.authority)}`;
    if (id.type) extra.type = { coding: [{ system: HL7.identifierType, code: id.type }] };
    identifier.push(extra);
  }
  const p: FhirPatient = {
    resourceType: 'Patient',
    id: r.id,
    meta: { versionId: String(r.version ?? 1), lastUpdated: new Date(Number(r.updated_at)).toISOString() },
    identifier,
    active: true,
    name: [nameOf(r)],
  };
  if (r.sex) p.gender = r.sex as FhirPatient['gender'];
  if (r.birth_date) p.birthDate = r.birth_date;
  const ext: Extension[] = [];
  if (r.ward) ext.push({ url: CW.ward, valueString: r.ward });
  if (r.bed) ext.push({ url: CW.bed, valueString: r.bed });
  if (ext.length > 0) p.extension = ext;
  return p;
}

function nameOf(r: PatientsTable): NonNullable<FhirPatient['name']>[number] {
  const n: NonNullable<FhirPatient['name']>[number] = { use: 'official' };
  if (r.family_name) n.family = r.family_name;
  if (r.given_name) n.given = r.given_name.split(/\s+/);
  n.text = `${r.given_name} ${r.family_name}`.trim();
  return n;
}

interface StoredIdentifier {
  value: string;
  type?: string;
  authority?: string;
}

function parseIdentifiers(json: string | null | undefined): StoredIdentifier[] {
  if (!json) return [];
  try {
    const v = JSON.parse(json) as unknown;
    return Array.isArray(v)
      ? v.filter((x): x is StoredIdentifier => !!x && typeof (x as StoredIdentifier).value === 'string')
      : [];
  } catch {
    return [];
  }
}

/** The demographics CareWire keeps, read from a FHIR Patient a client sent. */
export interface PatientFields {
  mrn: string;
  givenName: string;
  familyName: string;
  sex: string | null;
  birthDate: string | null;
  ward: string | null;
  bed: string | null;
}

/**
 * Reads the fields CareWire stores from a Patient. The MRN is the identifier with system SID.mrn,
 * or else the first one typed MR. Refuses (422) what CareWire could not store faithfully.
 */
export function fromFhirPatient(body: unknown): PatientFields {
  const p = body as FhirPatient;
  if (!p || typeof p !== 'object' || p.resourceType !== 'Patient') {
    throw unprocessable('the body must be a Patient resource');
  }
  const ids = Array.isArray(p.identifier) ? p.identifier : [];
  const mrnId =
    ids.find((i) => i?.system === SID.mrn) ??
    ids.find((i) =>
      i?.type?.coding?.some((c) => c.code === 'MR' && (!c.system || c.system === HL7.identifierType)),
    );
  const mrn = typeof mrnId?.value === 'string' ? mrnId.value.trim() : '';
  if (!mrn || mrn.length > 64) {
    throw unprocessable(`Patient.identifier needs the MRN (system ${SID.mrn}, or type MR), 1-64 characters`);
  }
  const names = Array.isArray(p.name) ? p.name : [];
  const name = names.find((n) => n?.use === 'official') ?? names[0];
  const givenName = Array.isArray(name?.given)
    ? name.given.filter((g) => typeof g === 'string').join(' ')
    : '';
  const familyName = typeof name?.family === 'string' ? name.family : '';
  if (!givenName.trim() && !familyName.trim())
    throw unprocessable('Patient.name needs a given or family name');
  if (givenName.length > 100 || familyName.length > 100)
    throw unprocessable('Patient.name parts: at most 100 characters');
  if (p.gender !== undefined && !GENDERS.has(p.gender))
    throw unprocessable('Patient.gender: male, female, other or unknown');
  if (
    p.birthDate !== undefined &&
    (typeof p.birthDate !== 'string' || !/^\d{4}-\d{2}-\d{2}$/.test(p.birthDate))
  ) {
    throw unprocessable('Patient.birthDate: YYYY-MM-DD (CareWire keeps birth dates to the day)');
  }
  const ext = (url: string) => {
    const v = p.extension?.find((e) => e?.url === url)?.valueString;
    if (v !== undefined && (typeof v !== 'string' || v.length > 64))
      throw unprocessable(`${url}: a string of at most 64 characters`);
    return v ?? null;
  };
  return {
    mrn,
    givenName: givenName.trim(),
    familyName: familyName.trim(),
    sex: p.gender ?? null,
    birthDate: p.birthDate ?? null,
    ward: ext(CW.ward),
    bed: ext(CW.bed),
  };
}
