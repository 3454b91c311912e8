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

export interface Database {
  users: UsersTable;
  patients: PatientsTable;
  care_team: CareTeamTable;
  ward_assignments: WardAssignmentsTable;
  sessions: SessionsTable;
  break_glass: BreakGlassTable;
  audit_events: AuditEventsTable;
}
