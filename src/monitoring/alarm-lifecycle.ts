/**
 * Alarm lifecycle: one alarm per patient and condition, active → acknowledged → resolved with who
 * and when; latching, audio pause and escalation (IEC 60601-1-8 vocabulary). Pure: every method
 * takes the time, returns the events it caused, and touches no I/O, so the service layer stores
 * and publishes the events and tests drive the clock.
 *
 * Rules:
 *  - De-duplication: while a patient has an unresolved alarm for a condition, a new report of the
 *    same condition updates it (or raises its priority) instead of opening a second one.
 *  - Latching: high alarms stay after their cause ends until someone acknowledges them.
 *    Non-latching alarms resolve by themselves when the cause ends, acknowledged or not.
 *  - Acknowledging silences an alarm while its cause persists; it resolves when the cause ends
 *    (at once, for a latched alarm whose cause already ended).
 *  - Audio pause (default 2 min) per patient silences that patient's alarms, except new alarms of
 *    a higher priority than the highest one sounding at pause time, and every new high alarm: a
 *    pause taken for one problem must never hide asystole. A pause is not an acknowledgement, so
 *    escalation still runs during it.
 *  - Escalation: a high alarm left unacknowledged for `escalateAfterMs` (60 s) produces one
 *    `escalated` event (the service notifies every clinician on the ward).
 */
import { v7 as uuidv7 } from 'uuid';
import {
  type AlarmCategory,
  type AlarmKind,
  type AlarmPriority,
  alarmCategory,
  isAlarmKind,
  priorityRank,
} from './alarm-kinds.ts';

export type AlarmState = 'active' | 'acknowledged' | 'resolved';
export type AlarmSource = 'rule' | 'news2' | 'device';
export type ResolveReason = 'condition-cleared' | 'acknowledged' | 'manual';

/** A device may send kinds newer than this build; they are kept as strings. */
export type AnyAlarmKind = AlarmKind | (string & {});

export interface AlarmSnapshot {
  readonly id: string;
  readonly patientId: string;
  readonly kind: AnyAlarmKind;
  readonly category: AlarmCategory;
  readonly priority: AlarmPriority;
  readonly source: AlarmSource;
  readonly state: AlarmState;
  readonly latching: boolean;
  /** False once the cause has ended (a latched alarm then waits for acknowledgement). */
  readonly conditionPresent: boolean;
  readonly text: string;
  readonly value: number | null;
  readonly limit: number | null;
  readonly raisedAt: number;
  readonly acknowledgedAt: number | null;
  readonly acknowledgedBy: string | null;
  readonly resolvedAt: number | null;
  readonly resolvedBy: string | null;
  readonly resolution: ResolveReason | null;
  readonly escalatedAt: number | null;
  /** Device and its alarm id, for alarms that came over the alarm channel. */
  readonly deviceId: string | null;
  readonly deviceAlarmId: string | null;
}

type MutableAlarm = { -readonly [K in keyof AlarmSnapshot]: AlarmSnapshot[K] } & {
  /** When the alarm became high priority: the escalation timer's start. */
  highSince: number | null;
  /** When it was raised or last raised in priority: what an audio pause compares against. */
  alertedAt: number;
};

type ResolvedEvent = Extract<AlarmEvent, { type: 'resolved' }>;

export interface AudioPause {
  readonly by: string;
  readonly at: number;
  readonly until: number;
  /** New alarms sound only above this priority (and high ones always). */
  readonly ceiling: AlarmPriority;
}

export type AlarmEvent =
  | { readonly type: 'raised'; readonly at: number; readonly alarm: AlarmSnapshot; readonly audible: boolean }
  | {
      readonly type: 'priority-raised';
      readonly at: number;
      readonly alarm: AlarmSnapshot;
      readonly from: AlarmPriority;
      readonly audible: boolean;
    }
  | { readonly type: 'condition-ended'; readonly at: number; readonly alarm: AlarmSnapshot }
  | { readonly type: 'condition-returned'; readonly at: number; readonly alarm: AlarmSnapshot }
  | { readonly type: 'acknowledged'; readonly at: number; readonly alarm: AlarmSnapshot; readonly by: string }
  | {
      readonly type: 'resolved';
      readonly at: number;
      readonly alarm: AlarmSnapshot;
      readonly by: string | null;
      readonly reason: ResolveReason;
    }
  | {
      readonly type: 'escalated';
      readonly at: number;
      readonly alarm: AlarmSnapshot;
      readonly unacknowledgedMs: number;
    }
  | {
      readonly type: 'audio-paused';
      readonly at: number;
      readonly patientId: string;
      readonly by: string;
      readonly until: number;
      readonly ceiling: AlarmPriority;
    }
  | {
      readonly type: 'audio-resumed';
      readonly at: number;
      readonly patientId: string;
      readonly by: string | null;
      readonly reason: 'expired' | 'cancelled';
    };

export interface ConditionReport {
  readonly patientId: string;
  readonly kind: AnyAlarmKind;
  /** Needed for kinds this build does not know; derived from the kind otherwise. */
  readonly category?: AlarmCategory;
  readonly priority: AlarmPriority;
  readonly source: AlarmSource;
  readonly text: string;
  readonly value?: number | null;
  readonly limit?: number | null;
  readonly deviceId?: string | null;
  readonly deviceAlarmId?: string | null;
}

export interface LifecycleOptions {
  /** Default 60 000 ms. */
  readonly escalateAfterMs?: number;
  /** Default 120 000 ms. */
  readonly pauseMs?: number;
  /** Priorities whose alarms latch; default high only. */
  readonly latching?: readonly AlarmPriority[];
  /**
   * Alarm id factory; default a UUIDv7 (RFC 9562: time-ordered), so new alarms land at the right
   * edge of the id index instead of on a random leaf each: every leaf touched is a page in the
   * commit's WAL write, on the alarm ACK's path. Injected so tests get stable ids.
   */
  readonly newId?: () => string;
}

export type CommandResult =
  | { readonly ok: true; readonly events: AlarmEvent[]; readonly alarm: AlarmSnapshot }
  | { readonly ok: false; readonly reason: 'not_found' };

function snapshot(a: MutableAlarm): AlarmSnapshot {
  const { highSince: _h, alertedAt: _a, ...s } = a;
  return Object.freeze(s);
}

export class AlarmBook {
  readonly escalateAfterMs: number;
  readonly pauseMs: number;
  readonly #latching: ReadonlySet<AlarmPriority>;
  readonly #newId: () => string;
  /** patientId → condition kind → unresolved alarm. */
  readonly #byPatient = new Map<string, Map<string, MutableAlarm>>();
  readonly #byId = new Map<string, MutableAlarm>();
  readonly #pauses = new Map<string, AudioPause>();
  /**
   * Cached nextDeadline(), recomputed only after a change: tick runs at the start of every engine
   * call, and must not scan every open alarm each time.
   */
  #deadline: number | null = null;
  #dirty = false;

  constructor(options: LifecycleOptions = {}) {
    this.escalateAfterMs = options.escalateAfterMs ?? 60_000;
    this.pauseMs = options.pauseMs ?? 120_000;
    if (!(this.escalateAfterMs > 0) || !(this.pauseMs > 0))
      throw new RangeError('durations must be positive');
    this.#latching = new Set(options.latching ?? ['high']);
    this.#newId = options.newId ?? uuidv7;
  }

  /** A condition is present: raise, de-duplicate, or raise the priority of the open alarm. */
  conditionOn(r: ConditionReport, now: number): AlarmEvent[] {
    this.#dirty = true;
    const open = this.#open(r.patientId);
    const existing = open.get(r.kind);
    if (existing === undefined) {
      const category = r.category ?? (isAlarmKind(r.kind) ? alarmCategory(r.kind) : 'technical');
      const a: MutableAlarm = {
        id: this.#newId(),
        patientId: r.patientId,
        kind: r.kind,
        category,
        priority: r.priority,
        source: r.source,
        state: 'active',
        latching: this.#latching.has(r.priority),
        conditionPresent: true,
        text: r.text,
        value: r.value ?? null,
        limit: r.limit ?? null,
        raisedAt: now,
        acknowledgedAt: null,
        acknowledgedBy: null,
        resolvedAt: null,
        resolvedBy: null,
        resolution: null,
        escalatedAt: null,
        deviceId: r.deviceId ?? null,
        deviceAlarmId: r.deviceAlarmId ?? null,
        highSince: r.priority === 'high' ? now : null,
        alertedAt: now,
      };
      open.set(r.kind, a);
      this.#byId.set(a.id, a);
      return [
        { type: 'raised', at: now, alarm: snapshot(a), audible: this.#audible(r.patientId, r.priority, now) },
      ];
    }
    const events: AlarmEvent[] = [];
    existing.text = r.text;
    if (r.value !== undefined) existing.value = r.value;
    if (r.limit !== undefined) existing.limit = r.limit;
    if (!existing.conditionPresent) {
      existing.conditionPresent = true;
      events.push({ type: 'condition-returned', at: now, alarm: snapshot(existing) });
    }
    if (priorityRank(r.priority) > priorityRank(existing.priority)) {
      const from = existing.priority;
      existing.priority = r.priority;
      existing.latching ||= this.#latching.has(r.priority);
      // A worse condition must be acknowledged again and gets its own escalation clock.
      existing.state = 'active';
      existing.acknowledgedAt = null;
      existing.acknowledgedBy = null;
      existing.alertedAt = now;
      if (r.priority === 'high') {
        existing.highSince = now;
        existing.escalatedAt = null;
      }
      events.push({
        type: 'priority-raised',
        at: now,
        alarm: snapshot(existing),
        from,
        audible: this.#audible(r.patientId, r.priority, now),
      });
    }
    return events;
  }

  /** The condition's cause has ended: resolve, or keep a latched unacknowledged alarm shown. */
  conditionOff(patientId: string, kind: AnyAlarmKind, now: number): AlarmEvent[] {
    this.#dirty = true;
    const a = this.#byPatient.get(patientId)?.get(kind);
    if (a === undefined || !a.conditionPresent) return [];
    a.conditionPresent = false;
    if (a.latching && a.state === 'active') return [{ type: 'condition-ended', at: now, alarm: snapshot(a) }];
    return [this.#resolve(a, now, null, 'condition-cleared')];
  }

  /** Idempotent: acknowledging an acknowledged alarm returns no events. */
  acknowledge(alarmId: string, by: string, now: number): CommandResult {
    this.#dirty = true;
    const a = this.#byId.get(alarmId);
    if (a === undefined) return { ok: false, reason: 'not_found' };
    if (a.state !== 'active') return { ok: true, events: [], alarm: snapshot(a) };
    a.state = 'acknowledged';
    a.acknowledgedAt = now;
    a.acknowledgedBy = by;
    const events: AlarmEvent[] = [{ type: 'acknowledged', at: now, alarm: snapshot(a), by }];
    if (!a.conditionPresent) events.push(this.#resolve(a, now, by, 'acknowledged'));
    return { ok: true, events, alarm: snapshot(a) };
  }

  /** A clinician closes an alarm by hand (e.g. a device alarm whose end never arrived). */
  resolve(alarmId: string, by: string, now: number): CommandResult {
    this.#dirty = true;
    const a = this.#byId.get(alarmId);
    if (a === undefined) return { ok: false, reason: 'not_found' };
    const event = this.#resolve(a, now, by, 'manual');
    return { ok: true, events: [event], alarm: event.alarm };
  }

  pause(patientId: string, by: string, now: number, durationMs = this.pauseMs): AlarmEvent[] {
    this.#dirty = true;
    if (!(durationMs > 0) || durationMs > this.pauseMs)
      throw new RangeError(`pause must be 1..${this.pauseMs} ms`);
    let ceiling: AlarmPriority = 'medium';
    let sounding = false;
    for (const a of this.#byPatient.get(patientId)?.values() ?? []) {
      if (a.state !== 'active') continue;
      if (!sounding || priorityRank(a.priority) > priorityRank(ceiling)) ceiling = a.priority;
      sounding = true;
    }
    const p: AudioPause = { by, at: now, until: now + durationMs, ceiling };
    this.#pauses.set(patientId, p);
    return [{ type: 'audio-paused', at: now, patientId, by, until: p.until, ceiling }];
  }

  resumeAudio(patientId: string, by: string, now: number): AlarmEvent[] {
    this.#dirty = true;
    if (!this.#pauses.delete(patientId)) return [];
    return [{ type: 'audio-resumed', at: now, patientId, by, reason: 'cancelled' }];
  }

  /** Time-based transitions: pause expiry and escalation. */
  tick(now: number): AlarmEvent[] {
    if (this.#dirty) {
      this.#deadline = this.nextDeadline();
      this.#dirty = false;
    }
    if (this.#deadline === null || now < this.#deadline) return [];
    this.#dirty = true;
    const events: AlarmEvent[] = [];
    for (const [patientId, p] of this.#pauses) {
      if (now >= p.until) {
        this.#pauses.delete(patientId);
        events.push({ type: 'audio-resumed', at: now, patientId, by: null, reason: 'expired' });
      }
    }
    for (const a of this.#byId.values()) {
      if (a.state !== 'active' || a.highSince === null || a.escalatedAt !== null) continue;
      const waited = now - a.highSince;
      if (waited >= this.escalateAfterMs) {
        a.escalatedAt = now;
        events.push({ type: 'escalated', at: now, alarm: snapshot(a), unacknowledgedMs: waited });
      }
    }
    return events;
  }

  /** Earliest time `tick` has something to do, or null. */
  nextDeadline(): number | null {
    let next: number | null = null;
    const consider = (t: number) => {
      if (next === null || t < next) next = t;
    };
    for (const p of this.#pauses.values()) consider(p.until);
    for (const a of this.#byId.values()) {
      if (a.state === 'active' && a.highSince !== null && a.escalatedAt === null)
        consider(a.highSince + this.escalateAfterMs);
    }
    return next;
  }

  /** Whether an alarm of this priority raised now for the patient would sound. */
  audible(patientId: string, priority: AlarmPriority, now: number): boolean {
    return this.#audible(patientId, priority, now);
  }

  /** Unacknowledged alarms that sound now (the central station's audio). */
  sounding(patientId: string, now: number): AlarmSnapshot[] {
    const p = this.#activePause(patientId, now);
    const out: AlarmSnapshot[] = [];
    for (const a of this.#byPatient.get(patientId)?.values() ?? []) {
      if (a.state !== 'active') continue;
      // Alarms raised before the pause are silenced by it; ones raised during it sound if they
      // were allowed through when they were raised.
      if (p && (a.alertedAt <= p.at || !this.#passes(p, a.priority))) continue;
      out.push(snapshot(a));
    }
    return out;
  }

  pauseOf(patientId: string, now: number): AudioPause | null {
    return this.#activePause(patientId, now);
  }

  get(alarmId: string): AlarmSnapshot | undefined {
    const a = this.#byId.get(alarmId);
    return a && snapshot(a);
  }

  /** Unresolved alarms, of one patient or all, oldest first. */
  open(patientId?: string): AlarmSnapshot[] {
    const list =
      patientId === undefined
        ? [...this.#byId.values()]
        : [...(this.#byPatient.get(patientId)?.values() ?? [])];
    return list.sort((x, y) => x.raisedAt - y.raisedAt).map(snapshot);
  }

  /** The unresolved alarm of a patient for one condition, if any. */
  openFor(patientId: string, kind: AnyAlarmKind): AlarmSnapshot | undefined {
    const a = this.#byPatient.get(patientId)?.get(kind);
    return a && snapshot(a);
  }

  /**
   * Puts back an unresolved alarm read from the store after a restart, with the timers it had:
   * `highSince` keeps the escalation clock running from when the alarm became high, not from the
   * restart. Resolved alarms are ignored. Returns false when the patient already has an open alarm
   * for that condition (the first one wins).
   */
  restore(s: AlarmSnapshot, highSince: number | null): boolean {
    if (s.state === 'resolved') return false;
    const open = this.#open(s.patientId);
    if (open.has(s.kind)) return false;
    this.#dirty = true;
    const a: MutableAlarm = { ...s, highSince, alertedAt: s.raisedAt };
    open.set(s.kind, a);
    this.#byId.set(a.id, a);
    return true;
  }

  /** Drops a discharged patient's state (their alarms should have been resolved through the API). */
  forgetPatient(patientId: string): void {
    this.#dirty = true;
    for (const a of this.#byPatient.get(patientId)?.values() ?? []) this.#byId.delete(a.id);
    this.#byPatient.delete(patientId);
    this.#pauses.delete(patientId);
  }

  #open(patientId: string): Map<string, MutableAlarm> {
    let m = this.#byPatient.get(patientId);
    if (m === undefined) {
      m = new Map();
      this.#byPatient.set(patientId, m);
    }
    return m;
  }

  #resolve(a: MutableAlarm, now: number, by: string | null, reason: ResolveReason): ResolvedEvent {
    a.state = 'resolved';
    a.resolvedAt = now;
    a.resolvedBy = by;
    a.resolution = reason;
    this.#byId.delete(a.id);
    const open = this.#byPatient.get(a.patientId);
    open?.delete(a.kind);
    if (open?.size === 0) this.#byPatient.delete(a.patientId);
    return { type: 'resolved', at: now, alarm: snapshot(a), by, reason };
  }

  #activePause(patientId: string, now: number): AudioPause | null {
    const p = this.#pauses.get(patientId);
    return p !== undefined && now < p.until ? p : null;
  }

  #passes(p: AudioPause, priority: AlarmPriority): boolean {
    return priority === 'high' || priorityRank(priority) > priorityRank(p.ceiling);
  }

  #audible(patientId: string, priority: AlarmPriority, now: number): boolean {
    const p = this.#activePause(patientId, now);
    return p === null || this.#passes(p, priority);
  }
}
