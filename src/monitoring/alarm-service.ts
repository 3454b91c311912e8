/**
 * The alarm service: runs the AlarmEngine on incoming vitals, NEWS2 results and device alarms,
 * stores every change of an alarm through group commit, publishes it on the bus after the commit,
 * and escalates (a high alarm unacknowledged for 60 s publishes `alarm.escalated` for its ward).
 * On start it rebuilds the open alarms from the store, so a restart neither forgets an alarm nor
 * raises it twice.
 *
 * Bus topics: `alarm` (every lifecycle event), `alarm.escalated` (ward, patient and the clinicians
 * to notify), `news2` (a patient's score changed).
 *
 * The engine's state lives in this process: the node that receives a device's telemetry runs its
 * alarms (see docs/architecture.md for what that means with several nodes).
 */

import type { DatabaseSync } from 'node:sqlite';
import type { Insertable } from 'kysely';
import type { Logger } from 'pino';
import type { AuditLog } from '../audit/log.ts';
import type { Actor } from '../auth/policy.ts';
import type { Bus } from '../bus/bus.ts';
import type { AccessContext, AccessGate } from '../clinical/access-gate.ts';
import type { ObservationService } from '../clinical/observations.ts';
import type { VitalValues } from '../clinical/vital-signs.ts';
import { badRequest, notFound } from '../errors.ts';
import type { Db } from '../store/db.ts';
import { GroupCommitter } from '../store/group-commit.ts';
import type { AlarmFramesTable, AlarmsTable } from '../store/schema.ts';
import type { SqliteWriter } from '../store/sqlite-writer.ts';
import type { DeviceAlarm } from '../telemetry/alarm-frame.ts';
import { AlarmEngine } from './alarm-engine.ts';
import type { AlarmEvent, AlarmSnapshot, AlarmState } from './alarm-lifecycle.ts';
import {
  type FindFrame,
  frameFinder,
  fromAlarmRow,
  insertFrame,
  insertFramesOp,
  toAlarmRow,
  upsertAlarms,
  upsertAlarmsOp,
} from './alarm-store.ts';
import { type Consciousness, type Spo2Scale, scoreNews2 } from './news2.ts';
import { type News2State, News2Tracker } from './news2-tracker.ts';

/** LOINC codes NEWS2 reads from observations (manual entry or HL7). */
export const NEWS2_CODES = {
  /** Level of responsiveness: A, C, V, P or U in value_text. */
  consciousness: '67775-7',
  /** Inhaled oxygen concentration (%): above 21 means supplemental oxygen. */
  fio2: '3150-0',
  /** Inhaled oxygen flow rate (L/min): above 0 means supplemental oxygen. */
  o2Flow: '3151-8',
} as const;

export interface AlarmServiceOptions {
  /** The clock; injected by tests. Default Date.now. */
  now?: () => number;
  escalateAfterMs?: number;
  /** Period of the timer that drives on-delays, escalation and pause expiry; 0 = no timer (tests call tick). */
  tickMs?: number;
  /** How often NEWS2 inputs from HL7/manual observations are re-read; 0 = never. Default 30 s. */
  observationRefreshMs?: number;
  groupCommitMs?: number;
  groupCommitMax?: number;
  logger?: Logger | undefined;
}

interface AlarmWrite {
  frame?: Insertable<AlarmFramesTable>;
  alarms: Insertable<AlarmsTable>[];
}

/** A batch of alarm writes in one writer-thread transaction; per item, whether its frame was new. */
async function commitOnThread(writer: SqliteWriter, items: readonly AlarmWrite[]): Promise<boolean[]> {
  const frames: Insertable<AlarmFramesTable>[] = [];
  const rows: Insertable<AlarmsTable>[] = [];
  for (const it of items) {
    if (it.frame) frames.push(it.frame);
    rows.push(...it.alarms);
  }
  const r = await writer.write([insertFramesOp(frames), upsertAlarmsOp(rows)]);
  const ids = r.rowids[0] ?? [];
  let f = 0;
  return items.map((it) => (it.frame ? ids[f++] !== -1 : true));
}

export interface DeviceRef {
  readonly id: string;
  readonly patientId: string | null;
}

export interface FrameOutcome {
  /** True when this (device, alarmId, event) was stored before: answer as the original. */
  duplicate: boolean;
  /** The CareWire alarm the report raised, updated or ended, if any. */
  alarmRef: string | null;
}

export interface AlarmListQuery {
  state?: AlarmState | 'open' | undefined;
  patientId?: string | undefined;
  limit?: number | undefined;
}

export interface News2Inputs {
  spo2Scale?: Spo2Scale | undefined;
  onOxygen?: boolean | undefined;
  oxygenFlow?: number | undefined;
  consciousness?: Consciousness | undefined;
}

const CONSCIOUSNESS = new Set(['A', 'C', 'V', 'P', 'U']);

export class AlarmService {
  readonly engine: AlarmEngine;
  readonly news2 = new News2Tracker();
  readonly #db: Db;
  readonly #findFrame: FindFrame;
  readonly #bus: Bus;
  readonly #gate: AccessGate;
  readonly #observations: ObservationService;
  readonly #now: () => number;
  readonly #log: Logger | undefined;
  readonly #writer: GroupCommitter<AlarmWrite, boolean>;
  readonly #inflight = new Map<string, Promise<FrameOutcome>>();
  readonly #news2Shown = new Map<string, string>();
  readonly #opts: AlarmServiceOptions;
  #timer: NodeJS.Timeout | undefined;
  #refreshTimer: NodeJS.Timeout | undefined;
  #lastObservationSeq = 0;
  #persisting = new Set<Promise<void>>();
  /** Counters for /metrics and tests. */
  readonly stats = { events: 0, escalations: 0, persistFailures: 0, framesStored: 0, frameDuplicates: 0 };

  constructor(
    deps: {
      db: Db;
      bus: Bus;
      gate: AccessGate;
      audit: AuditLog;
      observations: ObservationService;
      /** The SQLite writer thread, when alarm writes should commit there (servers). */
      writer?: SqliteWriter | undefined;
      /** The store's raw SQLite connection, for the per-frame duplicate look-up. */
      sqlite?: DatabaseSync | undefined;
    },
    opts: AlarmServiceOptions = {},
  ) {
    this.#db = deps.db;
    this.#findFrame = frameFinder(deps.db, deps.sqlite);
    this.#bus = deps.bus;
    this.#gate = deps.gate;
    this.#observations = deps.observations;
    this.#opts = opts;
    this.#now = opts.now ?? Date.now;
    this.#log = opts.logger;
    this.engine = new AlarmEngine(opts.escalateAfterMs ? { escalateAfterMs: opts.escalateAfterMs } : {});
    const commit = { maxDelayMs: opts.groupCommitMs ?? 1, maxItems: opts.groupCommitMax ?? 512 };
    const thread = deps.writer;
    this.#writer = thread
      ? // SQLite: the writer thread commits (and fsyncs) while this thread reads the next frames;
        // on the main connection each commit blocked the event loop, and under vitals load it
        // waited there for the writer's lock (measured: alarm ACK p99 105–150 ms, UDP loss).
        new GroupCommitter<AlarmWrite, boolean>(null, (items) => commitOnThread(thread, items), {
          ...commit,
          pipeline: 2,
        })
      : new GroupCommitter<AlarmWrite, boolean>(
          this.#db,
          async (trx, items) => {
            const out: boolean[] = [];
            for (const it of items) {
              const inserted = it.frame ? await insertFrame(trx, it.frame) : true;
              await upsertAlarms(trx, it.alarms);
              out.push(inserted);
            }
            return out;
          },
          commit,
        );
  }

  /** Rebuilds open alarms and NEWS2 settings from the store, then starts the timers. */
  async start(): Promise<void> {
    const rows = await this.#db.selectFrom('alarms').selectAll().where('state', '!=', 'resolved').execute();
    const restored = this.engine.restore(rows.map(fromAlarmRow));
    if (restored > 0) this.#log?.info({ restored }, 'open alarms restored from the store');
    const settings = await this.#db.selectFrom('news2_settings').selectAll().execute();
    for (const s of settings) this.news2.setScale(s.patient_id, s.spo2_scale === 2 ? 2 : 1);
    await this.refreshObservations();
    const tickMs = this.#opts.tickMs ?? 250;
    if (tickMs > 0) {
      this.#timer = setInterval(() => this.tick(), tickMs);
      this.#timer.unref();
    }
    const refreshMs = this.#opts.observationRefreshMs ?? 30_000;
    if (refreshMs > 0) {
      this.#refreshTimer = setInterval(() => {
        this.refreshObservations().catch((err: unknown) =>
          this.#log?.warn({ err }, 'reading NEWS2 observations failed'),
        );
      }, refreshMs);
      this.#refreshTimer.unref();
    }
  }

  /** Time-based transitions (on-delays, escalation, pause expiry). The timer calls it; tests may too. */
  tick(): AlarmEvent[] {
    const events = this.engine.tick(this.#now());
    if (events.length > 0) this.#persist(events);
    return events;
  }

  /**
   * One verified vitals sample of a patient (synchronous: the telemetry hot path). Alarm changes
   * are stored and published in the background; failures are logged and counted.
   */
  observeVitals(patientId: string, values: VitalValues, at: number): void {
    const now = this.#now();
    const events = this.engine.observe(patientId, values, now);
    this.news2.vitals(patientId, values, at);
    const score = this.news2.evaluate(patientId, now);
    if (score !== null) this.#onNews2(patientId, score, events, now);
    if (events.length > 0) this.#persist(events);
  }

  #onNews2(patientId: string, s: News2State, events: AlarmEvent[], now: number): void {
    events.push(...this.engine.observeNews2(patientId, s.result, now));
    // Published when what a clinician sees changes (score, band, completeness), not per rescore.
    const r = s.result;
    const shown = `${r.total}|${r.band}|${r.complete}|${r.missing.length}`;
    if (this.#news2Shown.get(patientId) === shown) return;
    this.#news2Shown.set(patientId, shown);
    this.#publish('news2', { patientId, at: s.at, ...summary(s) });
  }

  /**
   * A device alarm frame: stored exactly once (keyed by device, alarmId, event), fed to the
   * engine once, and resolved only after the commit, so the gateway can ACK it.
   */
  deviceAlarm(device: DeviceRef, alarm: DeviceAlarm, receivedAt = this.#now()): Promise<FrameOutcome> {
    const key = `${device.id}\u0000${alarm.alarmId}\u0000${alarm.event}`;
    const running = this.#inflight.get(key);
    if (running) return running.then((r) => ({ ...r, duplicate: true }));
    const p = this.#frame(device, alarm, receivedAt).finally(() => this.#inflight.delete(key));
    this.#inflight.set(key, p);
    return p;
  }

  async #frame(device: DeviceRef, alarm: DeviceAlarm, receivedAt: number): Promise<FrameOutcome> {
    const seen = await this.#findFrame(device.id, alarm.alarmId, alarm.event);
    if (seen) {
      this.stats.frameDuplicates++;
      return { duplicate: true, alarmRef: seen.alarm_ref };
    }
    const patientId = device.patientId;
    let events: AlarmEvent[] = [];
    let affected: AlarmSnapshot | undefined;
    if (patientId !== null) {
      const now = this.#now();
      events = this.engine.deviceAlarm(
        patientId,
        {
          deviceId: device.id,
          alarmId: alarm.alarmId,
          event: alarm.event,
          kind: alarm.kind,
          category: alarm.category,
          priority: alarm.priority,
          text: alarm.text,
          ...(alarm.value !== undefined ? { value: alarm.value } : {}),
          ...(alarm.limit !== undefined ? { limit: alarm.limit } : {}),
        },
        now,
      );
      // The alarm this report is about: still open, or just resolved by it.
      affected = this.engine.openFor(patientId, alarm.kind);
      for (const e of events) if ('alarm' in e && e.alarm.kind === alarm.kind) affected ??= e.alarm;
    }
    const now = this.#now();
    const rows = this.#rows(events);
    if (affected && !rows.some((r) => r.id === affected.id))
      rows.push(toAlarmRow(affected, this.#highSince(affected), now));
    const inserted = await this.#writer.submit({
      frame: {
        device_id: device.id,
        alarm_id: alarm.alarmId,
        event: alarm.event,
        patient_id: patientId,
        alarm_ref: affected?.id ?? null,
        kind: alarm.kind,
        priority: alarm.priority,
        device_time: alarm.time,
        received_at: receivedAt,
        body: JSON.stringify(alarm),
      },
      alarms: rows,
    });
    if (inserted) this.stats.framesStored++;
    else this.stats.frameDuplicates++;
    // Published on the next tick: after the microtasks that settle this commit's frames, so every
    // device of the batch gets its ACK before the central station's fan-out runs (which cost up
    // to ~1 ms for a burst of frames, all on the ACK's path). Ticks run in order, so events still
    // go out in commit order.
    process.nextTick(() => {
      this.#publishEvents(events);
      // No patient to attach it to: still visible to the central station as a device alarm.
      if (patientId === null) this.#publish('alarm.device', { deviceId: device.id, alarm });
    });
    return { duplicate: !inserted, alarmRef: affected?.id ?? null };
  }

  #highSince(a: AlarmSnapshot): number | null {
    // The escalation clock's start; after a restart a priority-raised alarm counts from raisedAt.
    return a.priority === 'high' ? a.raisedAt : null;
  }

  #rows(events: readonly AlarmEvent[]): Insertable<AlarmsTable>[] {
    const now = this.#now();
    const latest = new Map<string, AlarmSnapshot>();
    for (const e of events) if ('alarm' in e) latest.set(e.alarm.id, e.alarm);
    return [...latest.values()].map((a) => toAlarmRow(a, this.#highSince(a), now));
  }

  #persist(events: AlarmEvent[]): void {
    this.stats.events += events.length;
    const rows = this.#rows(events);
    if (rows.length === 0) {
      this.#publishEvents(events);
      return;
    }
    const p = this.#writer.submit({ alarms: rows }).then(
      () => this.#publishEvents(events),
      (err: unknown) => {
        this.stats.persistFailures++;
        this.#log?.error({ err }, 'storing alarm events failed');
        // Still tell the central station: an alarm that could not be stored must not go unseen.
        this.#publishEvents(events);
      },
    );
    this.#persisting.add(p);
    p.finally(() => this.#persisting.delete(p));
  }

  #publishEvents(events: readonly AlarmEvent[]): void {
    for (const e of events) {
      // Owned: the engine made the event for this publish and never changes it (its alarm is a
      // frozen snapshot), so in-process subscribers get it without a JSON copy per event.
      this.#publish('alarm', e, true);
      if (e.type === 'escalated') {
        this.stats.escalations++;
        this.#escalate(e).catch((err: unknown) => this.#log?.error({ err }, 'escalation failed'));
      }
    }
  }

  /** Everyone to notify: clinicians assigned to the patient's ward and on the patient's care team. */
  async #escalate(e: Extract<AlarmEvent, { type: 'escalated' }>): Promise<void> {
    const patientId = e.alarm.patientId;
    const p = await this.#db
      .selectFrom('patients')
      .select(['ward', 'bed'])
      .where('id', '=', patientId)
      .executeTakeFirst();
    const ward = p?.ward ?? null;
    const wardStaff = ward
      ? await this.#db
          .selectFrom('ward_assignments')
          .select('clinician_id')
          .where('ward', '=', ward)
          .execute()
      : [];
    const team = await this.#db
      .selectFrom('care_team')
      .select('clinician_id')
      .where('patient_id', '=', patientId)
      .execute();
    const clinicianIds = [...new Set([...wardStaff, ...team].map((r) => r.clinician_id))].sort();
    this.#publish('alarm.escalated', {
      at: e.at,
      ward,
      bed: p?.bed ?? null,
      patientId,
      alarm: e.alarm,
      unacknowledgedMs: e.unacknowledgedMs,
      clinicianIds,
    });
  }

  #publish(topic: string, msg: unknown, owned = false): void {
    this.#bus
      .publish(topic, msg, { owned })
      .catch((err: unknown) => this.#log?.warn({ err, topic }, 'bus publish failed'));
  }

  /** Acknowledge an alarm (care-team clinicians; policy action alarm:ack). Idempotent. */
  async acknowledge(actor: Actor, alarmId: string, ctx: AccessContext): Promise<AlarmSnapshot> {
    const open = this.engine.get(alarmId);
    const stored = open ? undefined : await this.#stored(alarmId);
    const patientId = open?.patientId ?? stored?.patientId;
    if (patientId === undefined) throw notFound(`alarm ${alarmId} not found`);
    const decision = await this.#gate.check(actor, 'alarm:ack', { type: 'patient', patientId }, ctx);
    let result: AlarmSnapshot;
    let events: AlarmEvent[] = [];
    if (open) {
      const r = this.engine.acknowledge(alarmId, actor.username, this.#now());
      if (!r.ok) throw notFound(`alarm ${alarmId} not found`);
      events = r.events;
      // The latest state: an acknowledgement may also resolve a latched alarm whose cause ended.
      const last = events.findLast((e) => 'alarm' in e && e.alarm.id === alarmId);
      result = last && 'alarm' in last ? last.alarm : r.alarm;
      if (events.length > 0) {
        this.stats.events += events.length;
        // The caller is answered only once the acknowledgement is durable.
        await this.#writer.submit({ alarms: this.#rows(events) });
        this.#publishEvents(events);
      }
    } else {
      result = stored!;
    }
    await this.#gate.record(actor, 'alarm:ack', decision, ctx, {
      type: 'alarm.ack',
      patientId,
      entity: { type: 'Alarm', id: alarmId },
      detail: {
        kind: result.kind,
        priority: result.priority,
        state: result.state,
        changed: events.length > 0,
      },
    });
    return result;
  }

  async #stored(alarmId: string): Promise<AlarmSnapshot | undefined> {
    const r = await this.#db.selectFrom('alarms').selectAll().where('id', '=', alarmId).executeTakeFirst();
    return r ? fromAlarmRow(r).snapshot : undefined;
  }

  /** Alarms of the patients the actor may see, from the store (newest first). */
  async list(actor: Actor, q: AlarmListQuery, ctx: AccessContext): Promise<AlarmSnapshot[]> {
    const limit = q.limit ?? 200;
    if (limit < 1 || limit > 1000) throw badRequest('limit must be 1 to 1000');
    let patientIds: string[];
    let decision: Awaited<ReturnType<AccessGate['check']>>;
    if (q.patientId) {
      decision = await this.#gate.check(
        actor,
        'clinical:read',
        { type: 'patient', patientId: q.patientId },
        ctx,
      );
      patientIds = [q.patientId];
    } else if (actor.role === 'clinician' || actor.role === 'patient') {
      decision = { allow: true, reason: actor.role === 'patient' ? 'own record' : 'care team' };
      decision.purpose = actor.role === 'patient' ? 'PATRQT' : 'TREAT';
      const ids = await this.#gate.policy.listablePatientIds(actor);
      patientIds = ids === 'all' ? [] : ids;
    } else {
      // Admins and auditors see no clinical values: this check refuses and audits the attempt.
      decision = await this.#gate.check(actor, 'clinical:read', { type: 'system' }, ctx);
      patientIds = [];
    }
    let rows: AlarmSnapshot[] = [];
    if (patientIds.length > 0) {
      let sel = this.#db.selectFrom('alarms').selectAll().where('patient_id', 'in', patientIds);
      if (q.state === 'open') sel = sel.where('state', '!=', 'resolved');
      else if (q.state) sel = sel.where('state', '=', q.state);
      const found = await sel.orderBy('raised_at', 'desc').orderBy('id').limit(limit).execute();
      rows = found.map((r) => fromAlarmRow(r).snapshot);
    }
    await this.#gate.record(actor, 'clinical:read', decision, ctx, {
      type: 'alarm.list',
      patientId: q.patientId,
      detail: { count: rows.length, state: q.state ?? null },
    });
    return rows;
  }

  /** The patient's current NEWS2 (scored now from the latest inputs). */
  async news2Of(
    actor: Actor,
    patientId: string,
    ctx: AccessContext,
  ): Promise<{ at: number; scale: Spo2Scale } & ReturnType<typeof summary>> {
    const decision = await this.#gate.check(actor, 'clinical:read', { type: 'patient', patientId }, ctx);
    await this.#patientExists(patientId);
    const now = this.#now();
    const s = this.news2.evaluate(patientId, now, true);
    const scale = this.news2.scale(patientId);
    // No input yet: every parameter is missing, and the answer says so rather than showing 0.
    const state = s ?? { at: now, input: {}, result: scoreNews2({ spo2Scale: scale }) };
    const out = { at: state.at, scale, ...summary(state) };
    await this.#gate.record(actor, 'clinical:read', decision, ctx, {
      type: 'news2.read',
      patientId,
      entity: { type: 'Patient', id: patientId },
      detail: { total: out.total, complete: out.complete },
    });
    return out;
  }

  /** Manual NEWS2 inputs: the SpO2 scale (a clinician's setting), air or oxygen, consciousness. */
  async setNews2Inputs(
    actor: Actor,
    patientId: string,
    input: News2Inputs,
    ctx: AccessContext,
  ): Promise<void> {
    const decision = await this.#gate.check(actor, 'clinical:write', { type: 'patient', patientId }, ctx);
    await this.#patientExists(patientId);
    if (input.consciousness !== undefined && !CONSCIOUSNESS.has(input.consciousness))
      throw badRequest('consciousness must be one of A, C, V, P, U');
    const now = this.#now();
    if (input.spo2Scale !== undefined) {
      if (input.spo2Scale !== 1 && input.spo2Scale !== 2) throw badRequest('spo2Scale must be 1 or 2');
      await this.#db
        .insertInto('news2_settings')
        .values({
          patient_id: patientId,
          spo2_scale: input.spo2Scale,
          updated_at: now,
          updated_by: actor.username,
        })
        .onConflict((oc) =>
          oc
            .column('patient_id')
            .doUpdateSet({ spo2_scale: input.spo2Scale!, updated_at: now, updated_by: actor.username }),
        )
        .execute();
      this.news2.setScale(patientId, input.spo2Scale);
    }
    const obs = [];
    if (input.onOxygen !== undefined) {
      obs.push({
        patientId,
        code: NEWS2_CODES.o2Flow,
        display: 'Inhaled oxygen flow rate',
        valueNum: input.onOxygen ? (input.oxygenFlow ?? undefined) : 0,
        valueText: input.onOxygen && input.oxygenFlow === undefined ? 'supplemental oxygen' : undefined,
        unit: 'L/min',
        category: 'vital-signs',
        effectiveAt: now,
        source: 'manual' as const,
        sourceRef: actor.username,
      });
    }
    if (input.consciousness !== undefined) {
      obs.push({
        patientId,
        code: NEWS2_CODES.consciousness,
        display: 'Level of responsiveness (ACVPU)',
        valueText: input.consciousness,
        category: 'survey',
        effectiveAt: now,
        source: 'manual' as const,
        sourceRef: actor.username,
      });
    }
    if (obs.length > 0) await this.#observations.insertIn(this.#db, obs);
    this.news2.manual(patientId, { onOxygen: input.onOxygen, consciousness: input.consciousness }, now);
    await this.#gate.record(actor, 'clinical:write', decision, ctx, {
      type: 'news2.inputs',
      patientId,
      entity: { type: 'Patient', id: patientId },
      detail: { ...input },
    });
    const s = this.news2.evaluate(patientId, now, true);
    if (s !== null) {
      const events: AlarmEvent[] = [];
      this.#onNews2(patientId, s, events, now);
      if (events.length > 0) this.#persist(events);
    }
  }

  /** Reads consciousness and oxygen observations stored since the last call (HL7 or manual). */
  async refreshObservations(): Promise<void> {
    const rows = await this.#db
      .selectFrom('observations')
      .select(['seq', 'patient_id', 'code', 'value_num', 'value_text', 'effective_at'])
      .where('code', 'in', Object.values(NEWS2_CODES))
      .where('seq', '>', this.#lastObservationSeq)
      .orderBy('seq')
      .limit(10_000)
      .execute();
    for (const r of rows) {
      this.#lastObservationSeq = Math.max(this.#lastObservationSeq, Number(r.seq));
      const at = Number(r.effective_at);
      const num = r.value_num === null ? null : Number(r.value_num);
      if (r.code === NEWS2_CODES.consciousness) {
        const c = consciousnessOf(r.value_text);
        if (c) this.news2.manual(r.patient_id, { consciousness: c }, at);
      } else if (r.code === NEWS2_CODES.fio2 && num !== null) {
        this.news2.manual(r.patient_id, { onOxygen: num > 21 }, at);
      } else if (r.code === NEWS2_CODES.o2Flow) {
        this.news2.manual(r.patient_id, { onOxygen: num === null ? !!r.value_text : num > 0 }, at);
      }
    }
  }

  async #patientExists(patientId: string): Promise<void> {
    const p = await this.#db
      .selectFrom('patients')
      .select('id')
      .where('id', '=', patientId)
      .executeTakeFirst();
    if (!p) throw notFound(`patient ${patientId} not found`);
  }

  async flush(): Promise<void> {
    await Promise.allSettled([...this.#persisting]);
    await this.#writer.flush();
  }

  async close(): Promise<void> {
    if (this.#timer) clearInterval(this.#timer);
    if (this.#refreshTimer) clearInterval(this.#refreshTimer);
    await Promise.allSettled([...this.#inflight.values()]);
    await Promise.allSettled([...this.#persisting]);
    await this.#writer.close();
  }
}

function consciousnessOf(text: string | null): Consciousness | null {
  if (!text) return null;
  const t = text.trim().toUpperCase();
  if (CONSCIOUSNESS.has(t)) return t as Consciousness;
  const words: Record<string, Consciousness> = {
    ALERT: 'A',
    CONFUSION: 'C',
    'NEW CONFUSION': 'C',
    VOICE: 'V',
    PAIN: 'P',
    UNRESPONSIVE: 'U',
  };
  return words[t] ?? null;
}

function summary(s: News2State) {
  const r = s.result;
  return {
    total: r.total,
    complete: r.complete,
    missing: r.missing,
    invalid: r.invalid,
    subScores: r.subScores,
    scoredValues: r.scoredValues,
    band: r.band,
    risk: r.risk,
    response: r.response,
    alarm: r.alarm,
    singleParameterThree: r.singleParameterThree,
  };
}
