/**
 * A simulated patient's physiology, one step per sample: per-patient baselines, a slow random walk
 * pulled back to the baseline (Ornstein–Uhlenbeck), daily (circadian) variation, heart rate
 * coupled to blood pressure (the baroreflex: when pressure falls the heart speeds up), and
 * deterioration scenarios that move every NEWS2 parameter towards a sick target. The oximeter
 * shows motion artifacts (short false dips that the alarm on-delay should ignore); NIBP is taken
 * every few minutes, not continuously; temperature once a minute.
 *
 * Deterministic for a given seed, so tests can assert on what a scenario does.
 */

export type ScenarioName = 'sepsis' | 'hemorrhage' | 'hypoxia';
export const SCENARIOS: readonly ScenarioName[] = ['sepsis', 'hemorrhage', 'hypoxia'];

export interface Vitals {
  heartRate: number;
  spo2: number;
  respiratoryRate: number;
  temperature: number;
  systolicBp: number;
  diastolicBp: number;
}

/** Where each scenario takes the patient at full severity (NEWS2 ≥ 7 in each). */
const TARGETS: Record<ScenarioName, Partial<Vitals>> = {
  // Fever, tachycardia, tachypnoea, falling pressure, mild desaturation.
  sepsis: { temperature: 39.6, heartRate: 128, respiratoryRate: 27, systolicBp: 86, spo2: 92 },
  // Blood loss: pressure falls, heart rate climbs (through the coupling too), breathing quickens.
  hemorrhage: { systolicBp: 78, heartRate: 138, respiratoryRate: 25, spo2: 94, temperature: 36.0 },
  // Respiratory failure: desaturation with tachypnoea and tachycardia.
  hypoxia: { spo2: 83, respiratoryRate: 29, heartRate: 118 },
};

/** mulberry32: a tiny seeded PRNG, good enough for simulated noise. */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export interface ModelOptions {
  seed: number;
  scenario?: ScenarioName | undefined;
  /** When the scenario starts, ms after the model's start. */
  onsetMs?: number;
  /** How long the scenario takes to reach full severity. Default 3 min. */
  rampMs?: number;
  /** NIBP interval. Default 5 min. */
  nibpEveryMs?: number;
  /** Motion artifacts per hour. Default 6. */
  artifactsPerHour?: number;
}

export interface Sample {
  heartRate?: number;
  pulseRate?: number;
  spo2?: number;
  respiratoryRate?: number;
  temperature?: number;
  systolicBp?: number;
  diastolicBp?: number;
}

type WalkKey = 'heartRate' | 'spo2' | 'respiratoryRate' | 'temperature' | 'systolicBp';

export class PatientModel {
  readonly baseline: Vitals;
  readonly scenario: ScenarioName | undefined;
  readonly #rand: () => number;
  readonly #onsetMs: number;
  readonly #rampMs: number;
  readonly #nibpEveryMs: number;
  readonly #artifactRatePerMs: number;
  /** Random-walk offsets from the baseline. */
  readonly #walk: Record<WalkKey, number> = {
    heartRate: 0,
    spo2: 0,
    respiratoryRate: 0,
    temperature: 0,
    systolicBp: 0,
  };
  #t = 0;
  #nextNibp = 0;
  #nextTemp = 0;
  #artifactUntil = -1;
  #artifactDepth = 0;
  /** The ECG lead is off until this time (no heart rate from ECG; the oximeter still gives pulse). */
  leadOffUntil = -1;

  constructor(o: ModelOptions) {
    this.#rand = rng(o.seed);
    const r = this.#rand;
    this.baseline = {
      heartRate: 62 + r() * 24,
      spo2: 96 + r() * 3,
      respiratoryRate: 13 + r() * 5,
      temperature: 36.5 + r() * 0.6,
      systolicBp: 114 + r() * 22,
      diastolicBp: 68 + r() * 12,
    };
    this.scenario = o.scenario;
    this.#onsetMs = o.onsetMs ?? 0;
    this.#rampMs = o.rampMs ?? 180_000;
    this.#nibpEveryMs = o.nibpEveryMs ?? 300_000;
    this.#artifactRatePerMs = (o.artifactsPerHour ?? 6) / 3_600_000;
    this.#nextNibp = r() * Math.min(this.#nibpEveryMs, 30_000);
  }

  /** 0 before onset, rising to 1 over the ramp. */
  severity(): number {
    if (!this.scenario || this.#t < this.#onsetMs) return 0;
    return Math.min(1, (this.#t - this.#onsetMs) / this.#rampMs);
  }

  #gauss(): number {
    // Box–Muller.
    const u = 1 - this.#rand();
    const v = this.#rand();
    return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
  }

  /** The underlying physiology now (no artifacts, no sampling schedule). */
  truth(wallClockMs: number): Vitals {
    const b = this.baseline;
    const s = this.severity();
    const tgt = this.scenario ? TARGETS[this.scenario] : {};
    const hours = (wallClockMs / 3_600_000) % 24;
    // Circadian: lowest around 04:00, highest around 16:00.
    const day = Math.sin(((hours - 10) / 24) * 2 * Math.PI);
    const mix = (k: keyof Vitals, base: number) => base + s * ((tgt[k] ?? base) - base);
    const sbp = mix('systolicBp', b.systolicBp + this.#walk.systolicBp + 4 * day);
    // Baroreflex: each mmHg below baseline adds about 0.5 beats per minute.
    const coupling = Math.max(0, b.systolicBp - sbp) * 0.5;
    const hrBase = b.heartRate + this.#walk.heartRate + 5 * day;
    const hr =
      s > 0 && tgt.heartRate !== undefined
        ? Math.max(mix('heartRate', hrBase), hrBase + coupling)
        : hrBase + coupling;
    return {
      heartRate: hr,
      spo2: Math.min(100, mix('spo2', b.spo2 + this.#walk.spo2)),
      respiratoryRate: mix('respiratoryRate', b.respiratoryRate + this.#walk.respiratoryRate),
      temperature: mix('temperature', b.temperature + this.#walk.temperature + 0.3 * day),
      systolicBp: sbp,
      diastolicBp: b.diastolicBp * (sbp / b.systolicBp),
    };
  }

  /** Advances by dtMs and returns what the monitor reports now. */
  step(dtMs: number, wallClockMs: number): Sample {
    this.#t += dtMs;
    const dt = dtMs / 1000;
    // Ornstein–Uhlenbeck: mean reversion θ, noise σ per √s.
    const ou = (k: WalkKey, theta: number, sigma: number, cap: number) => {
      const x = this.#walk[k] - theta * this.#walk[k] * dt + sigma * Math.sqrt(dt) * this.#gauss();
      this.#walk[k] = Math.max(-cap, Math.min(cap, x));
    };
    ou('heartRate', 0.01, 0.6, 12);
    ou('spo2', 0.02, 0.15, 2.5);
    ou('respiratoryRate', 0.01, 0.15, 4);
    ou('temperature', 0.002, 0.004, 0.4);
    ou('systolicBp', 0.005, 0.5, 15);
    const v = this.truth(wallClockMs);
    const out: Sample = {};
    const leadOff = this.#t < this.leadOffUntil;
    if (!leadOff) out.heartRate = round(v.heartRate + this.#gauss() * 0.7, 0);
    out.pulseRate = round(v.heartRate + this.#gauss() * 1.2, 0);
    // Motion artifact: a false dip lasting a few seconds.
    if (this.#t > this.#artifactUntil && this.#rand() < this.#artifactRatePerMs * dtMs) {
      this.#artifactUntil = this.#t + 2000 + this.#rand() * 6000;
      this.#artifactDepth = 6 + this.#rand() * 12;
    }
    const dip = this.#t < this.#artifactUntil ? this.#artifactDepth : 0;
    out.spo2 = round(Math.max(50, Math.min(100, v.spo2 + this.#gauss() * 0.4 - dip)), 0);
    out.respiratoryRate = round(Math.max(0, v.respiratoryRate + this.#gauss() * 0.5), 0);
    if (this.#t >= this.#nextTemp) {
      this.#nextTemp = this.#t + 60_000;
      out.temperature = round(v.temperature + this.#gauss() * 0.05, 1);
    }
    if (this.#t >= this.#nextNibp) {
      // Deteriorating patients get their pressure taken more often, as nurses would.
      this.#nextNibp =
        this.#t + (this.severity() > 0.2 ? Math.min(this.#nibpEveryMs, 60_000) : this.#nibpEveryMs);
      out.systolicBp = round(v.systolicBp + this.#gauss() * 2, 0);
      out.diastolicBp = round(v.diastolicBp + this.#gauss() * 1.5, 0);
    }
    return out;
  }

  get artifactActive(): boolean {
    return this.#t < this.#artifactUntil;
  }
}

function round(x: number, d: number): number {
  const f = 10 ** d;
  return Math.round(x * f) / f;
}

/** Parses `sepsis:2,hemorrhage:1,hypoxia:1` into counts; throws with a clear message. */
export function parseScenarios(text: string | undefined): Array<[ScenarioName, number]> {
  if (!text) return [];
  return text.split(',').map((part) => {
    const [name, n = '1'] = part.trim().split(':');
    if (!SCENARIOS.includes(name as ScenarioName))
      throw new Error(`unknown scenario '${name}': use ${SCENARIOS.join(', ')}`);
    if (!/^\d+$/.test(n)) throw new Error(`scenario count for ${name} must be a whole number`);
    return [name as ScenarioName, Number(n)];
  });
}
