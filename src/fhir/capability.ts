/**
 * The CapabilityStatement at /fhir/R4/metadata, built from the same search-parameter tables the
 * handlers parse with, so it lists exactly what is supported and nothing more.
 */
import type { CapabilityStatement, CapabilityStatementRestResource } from '@medplum/fhirtypes';
import { AUDIT_SEARCH } from './audit-api.ts';
import { FLAG_SEARCH } from './flag-api.ts';
import { OBSERVATION_SEARCH } from './observation-api.ts';
import { PATIENT_SEARCH } from './patient-api.ts';
import type { ParamSpec } from './search-params.ts';

type SearchType = NonNullable<CapabilityStatementRestResource['searchParam']>[number]['type'];

const TYPES: Readonly<Record<string, SearchType>> = {
  _id: 'token',
  identifier: 'token',
  name: 'string',
  birthdate: 'date',
  gender: 'token',
  patient: 'reference',
  subject: 'reference',
  code: 'token',
  category: 'token',
  date: 'date',
  status: 'token',
  altid: 'token',
  type: 'token',
  _sort: 'special',
};

const DOCS: Readonly<Record<string, string>> = {
  _id: 'Logical id(s), comma-separated',
  identifier: 'system|value (Patient: the MRN; Observation: the business identifier)',
  name: 'Starts with, case-insensitive, any part of the name; :exact and :contains',
  birthdate: 'Date with prefix eq, ne, gt, lt, ge, le, sa, eb (to the day)',
  gender: 'male | female | other | unknown',
  patient: 'Patient id or Patient/id, comma-separated',
  subject: 'Patient/id (also subject:Patient=id)',
  code: 'system|code or code (LOINC, or the MDC code a device sent); 85354-9 finds blood-pressure panels',
  category: 'e.g. vital-signs, laboratory',
  date: 'effective time with prefix eq, ne, gt, lt, ge, le, sa, eb; repeat for a range',
  status: 'active (active or acknowledged alarms) | inactive (resolved)',
  altid: 'CareWire user id of the agent',
  type: 'CareWire audit event type, e.g. patient.read',
  _sort: 'date or -date (default -date)',
};

function params(spec: Readonly<Record<string, ParamSpec>>): CapabilityStatementRestResource['searchParam'] {
  return Object.keys(spec).map((name) => ({
    name,
    type: TYPES[name] ?? 'string',
    documentation: DOCS[name],
  }));
}

export function capabilityStatement(base: string, version: string, date: string): CapabilityStatement {
  return {
    resourceType: 'CapabilityStatement',
    status: 'active',
    date,
    publisher: 'CareWire',
    kind: 'instance',
    software: { name: 'CareWire', version },
    implementation: { description: 'CareWire FHIR R4 API', url: base },
    fhirVersion: '4.0.1',
    format: ['json', 'application/fhir+json'],
    rest: [
      {
        mode: 'server',
        documentation:
          'Every interaction needs a Bearer token (or the web app session cookie) and passes the CareWire access policy; each access is audited. Searches return only what the caller may see. Paging uses opaque cursors in the next link. Unknown search parameters are refused with 400.',
        security: {
          cors: true,
          description: 'OAuth-style Bearer access tokens from POST /api/auth/login (EdDSA JWT).',
        },
        resource: [
          {
            type: 'Patient',
            profile: 'http://hl7.org/fhir/StructureDefinition/Patient',
            interaction: [{ code: 'read' }, { code: 'search-type' }, { code: 'create' }, { code: 'update' }],
            versioning: 'versioned',
            readHistory: false,
            updateCreate: false,
            conditionalCreate: true,
            conditionalUpdate: false,
            conditionalDelete: 'not-supported',
            searchParam: params(PATIENT_SEARCH),
          },
          {
            type: 'Observation',
            profile: 'http://hl7.org/fhir/StructureDefinition/Observation',
            supportedProfile: [
              'http://hl7.org/fhir/StructureDefinition/vitalsigns',
              'http://hl7.org/fhir/StructureDefinition/heartrate',
              'http://hl7.org/fhir/StructureDefinition/resprate',
              'http://hl7.org/fhir/StructureDefinition/oxygensat',
              'http://hl7.org/fhir/StructureDefinition/bodytemp',
              'http://hl7.org/fhir/StructureDefinition/bp',
            ],
            interaction: [{ code: 'read' }, { code: 'search-type' }, { code: 'create' }],
            versioning: 'no-version',
            conditionalCreate: true,
            conditionalDelete: 'not-supported',
            searchParam: params(OBSERVATION_SEARCH),
          },
          {
            type: 'Flag',
            profile: 'http://hl7.org/fhir/StructureDefinition/Flag',
            documentation:
              'Patient alarms (IEC 60601-1-8 priority in the flag-priority extension: PL/PM/PH).',
            interaction: [{ code: 'read' }, { code: 'search-type' }],
            versioning: 'no-version',
            searchParam: params(FLAG_SEARCH),
          },
          {
            type: 'AuditEvent',
            profile: 'http://hl7.org/fhir/StructureDefinition/AuditEvent',
            documentation:
              'The audit log, for auditors; the id is the entry sequence number. _total is not supported.',
            interaction: [{ code: 'read' }, { code: 'search-type' }],
            versioning: 'no-version',
            searchParam: params(AUDIT_SEARCH),
          },
        ],
        interaction: [
          { code: 'transaction', documentation: 'Patient create/update and Observation create; atomic.' },
          { code: 'batch', documentation: 'Patient create/update and Observation create; each entry alone.' },
        ],
      },
    ],
  };
}
