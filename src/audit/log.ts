/**
 * The audit hook every feature calls: `audit.append(event)` after each access to patient data,
 * each login, each admin change and each denial. Entries are stored append-only (the database
 * refuses updates and deletes) through group commit, and the promise settles once the entry is
 * durable, so a caller can refuse to hand out data it could not record.
 *
 * Field names follow FHIR R4 AuditEvent: action C/R/U/D/E, outcome 0 (success), 4 (minor failure,
 * e.g. denied), 8 (serious failure), 12 (major failure), agent with role and network address,
 * entity with the patient, purpose of use (ETREAT for break-the-glass).
 */
import { randomUUID } from 'node:crypto';
import type { Selectable } from 'kysely';
import type { Db } from '../store/db.ts';
import { type GroupCommitOptions, GroupCommitter } from '../store/group-commit.ts';
import type { AuditEventsTable } from '../store/schema.ts';

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
  detail?: Record<string, unknown> | undefined;
}

export interface AuditRecord extends AuditEvent {
  seq: number;
  id: string;
  recorded: number;
}

export interface AuditQuery {
  patientId?: string;
  userId?: string;
  type?: string;
  afterSeq?: number;
  limit?: number;
}

type Row = Omit<AuditEventsTable, 'seq'>;

export class AuditLog {
  readonly #db: Db;
  readonly #writer: GroupCommitter<Row, number>;

  constructor(db: Db, opts: GroupCommitOptions) {
    this.#db = db;
    this.#writer = new GroupCommitter<Row, number>(
      db,
      async (trx, rows) => {
        const out = await trx
          .insertInto('audit_events')
          .values([...rows])
          .returning('seq')
          .execute();
        return out.map((r) => Number(r.seq));
      },
      opts,
    );
  }

  /** Appends one event; resolves when it is committed. */
  async append(event: AuditEvent): Promise<AuditRecord> {
    const row: Row = {
      id: randomUUID(),
      recorded: Date.now(),
      type: event.type,
      action: event.action,
      outcome: event.outcome,
      user_id: event.agent?.userId ?? null,
      username: event.agent?.username ?? null,
      role: event.agent?.role ?? null,
      address: event.agent?.address ?? null,
      source: event.source ?? 'app',
      patient_id: event.patientId ?? null,
      entity_type: event.entity?.type ?? null,
      entity_id: event.entity?.id ?? null,
      purpose: event.purpose ?? null,
      detail: event.detail ? JSON.stringify(event.detail) : null,
    };
    const seq = await this.#writer.submit(row);
    return { ...event, seq, id: row.id, recorded: row.recorded };
  }

  async query(q: AuditQuery = {}): Promise<AuditRecord[]> {
    let sel = this.#db.selectFrom('audit_events').selectAll();
    if (q.patientId) sel = sel.where('patient_id', '=', q.patientId);
    if (q.userId) sel = sel.where('user_id', '=', q.userId);
    if (q.type) sel = sel.where('type', '=', q.type);
    if (q.afterSeq !== undefined) sel = sel.where('seq', '>', q.afterSeq);
    const rows = await sel
      .orderBy('seq', 'asc')
      .limit(Math.min(q.limit ?? 100, 1000))
      .execute();
    return rows.map(fromRow);
  }

  async flush(): Promise<void> {
    await this.#writer.flush();
  }

  async close(): Promise<void> {
    await this.#writer.close();
  }
}

function fromRow(r: Selectable<AuditEventsTable>): AuditRecord {
  return {
    seq: Number(r.seq),
    id: r.id,
    recorded: Number(r.recorded),
    type: r.type,
    action: r.action as AuditAction,
    outcome: r.outcome as AuditOutcome,
    agent: {
      userId: r.user_id ?? undefined,
      username: r.username ?? undefined,
      role: r.role ?? undefined,
      address: r.address ?? undefined,
    },
    source: r.source,
    patientId: r.patient_id ?? undefined,
    entity: r.entity_type && r.entity_id ? { type: r.entity_type, id: r.entity_id } : undefined,
    purpose: r.purpose ?? undefined,
    detail: r.detail ? (JSON.parse(r.detail) as Record<string, unknown>) : undefined,
  };
}
