/**
 * The audit entry and its canonical encoding — the exact bytes a Merkle leaf commits to.
 *
 * Fields follow FHIR R4 AuditEvent so the FHIR view is a mapping, not a translation: type,
 * action (C/R/U/D/E), recorded, outcome (0 success, 4 minor failure such as a denial, 8 serious,
 * 12 major), agent (who, in which role, from which network address), source (the observer),
 * entity (the patient and resource touched) and purpose of use (ETREAT for break-the-glass).
 *
 * Encoding: RFC 8785 JSON Canonicalization (JCS) of the entry, UTF-8. Chosen over a
 * length-prefixed binary layout because (1) an auditor or a third-party verifier in any language
 * can recompute a leaf hash from the JSON it exports, with an off-the-shelf JCS library and no
 * CareWire schema code; (2) the stored bytes are readable evidence; (3) new optional fields need
 * no format version — absent fields are simply not emitted, so old leaves still hash the same.
 * The cost is a few microseconds per entry, measured in bench/audit-merkle.ts.
 *
 * `seq` is inside the hashed bytes, so an entry cannot be moved to another position (reordered,
 * or renumbered after a deletion) without changing its leaf hash.
 */
import { leafHash } from './hash.ts';
import { canonicalJson, type JsonValue } from './jcs.ts';

export const AUDIT_ACTIONS = ['C', 'R', 'U', 'D', 'E'] as const;
/** FHIR AuditEvent.action: Create, Read, Update, Delete, Execute. */
export type AuditAction = (typeof AUDIT_ACTIONS)[number];

export const AUDIT_OUTCOMES = [0, 4, 8, 12] as const;
/** FHIR AuditEvent.outcome: 0 success, 4 minor failure, 8 serious failure, 12 major failure. */
export type AuditOutcome = (typeof AUDIT_OUTCOMES)[number];

/** FHIR AuditEvent.agent: who acted. All optional: system actions have no user. */
export interface AuditEntryAgent {
  userId?: string | undefined;
  username?: string | undefined;
  /** CareWire role (patient, clinician, auditor, admin, device, system). */
  role?: string | undefined;
  /** Network address the request came from (AuditEvent.agent.network.address). */
  address?: string | undefined;
}

/** FHIR AuditEvent.entity: what was touched. */
export interface AuditEntryEntity {
  patientId?: string | undefined;
  /** FHIR resource type or CareWire record kind, e.g. Patient, Observation, alarm. */
  resourceType?: string | undefined;
  resourceId?: string | undefined;
}

export interface AuditEntry {
  /** Position in the log, from 0: equal to the entry's Merkle leaf index. */
  seq: number;
  /** Stable external identifier (AuditEvent.id), e.g. a UUID. */
  id?: string | undefined;
  /** When the event was recorded: UTC, millisecond precision, exactly `Date.toISOString()` form. */
  recorded: string;
  /** Event type, lowercase dotted: `auth.login`, `patient.read`, `alarm.ack`, `break-glass`, … */
  type: string;
  action: AuditAction;
  outcome: AuditOutcome;
  /** Why it failed (AuditEvent.outcomeDesc), e.g. `denied: not on care team`. */
  outcomeDesc?: string | undefined;
  agent: AuditEntryAgent;
  /** The observer: which part of which node saw it, e.g. `http`, `fhir`, `socket`, `hl7`, `cli`. */
  source: string;
  entity?: AuditEntryEntity | undefined;
  /** Purpose of use (v3 PurposeOfUse), e.g. ETREAT for break-the-glass, TREAT. */
  purpose?: string | undefined;
  /** Anything else worth keeping (reason text, batch counts); JSON, bounded by MAX_ENTRY_BYTES. */
  detail?: { readonly [k: string]: JsonValue } | undefined;
}

/** Encoded entries above this are refused: the audit log is bounded like everything else. */
export const MAX_ENTRY_BYTES = 16 * 1024;
const MAX_FIELD = 256;
const MAX_TEXT = 1024;

export class AuditEntryError extends Error {
  override readonly name = 'AuditEntryError';
}

const ENTRY_KEYS = new Set([
  'seq',
  'id',
  'recorded',
  'type',
  'action',
  'outcome',
  'outcomeDesc',
  'agent',
  'source',
  'entity',
  'purpose',
  'detail',
]);
const AGENT_KEYS = new Set(['userId', 'username', 'role', 'address']);
const ENTITY_KEYS = new Set(['patientId', 'resourceType', 'resourceId']);
const RECORDED_RE = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})\.\d{3}Z$/;
const TYPE_RE = /^[a-z][a-z0-9]*(?:[._-][a-z0-9]+)*$/;
const PURPOSE_RE = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;
// C0 and C1 controls, DEL, and bidi overrides: never legitimate in an identifier, and they let an
// attacker forge what an auditor's terminal shows.
// biome-ignore lint/suspicious/noControlCharactersInRegex: matching control characters is the point
const UNSAFE_RE = /[\u0000-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/;

function isPlainObject(v: unknown): v is Record<string, unknown> {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return false;
  const proto = Object.getPrototypeOf(v);
  return proto === Object.prototype || proto === null;
}

function checkKeys(obj: Record<string, unknown>, allowed: Set<string>, where: string): void {
  for (const k of Object.keys(obj)) {
    if (!allowed.has(k)) throw new AuditEntryError(`${where}: unknown field ${JSON.stringify(k)}`);
  }
}

function checkString(v: unknown, where: string, max: number, required: boolean): void {
  if (v === undefined) {
    if (required) throw new AuditEntryError(`${where} is required`);
    return;
  }
  if (typeof v !== 'string') throw new AuditEntryError(`${where} must be a string`);
  if (v.length === 0 || v.length > max) throw new AuditEntryError(`${where} must be 1 to ${max} characters`);
  if (!v.isWellFormed() || UNSAFE_RE.test(v))
    throw new AuditEntryError(`${where} contains control or malformed characters`);
}

// Field arithmetic instead of a Date round trip: this runs for every entry appended and verified.
function checkRecorded(v: unknown): void {
  const m = typeof v === 'string' ? RECORDED_RE.exec(v) : null;
  if (m === null) throw new AuditEntryError('recorded must be a UTC timestamp like 2026-01-31T23:59:59.999Z');
  const year = Number(m[1]);
  const month = Number(m[2]);
  const day = Number(m[3]);
  const leap = year % 4 === 0 && (year % 100 !== 0 || year % 400 === 0);
  const days =
    month === 2 ? (leap ? 29 : 28) : month === 4 || month === 6 || month === 9 || month === 11 ? 30 : 31;
  if (
    month < 1 ||
    month > 12 ||
    day < 1 ||
    day > days ||
    Number(m[4]) > 23 ||
    Number(m[5]) > 59 ||
    Number(m[6]) > 59
  ) {
    throw new AuditEntryError('recorded is not a real date');
  }
}

/** Throws AuditEntryError naming the first field that is wrong. */
export function validateEntry(e: unknown): asserts e is AuditEntry {
  if (!isPlainObject(e)) throw new AuditEntryError('entry must be a plain object');
  checkKeys(e, ENTRY_KEYS, 'entry');
  if (!Number.isSafeInteger(e.seq) || (e.seq as number) < 0)
    throw new AuditEntryError('seq must be a non-negative safe integer');
  checkString(e.id, 'id', 128, false);
  checkRecorded(e.recorded);
  if (typeof e.type !== 'string' || e.type.length > 64 || !TYPE_RE.test(e.type)) {
    throw new AuditEntryError('type must be a lowercase dotted code of at most 64 characters');
  }
  if (!(AUDIT_ACTIONS as readonly unknown[]).includes(e.action))
    throw new AuditEntryError('action must be one of C R U D E');
  if (!(AUDIT_OUTCOMES as readonly unknown[]).includes(e.outcome))
    throw new AuditEntryError('outcome must be 0, 4, 8 or 12');
  checkString(e.outcomeDesc, 'outcomeDesc', MAX_TEXT, false);
  if (!isPlainObject(e.agent)) throw new AuditEntryError('agent must be an object');
  checkKeys(e.agent, AGENT_KEYS, 'agent');
  for (const k of AGENT_KEYS) checkString(e.agent[k], `agent.${k}`, MAX_FIELD, false);
  checkString(e.source, 'source', 128, true);
  if (e.entity !== undefined) {
    if (!isPlainObject(e.entity)) throw new AuditEntryError('entity must be an object');
    checkKeys(e.entity, ENTITY_KEYS, 'entity');
    for (const k of ENTITY_KEYS) checkString(e.entity[k], `entity.${k}`, MAX_FIELD, false);
  }
  if (
    e.purpose !== undefined &&
    (typeof e.purpose !== 'string' || e.purpose.length > 64 || !PURPOSE_RE.test(e.purpose))
  ) {
    throw new AuditEntryError('purpose must be a code such as ETREAT');
  }
  if (e.detail !== undefined && !isPlainObject(e.detail))
    throw new AuditEntryError('detail must be an object');
}

const q = JSON.stringify;

/**
 * RFC 8785 output for a validated entry, with the key order written out (UTF-16 order of the
 * fixed field names) instead of sorted per object: the generic canonicalizer costs several times
 * more, and this runs on every append and every verified entry. Tests hold it equal to
 * canonicalJson(entry) on random entries. Only `detail`, which is free-form, goes through the
 * generic path.
 */
export function canonicalEntryJson(e: AuditEntry): string {
  const a = e.agent;
  let agent = '';
  if (a.address !== undefined) agent += `,"address":${q(a.address)}`;
  if (a.role !== undefined) agent += `,"role":${q(a.role)}`;
  if (a.userId !== undefined) agent += `,"userId":${q(a.userId)}`;
  if (a.username !== undefined) agent += `,"username":${q(a.username)}`;
  let s = `{"action":${q(e.action)},"agent":{${agent.slice(1)}}`;
  if (e.detail !== undefined) s += `,"detail":${canonicalJson(e.detail)}`;
  if (e.entity !== undefined) {
    const n = e.entity;
    let entity = '';
    if (n.patientId !== undefined) entity += `,"patientId":${q(n.patientId)}`;
    if (n.resourceId !== undefined) entity += `,"resourceId":${q(n.resourceId)}`;
    if (n.resourceType !== undefined) entity += `,"resourceType":${q(n.resourceType)}`;
    s += `,"entity":{${entity.slice(1)}}`;
  }
  if (e.id !== undefined) s += `,"id":${q(e.id)}`;
  s += `,"outcome":${e.outcome}`;
  if (e.outcomeDesc !== undefined) s += `,"outcomeDesc":${q(e.outcomeDesc)}`;
  if (e.purpose !== undefined) s += `,"purpose":${q(e.purpose)}`;
  return `${s},"recorded":${q(e.recorded)},"seq":${e.seq},"source":${q(e.source)},"type":${q(e.type)}}`;
}

/** Canonical UTF-8 bytes of a valid entry (RFC 8785). Throws AuditEntryError when invalid or too large. */
export function encodeEntry(entry: AuditEntry): Uint8Array {
  validateEntry(entry);
  const bytes = Buffer.from(canonicalText(entry), 'utf8');
  if (bytes.length > MAX_ENTRY_BYTES) {
    throw new AuditEntryError(`entry encodes to ${bytes.length} bytes, more than ${MAX_ENTRY_BYTES}`);
  }
  return bytes;
}

function canonicalText(entry: AuditEntry): string {
  try {
    return canonicalEntryJson(entry);
  } catch (err) {
    throw new AuditEntryError(`entry is not canonical JSON: ${(err as Error).message}`);
  }
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

/**
 * Parses stored bytes back into an entry, and refuses bytes that are not exactly the canonical
 * encoding of that entry (so two byte strings can never claim to be the same entry).
 */
export function decodeEntry(bytes: Uint8Array): AuditEntry {
  if (bytes.length > MAX_ENTRY_BYTES)
    throw new AuditEntryError(`entry is ${bytes.length} bytes, more than ${MAX_ENTRY_BYTES}`);
  let text: string;
  let value: unknown;
  try {
    text = utf8.decode(bytes);
    value = JSON.parse(text);
  } catch (err) {
    throw new AuditEntryError(`entry bytes are not UTF-8 JSON: ${(err as Error).message}`);
  }
  validateEntry(value);
  // Comparing strings, not re-encoded bytes: UTF-8 is one-to-one, and this skips an allocation.
  if (canonicalText(value) !== text) throw new AuditEntryError('entry bytes are not in canonical form');
  return value;
}

/** The Merkle leaf hash of an entry: SHA-256(0x00 ‖ canonical bytes). */
export function entryLeafHash(entry: AuditEntry): Uint8Array {
  return leafHash(encodeEntry(entry));
}
