/**
 * Table types for Kysely. Times are integer milliseconds since the epoch in both engines so range
 * queries and sorting behave the same; booleans are 0/1 integers for the same reason.
 */
import type { Generated } from 'kysely';

export type Role = 'patient' | 'clinician' | 'auditor' | 'admin';

export interface UsersTable {
  id: string;
  username: string;
  password_hash: string;
  role: Role;
  display_name: string;
  /** For role patient: the patient record this account belongs to. */
  patient_id: string | null;
  disabled: number;
  created_at: number;
  updated_at: number;
}

export interface PatientsTable {
  id: string;
  /** Medical record number: the hospital's identifier, unique. */
  mrn: string;
  given_name: string;
  family_name: string;
  sex: string | null;
  birth_date: string | null;
  ward: string | null;
  bed: string | null;
  created_at: number;
  updated_at: number;
}

export interface CareTeamTable {
  clinician_id: string;
  patient_id: string;
  created_at: number;
}

export interface WardAssignmentsTable {
  clinician_id: string;
  ward: string;
  created_at: number;
}

export interface SessionsTable {
  id: string;
  user_id: string;
  /** SHA-256 of the current refresh token; older ones presented again mean theft (reuse detection). */
  refresh_hash: string;
  generation: number;
  created_at: number;
  expires_at: number;
  revoked_at: number | null;
  revoked_reason: string | null;
  address: string | null;
  user_agent: string | null;
}

export interface BreakGlassTable {
  id: string;
  user_id: string;
  patient_id: string;
  reason: string;
  created_at: number;
  expires_at: number;
}

export interface AuditEventsTable {
  seq: Generated<number>;
  id: string;
  recorded: number;
  type: string;
  action: string;
  outcome: number;
  user_id: string | null;
  username: string | null;
  role: string | null;
  address: string | null;
  source: string;
  patient_id: string | null;
  entity_type: string | null;
  entity_id: string | null;
  purpose: string | null;
  detail: string | null;
}

export interface ObservationsTable {
  seq: Generated<number>;
  id: string;
  patient_id: string;
  /** LOINC code (or the sender's code when it has no LOINC mapping). */
  code: string;
  code_system: string;
  display: string | null;
  /** IEEE 11073 MDC code from a device, kept beside the LOINC code. */
  mdc_code: string | null;
  value_num: number | null;
  value_text: string | null;
  /** UCUM unit. */
  unit: string | null;
  ref_range: string | null;
  abnormal_flags: string | null;
  /** FHIR ObservationStatus: final, preliminary, amended, corrected, cancelled, entered-in-error. */
  status: string;
  /** e.g. vital-signs, laboratory. */
  category: string | null;
  /** Panel this value belongs to, e.g. 85354-9 for a blood pressure's systolic and diastolic. */
  panel: string | null;
  effective_at: number;
  recorded_at: number;
  /** hl7, device, manual. */
  source: string;
  /** e.g. the HL7 message's id, the device id. */
  source_ref: string | null;
}

export interface Database {
  users: UsersTable;
  patients: PatientsTable;
  care_team: CareTeamTable;
  ward_assignments: WardAssignmentsTable;
  sessions: SessionsTable;
  break_glass: BreakGlassTable;
  audit_events: AuditEventsTable;
  observations: ObservationsTable;
}
