/**
 * The bridge between the audit hook's `AuditEvent` (what features pass in) and the Merkle log's
 * `AuditEntry` (what a leaf commits to), in both directions.
 *
 * Events carry text that callers did not choose — a username typed at a failed login, an address,
 * a free-form reason — so agent and entity strings are made safe here (control and bidi characters
 * replaced, lone surrogates repaired, length capped) instead of letting an attacker's input make
 * the audit append, and with it the request, fail.
 */
import type { AuditEntry, JsonValue } from './merkle/index.ts';

export type AuditAction = 'C' | 'R' | 'U' | 'D' | 'E';
export type AuditOutcome = 0 | 4 | 8 | 12;

export interface AuditAgent {
  userId?: string | undefined;
  username?: string | undefined;
  role?: string | undefined;
  address?: string | undefined;
}

export interface AuditEvent {
  /** What happened, dotted: `auth.login`, `patient.read`, `access.denied`, `break-glass`, … */
  type: string;
  action: AuditAction;
  outcome: AuditOutcome;
  agent?: AuditAgent | undefined;
  /** Which gateway saw it: http, fhir, socket, hl7, telemetry, cli. */
  source?: string | undefined;
  patientId?: string | undefined;
  entity?: { type: string; id: string } | undefined;
  /** Purpose of use, e.g. ETREAT for break-the-glass. */
  purpose?: string | undefined;
  /** Why it failed, in words (FHIR AuditEvent.outcomeDesc). */
  outcomeDesc?: string | undefined;
  detail?: Record<string, unknown> | undefined;
}

export interface AuditRecord extends AuditEvent {
  /** Position in the log from 0: the entry's Merkle leaf index. */
  seq: number;
  id: string;
  /** Milliseconds since the epoch. */
  recorded: number;
}

const MAX_FIELD = 256;
const MAX_TEXT = 1024;
// The characters validateEntry refuses (see merkle/entry.ts): C0/C1 controls, DEL, bidi overrides.
// biome-ignore lint/suspicious/noControlCharactersInRegex: matching control characters is the point
const UNSAFE = /[\u0000-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/g;

/** A string fit for an entry field, or undefined for an absent or empty one. */
export function safeField(s: string | undefined | null, max = MAX_FIELD): string | undefined {
  if (s === undefined || s === null || s === '') return undefined;
  let v = typeof s === 'string' ? s : String(s);
  if (v.length > max) v = v.slice(0, max);
  if (!v.isWellFormed()) v = v.toWellFormed();
  UNSAFE.lastIndex = 0;
  if (UNSAFE.test(v)) v = v.replace(UNSAFE, '\uFFFD');
  return v;
}

/** JSON round trip: drops undefined, turns Dates into strings and non-finite numbers into null. */
function jsonDetail(detail: Record<string, unknown>): { readonly [k: string]: JsonValue } {
  // Lone surrogates survive a JSON round trip but not RFC 8785: repair them on the way.
  const text = JSON.stringify(detail, (_k, v: unknown) =>
    typeof v === 'string' && !v.isWellFormed() ? v.toWellFormed() : v,
  );
  return JSON.parse(text ?? '{}') as { readonly [k: string]: JsonValue };
}

/** The Merkle entry for an event at leaf `seq`. Throws AuditEntryError only for a bad `type`. */
export function eventToEntry(seq: number, id: string, recordedMs: number, e: AuditEvent): AuditEntry {
  const a = e.agent;
  const entry: AuditEntry = {
    seq,
    id,
    recorded: new Date(recordedMs).toISOString(),
    type: e.type,
    action: e.action,
    outcome: e.outcome,
    agent: a
      ? {
          userId: safeField(a.userId),
          username: safeField(a.username),
          role: safeField(a.role),
          address: safeField(a.address),
        }
      : {},
    source: safeField(e.source, 128) ?? 'app',
  };
  const patientId = safeField(e.patientId);
  if (patientId !== undefined || e.entity !== undefined) {
    entry.entity = {
      patientId,
      resourceType: safeField(e.entity?.type),
      resourceId: safeField(e.entity?.id),
    };
  }
  if (e.purpose !== undefined) entry.purpose = e.purpose;
  const desc = safeField(e.outcomeDesc, MAX_TEXT);
  if (desc !== undefined) entry.outcomeDesc = desc;
  if (e.detail !== undefined) entry.detail = jsonDetail(e.detail);
  return entry;
}

/** The event view of a stored entry (what `AuditLog.query` has always answered). */
export function entryToRecord(x: AuditEntry): AuditRecord {
  const r: AuditRecord = {
    seq: x.seq,
    id: x.id ?? String(x.seq),
    recorded: Date.parse(x.recorded),
    type: x.type,
    action: x.action,
    outcome: x.outcome,
    agent: { ...x.agent },
    source: x.source,
  };
  if (x.entity?.patientId !== undefined) r.patientId = x.entity.patientId;
  if (x.entity?.resourceType !== undefined && x.entity.resourceId !== undefined)
    r.entity = { type: x.entity.resourceType, id: x.entity.resourceId };
  if (x.purpose !== undefined) r.purpose = x.purpose;
  if (x.outcomeDesc !== undefined) r.outcomeDesc = x.outcomeDesc;
  if (x.detail !== undefined) r.detail = x.detail as Record<string, unknown>;
  return r;
}

/**
 * Patients an event touched besides `patientId`: a patient list records the ids it showed in
 * `detail.patientIds`, and those patients should find the list in "who accessed my record".
 */
export function otherPatients(e: AuditEvent): string[] {
  const ids = e.detail?.patientIds;
  if (!Array.isArray(ids)) return [];
  const out: string[] = [];
  for (const id of ids) {
    if (typeof id === 'string' && id !== '' && id.length <= MAX_FIELD && id !== e.patientId) out.push(id);
  }
  return out;
}
