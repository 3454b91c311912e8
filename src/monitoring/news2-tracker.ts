/**
 * NEWS2 inputs per patient, kept up to date from every vitals sample, manual entry and HL7
 * observation, and rescored only when an input *as scored* changes (values rounded as the chart
 * is filled in): at 1 Hz per bed most samples leave every rounded input as it was, and scoring on
 * each would cost more than storing the sample.
 *
 * A reading older than its sign's maximum age counts as missing, never as the last known value:
 * a blood pressure from yesterday must not make today's score look complete.
 */
import type { VitalValues } from '../clinical/vital-signs.ts';
import {
  type Consciousness,
  type News2Input,
  type News2Result,
  type Spo2Scale,
  scoreNews2,
} from './news2.ts';

/** How long a reading stays usable for NEWS2, by input. */
export const NEWS2_MAX_AGE_MS = {
  respirationRate: 15 * 60_000,
  spo2: 15 * 60_000,
  pulse: 15 * 60_000,
  // NIBP is taken every few minutes to hours; temperature a few times a day.
  systolicBp: 4 * 3600_000,
  temperature: 12 * 3600_000,
  onOxygen: 12 * 3600_000,
  consciousness: 12 * 3600_000,
} as const;

interface Reading<T> {
  value: T;
  at: number;
}

export interface News2State {
  readonly result: News2Result;
  readonly at: number;
  readonly input: News2Input;
}

class PatientNews2 {
  rr: Reading<number> | null = null;
  spo2: Reading<number> | null = null;
  pulse: Reading<number> | null = null;
  sbp: Reading<number> | null = null;
  temp: Reading<number> | null = null;
  onOxygen: Reading<boolean> | null = null;
  consciousness: Reading<Consciousness> | null = null;
  scale: Spo2Scale = 1;
  /** Rounded inputs of the last score (-1 = missing; NaN before the first), compared without building strings. */
  readonly key = new Float64Array(8).fill(Number.NaN);
  last: News2State | null = null;
}

function fresh<T>(r: Reading<T> | null, maxAge: number, now: number): T | null {
  return r !== null && now - r.at <= maxAge ? r.value : null;
}

export class News2Tracker {
  readonly #patients = new Map<string, PatientNews2>();

  #get(patientId: string): PatientNews2 {
    let p = this.#patients.get(patientId);
    if (p === undefined) {
      p = new PatientNews2();
      this.#patients.set(patientId, p);
    }
    return p;
  }

  setScale(patientId: string, scale: Spo2Scale): void {
    this.#get(patientId).scale = scale;
  }

  scale(patientId: string): Spo2Scale {
    return this.#patients.get(patientId)?.scale ?? 1;
  }

  /** Updates inputs from a vitals sample taken at `at`. */
  vitals(patientId: string, v: VitalValues, at: number): void {
    const p = this.#get(patientId);
    if (v.respiratoryRate !== undefined) p.rr = newer(p.rr, v.respiratoryRate, at);
    if (v.spo2 !== undefined) p.spo2 = newer(p.spo2, v.spo2, at);
    const pulse = v.heartRate ?? v.pulseRate;
    if (pulse !== undefined) p.pulse = newer(p.pulse, pulse, at);
    if (v.systolicBp !== undefined) p.sbp = newer(p.sbp, v.systolicBp, at);
    if (v.temperature !== undefined) p.temp = newer(p.temp, v.temperature, at);
  }

  manual(
    patientId: string,
    m: { onOxygen?: boolean | undefined; consciousness?: Consciousness | undefined },
    at: number,
  ): void {
    const p = this.#get(patientId);
    if (m.onOxygen !== undefined) p.onOxygen = newer(p.onOxygen, m.onOxygen, at);
    if (m.consciousness !== undefined) p.consciousness = newer(p.consciousness, m.consciousness, at);
  }

  /**
   * Rescores when a rounded input changed since the last score (or `force`); returns the new
   * state, or null when nothing changed.
   */
  evaluate(patientId: string, now: number, force = false): News2State | null {
    const p = this.#patients.get(patientId);
    if (p === undefined) return null;
    const A = NEWS2_MAX_AGE_MS;
    const input: News2Input = {
      respirationRate: fresh(p.rr, A.respirationRate, now),
      spo2: fresh(p.spo2, A.spo2, now),
      spo2Scale: p.scale,
      onOxygen: fresh(p.onOxygen, A.onOxygen, now),
      systolicBp: fresh(p.sbp, A.systolicBp, now),
      pulse: fresh(p.pulse, A.pulse, now),
      consciousness: fresh(p.consciousness, A.consciousness, now),
      temperature: fresh(p.temp, A.temperature, now),
    };
    // Rounded as scored (whole numbers; temperature to 0.1): most 1 Hz samples change none of these.
    const k = p.key;
    const changed =
      k[0] !== r0(input.respirationRate) ||
      k[1] !== r0(input.spo2) ||
      k[2] !== p.scale ||
      k[3] !== bool(input.onOxygen) ||
      k[4] !== r0(input.systolicBp) ||
      k[5] !== r0(input.pulse) ||
      k[6] !== acvpu(input.consciousness) ||
      k[7] !== r1(input.temperature);
    if (!force && !changed) return null;
    k[0] = r0(input.respirationRate);
    k[1] = r0(input.spo2);
    k[2] = p.scale;
    k[3] = bool(input.onOxygen);
    k[4] = r0(input.systolicBp);
    k[5] = r0(input.pulse);
    k[6] = acvpu(input.consciousness);
    k[7] = r1(input.temperature);
    p.last = { result: scoreNews2(input), at: now, input };
    return p.last;
  }

  latest(patientId: string): News2State | null {
    return this.#patients.get(patientId)?.last ?? null;
  }

  forget(patientId: string): void {
    this.#patients.delete(patientId);
  }
}

function newer<T>(old: Reading<T> | null, value: T, at: number): Reading<T> {
  // A late sample must not replace a newer reading.
  if (old !== null && old.at > at) return old;
  if (old !== null) {
    old.value = value;
    old.at = at;
    return old;
  }
  return { value, at };
}

/** Half-up rounding as the chart is filled in (a change detector only); -1 for a missing value. */
function r0(v: number | null | undefined): number {
  return v === null || v === undefined ? -1 : Math.floor(v + 0.5 + 1e-9);
}
function r1(v: number | null | undefined): number {
  return v === null || v === undefined ? -1 : Math.floor(v * 10 + 0.5 + 1e-9);
}
function bool(v: boolean | null | undefined): number {
  return v === null || v === undefined ? -1 : v ? 1 : 0;
}
function acvpu(c: Consciousness | null | undefined): number {
  return c === null || c === undefined ? -1 : 'ACVPU'.indexOf(c);
}
