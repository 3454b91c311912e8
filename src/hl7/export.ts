// The per-patient JSON file (`patient_<id>.json`) that `carewire hl7 export` writes: the patient's
// identity and every observation, newest first, in the record shape of the seed project
// ({Timestamp, ObservationID, ObservationValue, Units, ReferenceRange, AbnormalFlags}).

import type { Observation } from '../clinical/observations.ts';
import type { Patient } from '../clinical/patients.ts';

export interface ExportRecord {
  /** ISO 8601 time of the observation (OBX-14, else OBR-7). */
  Timestamp: string;
  /** LOINC code (or the sender's code when it has no LOINC mapping). */
  ObservationID: string;
  ObservationValue: number | string | null;
  /** UCUM unit, '' when none. */
  Units: string;
  ReferenceRange: string;
  /** HL7 table 0078 flags (H, L, N, …), comma-separated; '' when none. */
  AbnormalFlags: string;
}

export interface PatientExport {
  id: string;
  mrn: string;
  name: string;
  surname: string;
  sex: string | null;
  dateOfBirth: string | null;
  records: ExportRecord[];
}

export function patientExport(p: Patient, observations: readonly Observation[]): PatientExport {
  const sorted = [...observations].sort((a, b) => b.effectiveAt - a.effectiveAt || b.seq - a.seq);
  return {
    id: p.id,
    mrn: p.mrn,
    name: p.givenName,
    surname: p.familyName,
    sex: p.sex,
    dateOfBirth: p.birthDate,
    records: sorted.map((o) => ({
      Timestamp: new Date(o.effectiveAt).toISOString(),
      ObservationID: o.code,
      ObservationValue: o.valueNum ?? o.valueText,
      Units: o.unit ?? '',
      ReferenceRange: o.refRange ?? '',
      AbnormalFlags: o.abnormalFlags ?? '',
    })),
  };
}

/** `patient_<id>.json`, with anything but letters, digits, dot, dash and underscore replaced. */
export function exportFileName(id: string): string {
  return `patient_${id.replace(/[^A-Za-z0-9._-]/g, '_')}.json`;
}
