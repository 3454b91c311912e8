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
  /** JSON list of `{ value, type, authority }` from HL7 PID-3 (0003_hl7). */
  identifiers?: string | null;
  /** Latest admission (HL7 ADT, 0003_hl7), ms. */
  admitted_at?: number | null;
  /** Discharge after that admission (HL7 ADT^A03), ms. */
  discharged_at?: number | null;
  /** FHIR meta.versionId: bumped by a trigger on every UPDATE (0006_fhir). */
  version?: number;
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

/**
 * The Merkle audit log's entries (0005_audit_log). `seq` is the 0-based leaf index and `entry` the
 * exact canonical bytes (RFC 8785 JSON) its leaf hash commits to; the other columns are copies
 * for filtering. The foundation's table of the same name lives on as `audit_events_v1`.
 */
export interface AuditEventsTable {
  seq: number;
  recorded: number;
  type: string;
  outcome: number;
  user_id: string | null;
  patient_id: string | null;
  entry: string;
  /** The entry's leaf hash: SHA-256(0x00 ‖ entry), the tree's level 0. */
  leaf: Uint8Array;
}

/** Complete-subtree hashes of the audit log's Merkle tree, levels ≥ 1 (0005_audit_log). */
export interface AuditTreeTable {
  level: number;
  idx: number;
  hash: Uint8Array;
}

/** Signed C2SP checkpoints of the audit log (0005_audit_log). */
export interface AuditCheckpointsTable {
  size: number;
  /** Base64 root hash, as in the note. */
  root: string;
  note: string;
  created_at: number;
}

/** Every (patient, entry) pair an audit entry is about, for "who accessed my record" (0007). */
export interface AuditPatientRefsTable {
  patient_id: string;
  seq: number;
}

/** Single row (id 1): the first audit seq not yet in audit_patient_refs (0007). */
export interface AuditIndexStateTable {
  id: number;
  indexed_upto: number;
}

/** Manual records, one row per version; a change adds a version (0005_audit_log). */
export interface RecordsTable {
  version_id: string;
  /** Stable id of the record: the first version's id. */
  record_id: string;
  version: number;
  previous_id: string | null;
  patient_id: string;
  kind: string;
  value_num: number | null;
  value_num2: number | null;
  unit: string | null;
  text: string | null;
  effective_at: number;
  created_at: number;
  author_id: string;
  author_role: string;
  author_name: string;
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
  /** Unit: UCUM, or as an HL7 sender wrote it when it is not a known spelling. */
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
  /** `system|value` of the identifier a FHIR client gave (conditional create; 0006_fhir). */
  identifier?: string | null;
}

/**
 * Observations by patient, code and time (a view, 0010_observation_search): on SQLite the merged
 * search copy plus the unmerged tail of `observations`, on PostgreSQL the table itself. Read only.
 */
export type ObservationsSearchableView = Omit<ObservationsTable, 'seq'> & { seq: number };

/** How far the SQLite observation-search merger has come (one row). */
export interface ObservationSearchStateTable {
  one: number;
  merged_seq: number;
}

/**
 * HL7 messages by patient (a view, 0011_patient_index_merge): on SQLite the merged pairs plus the
 * unmerged tail of `hl7_messages`, on PostgreSQL the table itself. Read only.
 */
export interface Hl7MessagesByPatientView {
  patient_id: string;
  id: number;
}

export interface DevicesTable {
  id: string;
  /** `v1.<iv>.<ciphertext+tag>`: the HMAC key under the data folder's key-encryption key. */
  key: string;
  patient_id: string | null;
  bed: string | null;
  description: string | null;
  created_at: number;
  updated_at: number;
  disabled: number;
}

/** One accepted vitals datagram; a column per known sign (null when the datagram lacks it). */
export interface VitalSamplesTable {
  device_id: string;
  seq: number;
  patient_id: string | null;
  ts: number;
  received_at: number;
  heart_rate: number | null;
  pulse_rate: number | null;
  resp_rate: number | null;
  spo2: number | null;
  temperature: number | null;
  systolic_bp: number | null;
  diastolic_bp: number | null;
  other: string | null;
  flags: number;
}

export interface DeviceSequencesTable {
  device_id: string;
  high_seq: number;
  updated_at: number;
}

export interface AlarmsTable {
  id: string;
  patient_id: string;
  kind: string;
  category: string;
  priority: string;
  source: string;
  state: string;
  latched: number;
  condition_present: number;
  text: string;
  value: number | null;
  limit_value: number | null;
  raised_at: number;
  high_since: number | null;
  acked_at: number | null;
  acked_by: string | null;
  resolved_at: number | null;
  resolved_by: string | null;
  resolution: string | null;
  escalated_at: number | null;
  device_id: string | null;
  device_alarm_id: string | null;
  updated_at: number;
}

export interface AlarmFramesTable {
  seq: Generated<number>;
  device_id: string;
  alarm_id: string;
  event: string;
  patient_id: string | null;
  alarm_ref: string | null;
  kind: string;
  priority: string;
  device_time: number;
  received_at: number;
  body: string;
}

export interface News2SettingsTable {
  patient_id: string;
  spo2_scale: number;
  updated_at: number;
  updated_by: string | null;
}

export interface Hl7MessagesTable {
  id: Generated<number>;
  /** MSH-3 + MSH-10 (see dedupKey); NULL for messages refused before they could be accepted. */
  dedup_key: string | null;
  control_id: string;
  sending_app: string;
  sending_facility: string;
  message_type: string;
  trigger_event: string;
  version: string;
  received_at: number;
  /** The message text as received (decoded in its MSH-18 character set). */
  raw: string;
  /** The acknowledgement(s) sent, as framed payloads joined by FS (0x1C); '' when none was asked for. */
  ack: string;
  /** AA, AE or AR: the processing outcome (also when enhanced mode sent only a CA or nothing). */
  ack_code: string;
  patient_id: string | null;
  /** Why the message was refused or failed, for the people who fix interfaces. */
  error: string | null;
}

export interface Database {
  users: UsersTable;
  patients: PatientsTable;
  care_team: CareTeamTable;
  ward_assignments: WardAssignmentsTable;
  sessions: SessionsTable;
  break_glass: BreakGlassTable;
  audit_events: AuditEventsTable;
  audit_tree: AuditTreeTable;
  audit_checkpoints: AuditCheckpointsTable;
  audit_patient_refs: AuditPatientRefsTable;
  audit_index_state: AuditIndexStateTable;
  records: RecordsTable;
  observations: ObservationsTable;
  observations_searchable: ObservationsSearchableView;
  observation_search_state: ObservationSearchStateTable;
  hl7_messages: Hl7MessagesTable;
  hl7_messages_by_patient: Hl7MessagesByPatientView;
  devices: DevicesTable;
  vital_samples: VitalSamplesTable;
  device_sequences: DeviceSequencesTable;
  alarms: AlarmsTable;
  alarm_frames: AlarmFramesTable;
  news2_settings: News2SettingsTable;
}
