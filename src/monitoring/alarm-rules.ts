/**
 * Threshold rules on incoming vital signs: adult defaults, per-patient overrides, on-delay and
 * hysteresis. This layer only decides when a condition starts and ends; what happens to the
 * resulting alarm (latching, acknowledgement, pause, escalation) is alarm-lifecycle.ts.
 *
 * A rule's condition is `value < limit` (direction below) or `value > limit` (above). It must hold
 * on every sample for `onDelayMs` before it is reported (short dips are the commonest false alarm),
 * and once reported it ends only when the value is back past `limit ± hysteresis`, so a value
 * hovering at the limit does not make the alarm flap.
 */
import type { VitalKey } from '../clinical/vital-signs.ts';
import { type AlarmKind, type AlarmPriority, isAlarmPriority } from './alarm-kinds.ts';

export interface RuleSettings {
  readonly limit: number;
  readonly hysteresis: number;
  readonly onDelayMs: number;
  readonly priority: AlarmPriority;
  readonly enabled: boolean;
}

export interface VitalRule extends RuleSettings {
  /** The alarm kind it raises; also the rule's id (one rule per kind). */
  readonly kind: AlarmKind;
  /** Vital signs the rule reads, in order of preference (ECG heart rate before oximeter pulse). */
  readonly vitals: readonly VitalKey[];
  readonly direction: 'below' | 'above';
  readonly label: string;
}

const HR: readonly VitalKey[] = ['heartRate', 'pulseRate'];

/**
 * Adult defaults, in the range bedside monitors ship with. Medium for "prompt response" limits,
 * high for the extreme ones that need immediate response, low for temperature (awareness).
 * NIBP is a single intermittent reading, so it has no on-delay.
 */
export const ADULT_DEFAULT_RULES: readonly VitalRule[] = [
  rule('spo2-desat', ['spo2'], 'below', 85, 2, 5_000, 'high', 'SpO2 desaturation'),
  rule('spo2-low', ['spo2'], 'below', 90, 2, 10_000, 'medium', 'SpO2 low'),
  rule('hr-extreme-high', HR, 'above', 160, 5, 5_000, 'high', 'Extreme tachycardia'),
  rule('hr-high', HR, 'above', 120, 5, 10_000, 'medium', 'Heart rate high'),
  rule('hr-low', HR, 'below', 50, 5, 10_000, 'medium', 'Heart rate low'),
  rule('hr-extreme-low', HR, 'below', 40, 5, 5_000, 'high', 'Extreme bradycardia'),
  rule('apnea', ['respiratoryRate'], 'below', 1, 2, 20_000, 'high', 'Apnea (no breaths)'),
  rule('rr-high', ['respiratoryRate'], 'above', 30, 2, 15_000, 'medium', 'Respiratory rate high'),
  rule('rr-low', ['respiratoryRate'], 'below', 8, 2, 15_000, 'medium', 'Respiratory rate low'),
  rule('nibp-sys-high', ['systolicBp'], 'above', 180, 5, 0, 'medium', 'Systolic BP high'),
  rule('nibp-sys-low', ['systolicBp'], 'below', 90, 5, 0, 'medium', 'Systolic BP low'),
  rule('temp-high', ['temperature'], 'above', 38.5, 0.2, 60_000, 'low', 'Temperature high'),
  rule('temp-low', ['temperature'], 'below', 35.5, 0.2, 60_000, 'low', 'Temperature low'),
];

function rule(
  kind: AlarmKind,
  vitals: readonly VitalKey[],
  direction: 'below' | 'above',
  limit: number,
  hysteresis: number,
  onDelayMs: number,
  priority: AlarmPriority,
  label: string,
): VitalRule {
  return { kind, vitals, direction, limit, hysteresis, onDelayMs, priority, enabled: true, label };
}

export type RuleOverrides = Readonly<Partial<Record<AlarmKind, Partial<RuleSettings>>>>;

export class AlarmConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'AlarmConfigError';
  }
}

/** Maximum on-delay a rule may have: longer would hide a real deterioration. */
export const MAX_ON_DELAY_MS = 120_000;

/** Applies per-patient overrides to the defaults; throws AlarmConfigError for a bad override. */
export function applyOverrides(base: readonly VitalRule[], overrides: RuleOverrides): VitalRule[] {
  const known = new Set(base.map((r) => r.kind));
  for (const kind of Object.keys(overrides)) {
    if (!known.has(kind as AlarmKind)) throw new AlarmConfigError(`no rule for alarm kind '${kind}'`);
  }
  return base.map((r) => {
    const o = overrides[r.kind];
    if (o === undefined) return r;
    const merged: VitalRule = {
      ...r,
      ...o,
      kind: r.kind,
      vitals: r.vitals,
      direction: r.direction,
      label: r.label,
    };
    if (!Number.isFinite(merged.limit))
      throw new AlarmConfigError(`${r.kind}: limit must be a finite number`);
    if (!Number.isFinite(merged.hysteresis) || merged.hysteresis < 0) {
      throw new AlarmConfigError(`${r.kind}: hysteresis must be ≥ 0`);
    }
    if (!Number.isInteger(merged.onDelayMs) || merged.onDelayMs < 0 || merged.onDelayMs > MAX_ON_DELAY_MS) {
      throw new AlarmConfigError(`${r.kind}: onDelayMs must be an integer in 0..${MAX_ON_DELAY_MS}`);
    }
    if (!isAlarmPriority(merged.priority)) throw new AlarmConfigError(`${r.kind}: unknown priority`);
    if (typeof merged.enabled !== 'boolean')
      throw new AlarmConfigError(`${r.kind}: enabled must be a boolean`);
    return merged;
  });
}

/** A rule's condition started (after its on-delay) or ended (past its hysteresis). */
export interface ConditionSignal {
  readonly kind: AlarmKind;
  readonly present: boolean;
  readonly priority: AlarmPriority;
  readonly value: number;
  readonly limit: number;
  readonly text: string;
}

type Phase =
  | { phase: 'pending'; since: number; lastSampleAt: number; value: number }
  | { phase: 'alarming'; value: number };

export type VitalSample = Readonly<Partial<Record<VitalKey, number>>>;

function inCondition(r: VitalRule, v: number): boolean {
  return r.direction === 'below' ? v < r.limit : v > r.limit;
}

function pastHysteresis(r: VitalRule, v: number): boolean {
  return r.direction === 'below' ? v >= r.limit + r.hysteresis : v <= r.limit - r.hysteresis;
}

function describe(r: VitalRule, v: number): string {
  return `${r.label}: ${v} ${r.direction === 'below' ? '<' : '>'} ${r.limit}`;
}

/**
 * One patient's rule states. Samples and clock readings come from the caller; nothing here reads
 * the time or keeps references to the caller's objects.
 */
export class PatientRuleState {
  readonly #phases = new Map<AlarmKind, Phase>();

  /** Evaluates one batch of simultaneous readings. Non-finite values are ignored (no reading). */
  evaluate(rules: readonly VitalRule[], sample: VitalSample, now: number): ConditionSignal[] {
    const out: ConditionSignal[] = [];
    for (const r of rules) {
      let v: number | undefined;
      for (const key of r.vitals) {
        const x = sample[key];
        if (x !== undefined && Number.isFinite(x)) {
          v = x;
          break;
        }
      }
      if (v === undefined) continue;
      if (!r.enabled) {
        this.#phases.delete(r.kind);
        continue;
      }
      const p = this.#phases.get(r.kind);
      if (p?.phase === 'alarming') {
        p.value = v;
        if (pastHysteresis(r, v)) {
          this.#phases.delete(r.kind);
          out.push(signal(r, false, v));
        }
        continue;
      }
      if (!inCondition(r, v)) {
        this.#phases.delete(r.kind);
        continue;
      }
      const since = p?.since ?? now;
      if (now - since >= r.onDelayMs) {
        this.#phases.set(r.kind, { phase: 'alarming', value: v });
        out.push(signal(r, true, v));
      } else {
        this.#phases.set(r.kind, { phase: 'pending', since, lastSampleAt: now, value: v });
      }
    }
    return out;
  }

  /**
   * Confirms pending conditions whose on-delay has run out between samples, provided the last
   * sample is no older than `maxSampleGapMs`: silence from a sensor is not evidence that a
   * condition persisted (the device reports sensor-off as a technical alarm instead).
   */
  tick(rules: readonly VitalRule[], now: number, maxSampleGapMs: number): ConditionSignal[] {
    const out: ConditionSignal[] = [];
    for (const r of rules) {
      const p = this.#phases.get(r.kind);
      if (p?.phase !== 'pending') continue;
      if (!r.enabled || now - p.lastSampleAt > maxSampleGapMs) {
        this.#phases.delete(r.kind);
        continue;
      }
      if (now - p.since >= r.onDelayMs) {
        this.#phases.set(r.kind, { phase: 'alarming', value: p.value });
        out.push(signal(r, true, p.value));
      }
    }
    return out;
  }

  /** Earliest time a pending condition could be confirmed by tick, or null. */
  nextDeadline(rules: readonly VitalRule[]): number | null {
    let next: number | null = null;
    for (const r of rules) {
      const p = this.#phases.get(r.kind);
      if (p?.phase !== 'pending') continue;
      const t = p.since + r.onDelayMs;
      if (next === null || t < next) next = t;
    }
    return next;
  }

  /**
   * Marks a condition as already alarming (an open alarm restored from the store after a restart),
   * so the next normal sample past the hysteresis ends it instead of being ignored.
   */
  markAlarming(kind: AlarmKind, value: number): void {
    this.#phases.set(kind, { phase: 'alarming', value });
  }

  /** Forgets a rule's state, so a condition still present raises again after a fresh on-delay. */
  reset(kind: AlarmKind): void {
    this.#phases.delete(kind);
  }

  /** True while some condition waits for its on-delay: only such patients need `tick`. */
  get hasPending(): boolean {
    for (const p of this.#phases.values()) if (p.phase === 'pending') return true;
    return false;
  }

  phaseOf(kind: AlarmKind): 'normal' | 'pending' | 'alarming' {
    return this.#phases.get(kind)?.phase ?? 'normal';
  }
}

function signal(r: VitalRule, present: boolean, value: number): ConditionSignal {
  return { kind: r.kind, present, priority: r.priority, value, limit: r.limit, text: describe(r, value) };
}
