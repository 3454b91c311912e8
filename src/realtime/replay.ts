/**
 * Replay from the store: what a (re)subscribing client missed, by the offsets it sends. Bounded:
 * an answer carries at most MAX_ALARMS alarms and MAX_SAMPLES samples per patient; beyond that it
 * says so (`alarmsTruncated`, `truncated`) and the client reloads over HTTP.
 */

import type { AlarmSnapshot } from '../monitoring/alarm-lifecycle.ts';
import { fromAlarmRow } from '../monitoring/alarm-store.ts';
import type { News2State } from '../monitoring/news2-tracker.ts';
import type { Db } from '../store/db.ts';
import type { News2Payload, Values, VitalsUpdate } from './protocol.ts';

export const MAX_ALARMS = 2000;
export const MAX_SAMPLES = 600;
/** Without an offset, vitals history covers this much (the tiles' trend line). */
export const DEFAULT_HISTORY_MS = 5 * 60_000;
/**
 * Alarm rows are stamped when their change is submitted to group commit and published after the
 * commit, so a row can carry a time a little before the offset of an event the client already
 * saw. Replays reach back this far; alarm payloads are snapshots, so the overlap is harmless.
 */
export const ALARM_SLACK_MS = 2000;
const IN_CHUNK = 500;

export async function alarmsSince(
  db: Db,
  patientIds: readonly string[],
  since: number | undefined,
): Promise<{ alarms: AlarmSnapshot[]; offset: number; truncated: boolean }> {
  const out: AlarmSnapshot[] = [];
  let offset = since ?? 0;
  let truncated = false;
  for (let i = 0; i < patientIds.length; i += IN_CHUNK) {
    const ids = patientIds.slice(i, i + IN_CHUNK);
    let q = db.selectFrom('alarms').selectAll().where('patient_id', 'in', ids);
    // First subscription: what is open now. Resubscription: every change since the offset.
    q =
      since === undefined
        ? q.where('state', '!=', 'resolved')
        : q.where('updated_at', '>=', since - ALARM_SLACK_MS);
    const rows = await q
      .orderBy('updated_at')
      .limit(MAX_ALARMS + 1)
      .execute();
    for (const r of rows) {
      offset = Math.max(offset, Number(r.updated_at));
      out.push(fromAlarmRow(r).snapshot);
    }
  }
  if (out.length > MAX_ALARMS) {
    truncated = true;
    out.splice(0, out.length - MAX_ALARMS);
  }
  return { alarms: out, offset, truncated };
}

export async function vitalsSince(
  db: Db,
  patientIds: readonly string[],
  since: Readonly<Record<string, number>> | undefined,
  now: number,
): Promise<VitalsUpdate[]> {
  const out: VitalsUpdate[] = [];
  for (const patientId of patientIds) {
    const from = since?.[patientId] ?? now - DEFAULT_HISTORY_MS;
    // Newest first, so a long gap keeps its most recent samples.
    const rows = await db
      .selectFrom('vital_samples')
      .select([
        'ts',
        'heart_rate',
        'pulse_rate',
        'resp_rate',
        'spo2',
        'temperature',
        'systolic_bp',
        'diastolic_bp',
      ])
      .where('patient_id', '=', patientId)
      .where('ts', '>', from)
      .orderBy('ts', 'desc')
      .limit(MAX_SAMPLES + 1)
      .execute();
    const truncated = rows.length > MAX_SAMPLES;
    if (truncated) rows.pop();
    rows.reverse();
    const samples = rows.map((r) => ({ ts: Number(r.ts), values: valuesOf(r) }));
    // Intermittent signs (NIBP every few minutes to hours, temperature a few times a day) are
    // usually older than the window: a first subscription gets the last one, with its time.
    if (since?.[patientId] === undefined) {
      for (const col of ['systolic_bp', 'temperature'] as const) {
        if (rows.some((r) => r[col] !== null)) continue;
        const last = await db
          .selectFrom('vital_samples')
          .select(['ts', 'systolic_bp', 'diastolic_bp', 'temperature'])
          .where('patient_id', '=', patientId)
          .where(col, 'is not', null)
          .where('ts', '<=', from)
          .orderBy('ts', 'desc')
          .limit(1)
          .executeTakeFirst();
        if (!last) continue;
        const values: Values =
          col === 'temperature'
            ? { temperature: Number(last.temperature) }
            : {
                systolicBp: Number(last.systolic_bp),
                ...(last.diastolic_bp !== null ? { diastolicBp: Number(last.diastolic_bp) } : {}),
              };
        samples.unshift({ ts: Number(last.ts), values });
      }
      samples.sort((a, b) => a.ts - b.ts);
    }
    if (samples.length === 0) continue;
    out.push({ patientId, samples, ...(truncated ? { truncated } : {}) });
  }
  return out;
}

function valuesOf(r: {
  heart_rate: number | null;
  pulse_rate: number | null;
  resp_rate: number | null;
  spo2: number | null;
  temperature: number | null;
  systolic_bp: number | null;
  diastolic_bp: number | null;
}): Values {
  const v: Values = {};
  if (r.heart_rate !== null) v.heartRate = Number(r.heart_rate);
  if (r.pulse_rate !== null) v.pulseRate = Number(r.pulse_rate);
  if (r.resp_rate !== null) v.respiratoryRate = Number(r.resp_rate);
  if (r.spo2 !== null) v.spo2 = Number(r.spo2);
  if (r.temperature !== null) v.temperature = Number(r.temperature);
  if (r.systolic_bp !== null) v.systolicBp = Number(r.systolic_bp);
  if (r.diastolic_bp !== null) v.diastolicBp = Number(r.diastolic_bp);
  return v;
}

/** The NEWS2 payload from the tracker's state (same fields as the `news2` bus message). */
export function news2Payload(patientId: string, s: News2State): News2Payload {
  const r = s.result;
  return {
    patientId,
    at: s.at,
    total: r.total,
    complete: r.complete,
    missing: [...r.missing],
    subScores: { ...r.subScores } as Record<string, number>,
    band: r.band,
    risk: r.risk,
    response: r.response,
    singleParameterThree: r.singleParameterThree,
  };
}

/** The bus's `news2` message, narrowed to the payload clients get. */
export function news2FromBus(m: Record<string, unknown>): News2Payload | undefined {
  if (typeof m.patientId !== 'string' || typeof m.total !== 'number') return undefined;
  return {
    patientId: m.patientId,
    at: Number(m.at),
    total: m.total,
    complete: m.complete === true,
    missing: Array.isArray(m.missing) ? (m.missing as string[]) : [],
    subScores: (m.subScores ?? {}) as Record<string, number>,
    band: String(m.band ?? ''),
    risk: String(m.risk ?? ''),
    response: String(m.response ?? ''),
    singleParameterThree: m.singleParameterThree === true,
  };
}
