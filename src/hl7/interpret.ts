// What a parsed HL7 message means for CareWire (pure: no I/O). ADT admissions, registrations,
// updates and discharges become a registry update keyed by MRN; ORU^R01 results become
// observations (numeric values with UCUM units, IEEE 11073 MDC codes mapped to LOINC vital signs).
// Everything else is stored raw only. Problems in the content become table-0357 errors for the ACK.

import type { NewObservation } from '../clinical/observations.ts';
import type { PatientIdentifier, PatientUpsert } from '../clinical/patients.ts';
import { BP_PANEL, LOINC_SYSTEM, MDC_SYSTEM, vitalByMdc } from '../clinical/vital-signs.ts';
import { hl7Date, parseHl7Time } from './dtm.ts';
import type { Hl7ErrorDetail } from './errors.ts';
import type { Hl7Message, Hl7Segment } from './message.ts';
import { piece } from './split.ts';

/** An observation before the store knows which patient row it belongs to. */
export type ObservationDraft = Omit<NewObservation, 'patientId' | 'sourceRef'>;

export type Interpretation =
  /** Registry update (ADT^A01/A04/A08/A03). */
  | { kind: 'adt'; event: string; patient: PatientUpsert }
  /** Results (ORU^R01): the patient by MRN, created from PID when the registry does not know it. */
  | { kind: 'oru'; mrn: string; newPatient: PatientUpsert; observations: ObservationDraft[] }
  /** A type CareWire does not interpret: stored raw. */
  | { kind: 'unknown'; type: string; trigger: string }
  /** Content errors: stored raw, answered AE, nothing applied. */
  | { kind: 'error'; errors: Hl7ErrorDetail[] };

const ADT_EVENTS = new Set(['A01', 'A04', 'A08', 'A03']);

/**
 * What a message means. `zone`: the IANA time zone of times sent without an offset (the senders'
 * local time, `--hl7-timezone`).
 */
export function interpretMessage(msg: Hl7Message, receivedAt: number, zone = 'UTC'): Interpretation {
  const h = msg.header;
  if (h.messageType === 'ADT' && ADT_EVENTS.has(h.triggerEvent)) return interpretAdt(msg, receivedAt, zone);
  if (h.messageType === 'ORU' && h.triggerEvent === 'R01') return interpretOru(msg, receivedAt, zone);
  return { kind: 'unknown', type: h.messageType, trigger: h.triggerEvent };
}

function required(segment: string, field: number, what: string, component?: number): Hl7ErrorDetail {
  return {
    code: '101',
    severity: 'E',
    location: { segment, sequence: 1, field, ...(component ? { component } : {}) },
    message: `${segment}-${field}${component ? `.${component}` : ''} (${what}) is required`,
  };
}

const SEX: Readonly<Record<string, string>> = {
  M: 'male',
  F: 'female',
  O: 'other',
  A: 'other',
  U: 'unknown',
  N: 'unknown',
};

interface Demographics {
  patient: PatientUpsert;
  errors: Hl7ErrorDetail[];
}

/** PID as a registry update: MRN (PID-3 of type MR, else the first), name, sex, birth date. */
function demographics(pid: Hl7Segment): Demographics {
  const errors: Hl7ErrorDetail[] = [];
  const identifiers: PatientIdentifier[] = [];
  const reps = pid.repetitionCount(3);
  for (let r = 1; r <= reps; r++) {
    const value = pid.get('3.1', { repetition: r }).trim();
    if (!value) continue;
    const type = pid.get('3.5', { repetition: r }) || undefined;
    const authority = pid.get('3.4', { repetition: r }) || undefined;
    identifiers.push({ value, type, authority });
  }
  // v2.3 senders still put the MRN in PID-2 (external id) at times.
  if (identifiers.length === 0 && pid.get('2.1').trim()) identifiers.push({ value: pid.get('2.1').trim() });
  const mrn = (identifiers.find((i) => i.type === 'MR') ?? identifiers[0])?.value ?? '';
  if (!mrn) errors.push(required('PID', 3, 'patient identifier list'));
  else if (mrn.length > 64) {
    errors.push({
      code: '104',
      severity: 'E',
      location: { segment: 'PID', sequence: 1, field: 3 },
      message: 'PID-3 patient identifier is longer than 64 characters',
    });
  }
  const patient: PatientUpsert = { mrn, identifiers };
  const family = pid.get('5.1').trim();
  const given = pid.get('5.2').trim();
  if (family || given) {
    patient.familyName = family.slice(0, 100);
    patient.givenName = given.slice(0, 100);
  }
  const sexCode = pid.get(8).trim().toUpperCase();
  if (sexCode) patient.sex = SEX[sexCode] ?? 'unknown';
  const dob = pid.get('7.1').trim();
  if (dob) {
    const iso = hl7Date(dob);
    if (iso) patient.birthDate = iso;
    else {
      errors.push({
        code: '102',
        severity: 'E',
        location: { segment: 'PID', sequence: 1, field: 7 },
        message: `PID-7 date of birth ${JSON.stringify(dob.slice(0, 40))} is not a valid date`,
      });
    }
  }
  return { patient, errors };
}

function timeOf(seg: Hl7Segment | undefined, field: number, zone: string): number | undefined {
  return seg ? parseHl7Time(seg.get(`${field}.1`), zone) : undefined;
}

function interpretAdt(msg: Hl7Message, receivedAt: number, zone: string): Interpretation {
  const pid = msg.segment('PID');
  if (!pid) return { kind: 'error', errors: [missingSegment('PID', msg)] };
  const { patient, errors } = demographics(pid);
  // The registry shows patients by name; an ADT without one cannot register anybody.
  if (!patient.familyName && !patient.givenName) errors.push(required('PID', 5, 'patient name'));
  if (errors.length > 0) return { kind: 'error', errors };
  const event = msg.header.triggerEvent;
  const pv1 = msg.segment('PV1');
  const evnTime =
    timeOf(msg.segment('EVN'), 2, zone) ?? parseHl7Time(msg.header.timestamp, zone) ?? receivedAt;
  if (event === 'A03') {
    patient.dischargedAt = timeOf(pv1, 45, zone) ?? evnTime;
    // A discharged patient no longer lies in the bed: the ward view and ward-based access follow.
    patient.ward = null;
    patient.bed = null;
    return { kind: 'adt', event, patient };
  }
  if (pv1) {
    const ward = pv1.get('3.1').trim();
    const bed = pv1.get('3.3').trim();
    if (ward) patient.ward = ward.slice(0, 64);
    if (bed) patient.bed = bed.slice(0, 64);
  }
  if (event === 'A01' || event === 'A04') {
    patient.admittedAt = timeOf(pv1, 44, zone) ?? evnTime;
    patient.dischargedAt = null;
  } else {
    const admitted = timeOf(pv1, 44, zone);
    if (admitted !== undefined) patient.admittedAt = admitted;
  }
  return { kind: 'adt', event, patient };
}

function missingSegment(name: string, msg: Hl7Message): Hl7ErrorDetail {
  return {
    code: '100',
    severity: 'E',
    location: { segment: name },
    message: `${msg.header.messageType}^${msg.header.triggerEvent} needs a ${name} segment`,
  };
}

/** MDC unit codes (IEEE 11073-10101 dimensions) that PCD-01 monitors send, as UCUM. */
const MDC_UNITS: Readonly<Record<string, string>> = {
  '262688': '%',
  MDC_DIM_PERCENT: '%',
  '264864': '/min',
  MDC_DIM_BEAT_PER_MIN: '/min',
  '264928': '/min',
  MDC_DIM_RESP_PER_MIN: '/min',
  '266016': 'mm[Hg]',
  MDC_DIM_MMHG: 'mm[Hg]',
  '268192': 'Cel',
  MDC_DIM_DEGC: 'Cel',
  '266144': 'kPa',
  MDC_DIM_KILO_PASCAL: 'kPa',
  MDC_DIM_FAHR: '[degF]',
  MDC_DIM_KELVIN: 'K',
  '263875': 'kg',
  MDC_DIM_KILO_G: 'kg',
};

/**
 * Spellings of vital-sign units that devices and interfaces send as text, as UCUM. Lower-cased
 * keys; anything else is kept as sent.
 */
const UNIT_ALIASES: Readonly<Record<string, string>> = {
  mmhg: 'mm[Hg]',
  'mm hg': 'mm[Hg]',
  bpm: '/min',
  'beats/min': '/min',
  'breaths/min': '/min',
  '1/min': '/min',
  degc: 'Cel',
  '°c': 'Cel',
  cel: 'Cel',
  degf: '[degF]',
  '°f': '[degF]',
};

const STATUS: Readonly<Record<string, string>> = {
  F: 'final',
  C: 'corrected',
  A: 'amended',
  P: 'preliminary',
  R: 'preliminary',
  S: 'preliminary',
  I: 'registered',
  X: 'cancelled',
  W: 'entered-in-error',
  D: 'entered-in-error',
};

const CODE_SYSTEMS: Readonly<Record<string, string>> = {
  LN: LOINC_SYSTEM,
  MDC: MDC_SYSTEM,
  SCT: 'http://snomed.info/sct',
  UCUM: 'http://unitsofmeasure.org',
};

const NUMBER = /^[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?$/;
const BP_PARTS = new Set(['8480-6', '8462-4']);

function interpretOru(msg: Hl7Message, receivedAt: number, zone: string): Interpretation {
  const pid = msg.segment('PID');
  if (!pid) return { kind: 'error', errors: [missingSegment('PID', msg)] };
  const { patient, errors } = demographics(pid);
  if (!patient.familyName && !patient.givenName) {
    // Monitors often send only an identifier; the registry still needs a name to show.
    patient.familyName = 'Unknown';
    patient.givenName = '';
  }
  const observations: ObservationDraft[] = [];
  const msgTime = parseHl7Time(msg.header.timestamp, zone) ?? receivedAt;
  let obrTime: number | undefined;
  let obx = 0;
  for (const seg of msg.allSegments()) {
    if (seg.name === 'OBR') {
      obrTime = timeOf(seg, 7, zone);
      continue;
    }
    if (seg.name !== 'OBX') continue;
    obx++;
    const o = observationOf(seg, obx, obrTime ?? msgTime, zone, errors);
    if (o) observations.push(o);
  }
  if (errors.length > 0) return { kind: 'error', errors };
  return { kind: 'oru', mrn: patient.mrn, newPatient: patient, observations };
}

/**
 * Component `c` (1-based) of the first repetition of a raw field, first subcomponent, decoded.
 * OBX is read field by field on the hot path of every result, so this avoids the path parser;
 * values with escapes go through the segment's accessor, which decodes them exactly.
 */
function component(seg: Hl7Segment, raw: string, field: number, c: number): string {
  const enc = seg.encoding;
  const v = piece(piece(piece(raw, enc.repetition, 1), enc.component, c), enc.subcomponent, 1);
  return v.indexOf(enc.escape) < 0 ? v : seg.get(`${field}.${c}`);
}

function observationOf(
  seg: Hl7Segment,
  n: number,
  fallbackTime: number,
  zone: string,
  errors: Hl7ErrorDetail[],
): ObservationDraft | undefined {
  const at = (field: number, component?: number) => ({
    segment: 'OBX',
    sequence: n,
    field,
    ...(component ? { component } : {}),
  });
  const f = seg.fields();
  const raw = (i: number) => f[i] ?? '';
  const codeText = component(seg, raw(3), 3, 1).trim();
  if (!codeText) {
    errors.push({ ...required('OBX', 3, 'observation identifier'), location: at(3, 1) });
    return undefined;
  }
  const valueRaw = raw(5);
  if (valueRaw === '') return undefined; // nothing observed (e.g. an empty OBX in a report layout)
  const display = component(seg, raw(3), 3, 2).trim() || undefined;
  const systemText = component(seg, raw(3), 3, 3).trim().toUpperCase();
  const time = raw(14);
  // Every property from the start, in one order: one object shape for all drafts, so the code
  // that reads them (pushObservationParams, on every result) stays monomorphic.
  const draft: ObservationDraft = {
    code: codeText,
    codeSystem: CODE_SYSTEMS[systemText] ?? (systemText || 'local'),
    display,
    mdcCode: undefined,
    valueNum: undefined,
    valueText: undefined,
    unit: undefined,
    refRange: undefined,
    abnormalFlags: undefined,
    status: STATUS[component(seg, raw(11), 11, 1).trim().toUpperCase()] ?? 'final',
    category: 'laboratory',
    panel: undefined,
    effectiveAt: (time === '' ? undefined : parseHl7Time(component(seg, time, 14, 1), zone)) ?? fallbackTime,
    source: 'hl7',
  };
  const refRange = raw(7) === '' ? '' : component(seg, raw(7), 7, 1).trim();
  if (refRange) draft.refRange = refRange;
  const flagsRaw = raw(8);
  if (flagsRaw !== '') {
    // One flag without repetitions or escapes (the usual `N`, `H`, `LL`) is read without the path parser.
    const simple = flagsRaw.indexOf(seg.encoding.repetition) < 0 && flagsRaw.indexOf(seg.encoding.escape) < 0;
    const flags = (simple ? [component(seg, flagsRaw, 8, 1)] : seg.getAll('8'))
      .map((x) => x.trim())
      .filter(Boolean);
    if (flags.length > 0) draft.abnormalFlags = flags.join(',');
  }
  const units = raw(6);
  const unitCode = component(seg, units, 6, 1).trim();
  const unitText = component(seg, units, 6, 2).trim();
  const unitSystem = component(seg, units, 6, 3).trim().toUpperCase();
  let unit: string | undefined =
    unitSystem === 'MDC' || MDC_UNITS[unitCode] ? (MDC_UNITS[unitCode] ?? MDC_UNITS[unitText]) : unitCode;
  // An MDC unit code not in the table stays as sent (its text, else its code), never dropped.
  unit ||= unitText || unitCode || undefined;
  if (unit !== undefined) unit = UNIT_ALIASES[unit.toLowerCase()] ?? unit;
  const isMdc = systemText === 'MDC' || (/^\d+$/.test(codeText) && display?.startsWith('MDC_') === true);
  if (isMdc) {
    const sign = vitalByMdc(Number(codeText));
    draft.mdcCode = codeText;
    draft.category = 'vital-signs';
    if (sign) {
      draft.code = sign.loinc;
      draft.codeSystem = LOINC_SYSTEM;
      draft.display = sign.display;
      // The sign's standard unit only when OBX-6 is empty: a pressure in kPa or a temperature in
      // [degF] (or in a unit code we cannot read) keeps what was sent, for its value is in that
      // unit (relabelling it would turn 16 kPa into 16 mm[Hg]).
      if (units.trim() === '') unit = sign.ucum;
    } else {
      draft.codeSystem = MDC_SYSTEM;
    }
  }
  if (BP_PARTS.has(draft.code) && draft.codeSystem === LOINC_SYSTEM) {
    draft.panel = BP_PANEL.loinc;
    draft.category = 'vital-signs';
  }
  if (unit) draft.unit = unit;
  const type = raw(2).trim().toUpperCase();
  if (type === 'NM') {
    const text = component(seg, valueRaw, 5, 1).trim();
    if (!NUMBER.test(text)) {
      errors.push({
        code: '102',
        severity: 'E',
        location: at(5),
        message: `OBX[${n}]-5 ${JSON.stringify(text.slice(0, 40))} is not a number (OBX-2 is NM)`,
      });
      return undefined;
    }
    draft.valueNum = Number(text);
  } else if (type === 'SN') {
    // Structured numeric: comparator ^ num1 ^ separator ^ num2. Only a plain number is a value.
    const cmp = seg.get('5.1').trim();
    const n1 = seg.get('5.2').trim();
    const sep = seg.get('5.3').trim();
    const n2 = seg.get('5.4').trim();
    if ((cmp === '' || cmp === '=') && sep === '' && NUMBER.test(n1)) draft.valueNum = Number(n1);
    else draft.valueText = `${cmp}${n1}${sep}${n2}`;
  } else if (type === 'CE' || type === 'CWE' || type === 'CNE') {
    draft.valueText = seg.get('5.2').trim() || seg.get('5.1').trim();
  } else {
    draft.valueText = seg.getAll('5').join('\n');
  }
  return draft;
}
