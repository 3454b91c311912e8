/**
 * Alarm rows: the lifecycle state of each alarm (one row, updated in place by every event) and the
 * device alarm frames that fed them (the channel's exactly-once log). Mapping only; transactions
 * are the caller's (the alarm service's group commit).
 */
import type { DatabaseSync, SQLInputValue } from 'node:sqlite';
import type { Insertable, Kysely, Selectable, Transaction } from 'kysely';
import type { AlarmFramesTable, AlarmsTable, Database } from '../store/schema.ts';
import type { WriteOp } from '../store/sqlite-writer.ts';
import type { AlarmCategory, AlarmPriority } from './alarm-kinds.ts';
import type { AlarmSnapshot, AlarmSource, AlarmState, ResolveReason } from './alarm-lifecycle.ts';

export type Trx = Transaction<Database> | Kysely<Database>;

/** What a stored alarm looks like in the API and on the bus. */
export type StoredAlarm = AlarmSnapshot;

export function toAlarmRow(a: AlarmSnapshot, highSince: number | null, now: number): Insertable<AlarmsTable> {
  return {
    id: a.id,
    patient_id: a.patientId,
    kind: a.kind,
    category: a.category,
    priority: a.priority,
    source: a.source,
    state: a.state,
    latched: a.latching ? 1 : 0,
    condition_present: a.conditionPresent ? 1 : 0,
    text: a.text,
    value: a.value,
    limit_value: a.limit,
    raised_at: a.raisedAt,
    high_since: highSince,
    acked_at: a.acknowledgedAt,
    acked_by: a.acknowledgedBy,
    resolved_at: a.resolvedAt,
    resolved_by: a.resolvedBy,
    resolution: a.resolution,
    escalated_at: a.escalatedAt,
    device_id: a.deviceId,
    device_alarm_id: a.deviceAlarmId,
    updated_at: now,
  };
}

export function fromAlarmRow(r: Selectable<AlarmsTable>): {
  snapshot: AlarmSnapshot;
  highSince: number | null;
} {
  const num = (v: number | null) => (v === null ? null : Number(v));
  return {
    snapshot: {
      id: r.id,
      patientId: r.patient_id,
      kind: r.kind,
      category: r.category as AlarmCategory,
      priority: r.priority as AlarmPriority,
      source: r.source as AlarmSource,
      state: r.state as AlarmState,
      latching: r.latched !== 0,
      conditionPresent: r.condition_present !== 0,
      text: r.text,
      value: num(r.value),
      limit: num(r.limit_value),
      raisedAt: Number(r.raised_at),
      acknowledgedAt: num(r.acked_at),
      acknowledgedBy: r.acked_by,
      resolvedAt: num(r.resolved_at),
      resolvedBy: r.resolved_by,
      resolution: r.resolution as ResolveReason | null,
      escalatedAt: num(r.escalated_at),
      deviceId: r.device_id,
      deviceAlarmId: r.device_alarm_id,
    },
    highSince: num(r.high_since),
  };
}

/** Inserts or updates alarm rows (later snapshots of one alarm win, in order). */
export async function upsertAlarms(trx: Trx, rows: readonly Insertable<AlarmsTable>[]): Promise<void> {
  for (const row of rows) {
    const { id: _id, ...rest } = row;
    await trx
      .insertInto('alarms')
      .values(row)
      .onConflict((oc) => oc.column('id').doUpdateSet(rest))
      .execute();
  }
}

/** Inserts a device alarm frame once; returns false when its (device, alarmId, event) was stored before. */
export async function insertFrame(trx: Trx, row: Insertable<AlarmFramesTable>): Promise<boolean> {
  const r = await trx
    .insertInto('alarm_frames')
    .values(row)
    .onConflict((oc) => oc.columns(['device_id', 'alarm_id', 'event']).doNothing())
    .executeTakeFirst();
  return Number(r.numInsertedOrUpdatedRows ?? 0) > 0;
}

export type FindFrame = (
  deviceId: string,
  alarmId: string,
  event: string,
) => Promise<{ alarm_ref: string | null } | undefined>;

/**
 * Looks up a stored device alarm frame by its key. On SQLite, one statement prepared on the raw
 * connection: it runs for every alarm frame, before the frame's commit and so on its ACK's path,
 * where building and compiling the Kysely query each time cost more than the look-up itself.
 */
export function frameFinder(db: Kysely<Database>, sqlite?: DatabaseSync): FindFrame {
  if (sqlite) {
    const st = sqlite.prepare(
      'SELECT alarm_ref FROM alarm_frames WHERE device_id = ? AND alarm_id = ? AND event = ?',
    );
    return async (deviceId, alarmId, event) =>
      st.get(deviceId, alarmId, event) as { alarm_ref: string | null } | undefined;
  }
  return (deviceId, alarmId, event) =>
    db
      .selectFrom('alarm_frames')
      .select('alarm_ref')
      .where('device_id', '=', deviceId)
      .where('alarm_id', '=', alarmId)
      .where('event', '=', event)
      .executeTakeFirst();
}

// The same writes as upsertAlarms and insertFrame, as statements for the SQLite writer thread.
const ALARM_COLUMNS = [
  'id',
  'patient_id',
  'kind',
  'category',
  'priority',
  'source',
  'state',
  'latched',
  'condition_present',
  'text',
  'value',
  'limit_value',
  'raised_at',
  'high_since',
  'acked_at',
  'acked_by',
  'resolved_at',
  'resolved_by',
  'resolution',
  'escalated_at',
  'device_id',
  'device_alarm_id',
  'updated_at',
] as const satisfies ReadonlyArray<keyof AlarmsTable>;
const FRAME_COLUMNS = [
  'device_id',
  'alarm_id',
  'event',
  'patient_id',
  'alarm_ref',
  'kind',
  'priority',
  'device_time',
  'received_at',
  'body',
] as const satisfies ReadonlyArray<keyof AlarmFramesTable>;
const placeholders = (n: number) => new Array(n).fill('?').join(', ');
const UPSERT_ALARM =
  `INSERT INTO alarms (${ALARM_COLUMNS.join(', ')}) VALUES (${placeholders(ALARM_COLUMNS.length)}) ` +
  `ON CONFLICT (id) DO UPDATE SET ${ALARM_COLUMNS.slice(1)
    .map((c) => `${c} = excluded.${c}`)
    .join(', ')}`;
const INSERT_FRAME =
  `INSERT INTO alarm_frames (${FRAME_COLUMNS.join(', ')}) VALUES (${placeholders(FRAME_COLUMNS.length)}) ` +
  'ON CONFLICT (device_id, alarm_id, event) DO NOTHING';

/** upsertAlarms as one writer-thread op (rows in order: a later snapshot of an alarm wins). */
export function upsertAlarmsOp(rows: readonly Insertable<AlarmsTable>[]): WriteOp {
  const params: SQLInputValue[] = [];
  for (const r of rows) for (const c of ALARM_COLUMNS) params.push(r[c] ?? null);
  return { sql: UPSERT_ALARM, width: ALARM_COLUMNS.length, params };
}

/** insertFrame for several frames as one writer-thread op; each run's rowid is -1 for a duplicate. */
export function insertFramesOp(rows: readonly Insertable<AlarmFramesTable>[]): WriteOp {
  const params: SQLInputValue[] = [];
  for (const r of rows) for (const c of FRAME_COLUMNS) params.push(r[c] ?? null);
  return { sql: INSERT_FRAME, width: FRAME_COLUMNS.length, params, rowids: true };
}
