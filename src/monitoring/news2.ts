/**
 * National Early Warning Score 2 (Royal College of Physicians, 2017), exactly as the table in
 * docs (clinical.md). Pure: inputs in, score out.
 *
 * Values are rounded the way the chart is filled in (respiration, pulse, SpO2 and systolic BP to
 * whole numbers, temperature to one decimal, halves rounded up), so every value lands in exactly one
 * printed band. A missing or impossible input is reported, never scored as normal: the result is
 * then `complete: false`, its total is a lower bound of the true total (a missing parameter can
 * only add points), and the band and alarm derived from it are lower bounds too.
 */
import type { AlarmPriority } from './alarm-kinds.ts';

export type Consciousness = 'A' | 'C' | 'V' | 'P' | 'U';
export type Spo2Scale = 1 | 2;

export interface News2Input {
  /** Breaths per minute. */
  readonly respirationRate?: number | null;
  /** Percent. */
  readonly spo2?: number | null;
  /** Scale 2 only for hypercapnic respiratory failure, set by a clinician; default 1. */
  readonly spo2Scale?: Spo2Scale;
  /** True when on supplemental oxygen, false on air. */
  readonly onOxygen?: boolean | null;
  /** mmHg. */
  readonly systolicBp?: number | null;
  /** Beats per minute. */
  readonly pulse?: number | null;
  /** ACVPU: Alert, new Confusion, Voice, Pain, Unresponsive. */
  readonly consciousness?: Consciousness | null;
  /** °C. */
  readonly temperature?: number | null;
}

export const NEWS2_PARAMETERS = [
  'respirationRate',
  'spo2',
  'airOrOxygen',
  'systolicBp',
  'pulse',
  'consciousness',
  'temperature',
] as const;
export type News2Parameter = (typeof NEWS2_PARAMETERS)[number];

export type SubScore = 0 | 1 | 2 | 3;

/**
 * none: total 0; low: 1–4; low-medium: 1–4 with a 3 in one parameter; medium: 5–6; high: ≥ 7.
 */
export type News2Band = 'none' | 'low' | 'low-medium' | 'medium' | 'high';
export type ClinicalRisk = 'low' | 'low-medium' | 'medium' | 'high';

export interface News2Result {
  readonly complete: boolean;
  /** Parameters with no value. */
  readonly missing: readonly News2Parameter[];
  /** Parameters whose value is not a possible reading (negative, SpO2 over 100, not a number, …). */
  readonly invalid: readonly News2Parameter[];
  /** Score of each parameter that could be scored. */
  readonly subScores: Readonly<Partial<Record<News2Parameter, SubScore>>>;
  /** The values as scored, after rounding. */
  readonly scoredValues: Readonly<Partial<Record<News2Parameter, number | string | boolean>>>;
  readonly total: number;
  readonly singleParameterThree: boolean;
  readonly band: News2Band;
  readonly risk: ClinicalRisk;
  readonly response: string;
  /** The alarm the band asks for: medium for a single 3 or 5–6, high for ≥ 7. */
  readonly alarm: AlarmPriority | null;
  readonly spo2Scale: Spo2Scale;
}

/**
 * Rounds half up to `decimals`, after removing binary noise (36.05 * 10 is 360.49999…).
 *
 * The noise matters only within a hair of a half, so only there does this take the exact (and
 * slow: a number-to-string-to-number round trip) path. Scoring runs on every vitals datagram
 * that moves a rounded input, and the round trip was 18 % of a datagram's CPU time (measured:
 * `npm run bench -- telemetry` under --cpu-prof). The test compares both paths on random values.
 */
export function roundClinical(x: number, decimals: number): number {
  const f = 10 ** decimals;
  const y = x * f;
  if (Math.abs(Math.abs(y - Math.trunc(y)) - 0.5) > 1e-6) return Math.round(y) / f;
  return roundClinicalExact(x, decimals);
}

/** The exact form of roundClinical, for every value (kept for the near-half case and the test). */
export function roundClinicalExact(x: number, decimals: number): number {
  const f = 10 ** decimals;
  return Math.round(Number((x * f).toPrecision(12))) / f;
}

interface Band {
  readonly min: number;
  readonly max: number;
  readonly score: SubScore;
}

// Transcribed from the RCP chart; bounds inclusive, on rounded values.
const RESPIRATION: readonly Band[] = [
  { min: -Infinity, max: 8, score: 3 },
  { min: 9, max: 11, score: 1 },
  { min: 12, max: 20, score: 0 },
  { min: 21, max: 24, score: 2 },
  { min: 25, max: Infinity, score: 3 },
];
const SPO2_SCALE1: readonly Band[] = [
  { min: -Infinity, max: 91, score: 3 },
  { min: 92, max: 93, score: 2 },
  { min: 94, max: 95, score: 1 },
  { min: 96, max: Infinity, score: 0 },
];
const SPO2_SCALE2_AIR: readonly Band[] = [
  { min: -Infinity, max: 83, score: 3 },
  { min: 84, max: 85, score: 2 },
  { min: 86, max: 87, score: 1 },
  { min: 88, max: Infinity, score: 0 },
];
const SPO2_SCALE2_OXYGEN: readonly Band[] = [
  { min: -Infinity, max: 83, score: 3 },
  { min: 84, max: 85, score: 2 },
  { min: 86, max: 87, score: 1 },
  { min: 88, max: 92, score: 0 },
  { min: 93, max: 94, score: 1 },
  { min: 95, max: 96, score: 2 },
  { min: 97, max: Infinity, score: 3 },
];
const SYSTOLIC: readonly Band[] = [
  { min: -Infinity, max: 90, score: 3 },
  { min: 91, max: 100, score: 2 },
  { min: 101, max: 110, score: 1 },
  { min: 111, max: 219, score: 0 },
  { min: 220, max: Infinity, score: 3 },
];
const PULSE: readonly Band[] = [
  { min: -Infinity, max: 40, score: 3 },
  { min: 41, max: 50, score: 1 },
  { min: 51, max: 90, score: 0 },
  { min: 91, max: 110, score: 1 },
  { min: 111, max: 130, score: 2 },
  { min: 131, max: Infinity, score: 3 },
];
const TEMPERATURE: readonly Band[] = [
  { min: -Infinity, max: 35.0, score: 3 },
  { min: 35.1, max: 36.0, score: 1 },
  { min: 36.1, max: 38.0, score: 0 },
  { min: 38.1, max: 39.0, score: 1 },
  { min: 39.1, max: Infinity, score: 2 },
];

function scoreIn(bands: readonly Band[], v: number): SubScore {
  for (const b of bands) if (v >= b.min && v <= b.max) return b.score;
  // Unreachable for rounded values: the bands tile the number line at the rounding step.
  throw new RangeError(`value ${v} falls between NEWS2 bands`);
}

const RESPONSES: Record<News2Band, { risk: ClinicalRisk; response: string; alarm: AlarmPriority | null }> = {
  none: { risk: 'low', response: 'routine monitoring', alarm: null },
  low: { risk: 'low', response: 'ward nurse assessment', alarm: null },
  'low-medium': { risk: 'low-medium', response: 'urgent ward-based response', alarm: 'medium' },
  medium: { risk: 'medium', response: 'urgent review (within the hour)', alarm: 'medium' },
  high: { risk: 'high', response: 'emergency response, continuous monitoring', alarm: 'high' },
};

export function news2Band(total: number, singleParameterThree: boolean): News2Band {
  if (total >= 7) return 'high';
  if (total >= 5) return 'medium';
  if (singleParameterThree) return 'low-medium';
  return total === 0 ? 'none' : 'low';
}

// Physically possible ranges; outside them the value is a device or entry error, not a score.
const POSSIBLE: Record<
  'respirationRate' | 'spo2' | 'systolicBp' | 'pulse' | 'temperature',
  readonly [number, number]
> = {
  respirationRate: [0, 150],
  spo2: [0, 100],
  systolicBp: [0, 350],
  pulse: [0, 350],
  temperature: [20, 45],
};

export function scoreNews2(input: News2Input): News2Result {
  const scale: Spo2Scale = input.spo2Scale ?? 1;
  const missing: News2Parameter[] = [];
  const invalid: News2Parameter[] = [];
  const subScores: Partial<Record<News2Parameter, SubScore>> = {};
  const scoredValues: Partial<Record<News2Parameter, number | string | boolean>> = {};

  const numeric = (
    param: keyof typeof POSSIBLE,
    raw: number | null | undefined,
    decimals: number,
  ): number | undefined => {
    if (raw === undefined || raw === null) {
      missing.push(param);
      return undefined;
    }
    const [lo, hi] = POSSIBLE[param];
    if (typeof raw !== 'number' || !Number.isFinite(raw) || raw < lo || raw > hi) {
      invalid.push(param);
      return undefined;
    }
    const v = roundClinical(raw, decimals);
    scoredValues[param] = v;
    return v;
  };

  const rr = numeric('respirationRate', input.respirationRate, 0);
  if (rr !== undefined) subScores.respirationRate = scoreIn(RESPIRATION, rr);

  const onOxygen = input.onOxygen;
  if (onOxygen === undefined || onOxygen === null) missing.push('airOrOxygen');
  else if (typeof onOxygen !== 'boolean') invalid.push('airOrOxygen');
  else {
    subScores.airOrOxygen = onOxygen ? 2 : 0;
    scoredValues.airOrOxygen = onOxygen;
  }

  const spo2 = numeric('spo2', input.spo2, 0);
  if (spo2 !== undefined && scale !== 1 && scale !== 2) {
    // Only reachable from untyped callers; an unknown scale must not be scored as scale 1.
    invalid.push('spo2');
    delete scoredValues.spo2;
  } else if (spo2 !== undefined) {
    if (scale === 1) subScores.spo2 = scoreIn(SPO2_SCALE1, spo2);
    else if (onOxygen === true) subScores.spo2 = scoreIn(SPO2_SCALE2_OXYGEN, spo2);
    else if (onOxygen === false || spo2 <= 92) subScores.spo2 = scoreIn(SPO2_SCALE2_AIR, spo2);
    // Scale 2 above 92 % scores 0 on air but 1–3 on oxygen: without the oxygen flag it cannot be
    // scored, so it is left unscored (airOrOxygen is already reported missing).
    else {
      missing.push('spo2');
      delete scoredValues.spo2;
    }
  }

  const sbp = numeric('systolicBp', input.systolicBp, 0);
  if (sbp !== undefined) subScores.systolicBp = scoreIn(SYSTOLIC, sbp);

  const pulse = numeric('pulse', input.pulse, 0);
  if (pulse !== undefined) subScores.pulse = scoreIn(PULSE, pulse);

  const c = input.consciousness;
  if (c === undefined || c === null) missing.push('consciousness');
  else if (c === 'A') subScores.consciousness = 0;
  else if (c === 'C' || c === 'V' || c === 'P' || c === 'U') subScores.consciousness = 3;
  else invalid.push('consciousness');
  if (subScores.consciousness !== undefined) scoredValues.consciousness = c as Consciousness;

  const temp = numeric('temperature', input.temperature, 1);
  if (temp !== undefined) subScores.temperature = scoreIn(TEMPERATURE, temp);

  let total = 0;
  let three = false;
  for (const p of NEWS2_PARAMETERS) {
    const s = subScores[p];
    if (s === undefined) continue;
    total += s;
    if (s === 3) three = true;
  }
  const band = news2Band(total, three);
  const r = RESPONSES[band];
  return {
    complete: missing.length === 0 && invalid.length === 0,
    missing: NEWS2_PARAMETERS.filter((p) => missing.includes(p)),
    invalid,
    subScores,
    scoredValues,
    total,
    singleParameterThree: three,
    band,
    risk: r.risk,
    response: r.response,
    alarm: r.alarm,
    spo2Scale: scale,
  };
}
