/** Systems, URLs and limits of CareWire's FHIR R4 API, in one place so mapping, search and docs agree. */

export const FHIR_JSON = 'application/fhir+json';
export const FHIR_CONTENT_TYPE = 'application/fhir+json; charset=utf-8';
export const FHIR_PREFIX = '/fhir/R4';

/** Identifier systems (NamingSystem-style URIs) for CareWire's own ids. */
export const SID = {
  mrn: 'https://carewire.dev/fhir/sid/mrn',
  observation: 'https://carewire.dev/fhir/sid/observation',
  user: 'https://carewire.dev/fhir/sid/user',
  device: 'https://carewire.dev/fhir/sid/device',
} as const;

/** Code systems and extensions CareWire defines. */
export const CW = {
  alarmKind: 'https://carewire.dev/fhir/CodeSystem/alarm-kind',
  alarmState: 'https://carewire.dev/fhir/StructureDefinition/alarm-state',
  alarmAcknowledged: 'https://carewire.dev/fhir/StructureDefinition/alarm-acknowledged',
  auditEventType: 'https://carewire.dev/fhir/CodeSystem/audit-event-type',
  ward: 'https://carewire.dev/fhir/StructureDefinition/ward',
  bed: 'https://carewire.dev/fhir/StructureDefinition/bed',
  /** Prefix for HL7 v2 coding systems that have no URI (OBX-3.3 such as `L` or `99LOCAL`). */
  hl7CodingSystem: 'https://carewire.dev/fhir/CodeSystem/hl7/',
} as const;

export const HL7 = {
  observationCategory: 'http://terminology.hl7.org/CodeSystem/observation-category',
  interpretation: 'http://terminology.hl7.org/CodeSystem/v3-ObservationInterpretation',
  flagCategory: 'http://terminology.hl7.org/CodeSystem/flag-category',
  flagPriority: 'http://hl7.org/fhir/StructureDefinition/flag-priority',
  flagPriorityCode: 'http://terminology.hl7.org/CodeSystem/flag-priority-code',
  actReason: 'http://terminology.hl7.org/CodeSystem/v3-ActReason',
  securitySourceType: 'http://terminology.hl7.org/CodeSystem/security-source-type',
  identifierType: 'http://terminology.hl7.org/CodeSystem/v2-0203',
  vitalSignsProfile: 'http://hl7.org/fhir/StructureDefinition/vitalsigns',
  bpProfile: 'http://hl7.org/fhir/StructureDefinition/bp',
} as const;

/** Search paging: default and largest page (a larger `_count` is lowered to this, as FHIR allows). */
export const DEFAULT_COUNT = 50;
export const MAX_COUNT = 1000;
/** Most entries in one transaction or batch Bundle. */
export const MAX_BUNDLE_ENTRIES = 1000;
