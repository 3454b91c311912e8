/**
 * The compact numeric vital-sign codes carried in telemetry datagrams, and their mapping to the
 * LOINC, UCUM and IEEE 11073 MDC vocabulary of docs (clinical.md, FHIR R4 vital-signs profile).
 *
 * Why our own small code instead of putting the MDC code on the wire: MDC codes need 32 bits and
 * several MDC codes map to one LOINC sign (ECG heart rate and oximeter pulse rate), while a uint16
 * from this one table keeps a measurement at 10 bytes and lets the receiver look the sign up in O(1).
 * Codes are part of the wire format: never renumber one; add new signs with new numbers.
 */

export const LOINC_SYSTEM = 'http://loinc.org';
export const UCUM_SYSTEM = 'http://unitsofmeasure.org';
export const MDC_SYSTEM = 'urn:iso:std:iso:11073:10101';

/** Stable names the rest of CareWire uses for vital signs (alarm rules, NEWS2, the dashboard). */
export type VitalKey =
  | 'heartRate'
  | 'pulseRate'
  | 'respiratoryRate'
  | 'spo2'
  | 'temperature'
  | 'systolicBp'
  | 'diastolicBp';

export interface VitalSign {
  readonly key: VitalKey;
  /** Wire code (uint16, 0 is never used so an all-zero buffer cannot look like a measurement). */
  readonly code: number;
  readonly display: string;
  /** Primary LOINC code (FHIR vital-signs profile). */
  readonly loinc: string;
  /** Additional LOINC codings the profile allows next to the primary one. */
  readonly loincExtra: readonly string[];
  readonly ucum: string;
  readonly mdc: number;
  readonly mdcRef: string;
  /**
   * Values outside this range cannot come from a working sensor on a living patient; the
   * gateway drops them as implausible instead of storing or alarming on them.
   */
  readonly plausible: readonly [min: number, max: number];
}

export const VITAL_SIGNS: readonly VitalSign[] = [
  {
    key: 'heartRate',
    code: 1,
    display: 'Heart rate',
    loinc: '8867-4',
    loincExtra: [],
    ucum: '/min',
    mdc: 147842,
    mdcRef: 'MDC_ECG_HEART_RATE',
    plausible: [0, 350],
  },
  {
    key: 'pulseRate',
    code: 2,
    display: 'Pulse rate (pulse oximetry)',
    loinc: '8867-4',
    loincExtra: [],
    ucum: '/min',
    mdc: 149530,
    mdcRef: 'MDC_PULS_OXIM_PULS_RATE',
    plausible: [0, 350],
  },
  {
    key: 'respiratoryRate',
    code: 3,
    display: 'Respiratory rate',
    loinc: '9279-1',
    loincExtra: [],
    ucum: '/min',
    mdc: 151562,
    mdcRef: 'MDC_RESP_RATE',
    plausible: [0, 150],
  },
  {
    key: 'spo2',
    code: 4,
    display: 'Oxygen saturation',
    loinc: '2708-6',
    loincExtra: ['59408-5'],
    ucum: '%',
    mdc: 150456,
    mdcRef: 'MDC_PULS_OXIM_SAT_O2',
    plausible: [0, 100],
  },
  {
    key: 'temperature',
    code: 5,
    display: 'Body temperature',
    loinc: '8310-5',
    loincExtra: [],
    ucum: 'Cel',
    mdc: 150364,
    mdcRef: 'MDC_TEMP_BODY',
    plausible: [20, 45],
  },
  {
    key: 'systolicBp',
    code: 6,
    display: 'Systolic blood pressure',
    loinc: '8480-6',
    loincExtra: [],
    ucum: 'mm[Hg]',
    mdc: 150021,
    mdcRef: 'MDC_PRESS_BLD_NONINV_SYS',
    plausible: [0, 350],
  },
  {
    key: 'diastolicBp',
    code: 7,
    display: 'Diastolic blood pressure',
    loinc: '8462-4',
    loincExtra: [],
    ucum: 'mm[Hg]',
    mdc: 150022,
    mdcRef: 'MDC_PRESS_BLD_NONINV_DIA',
    plausible: [0, 300],
  },
];

/** Blood-pressure panel (systolic and diastolic are its components in FHIR). */
export const BP_PANEL = { loinc: '85354-9', mdc: 150020, mdcRef: 'MDC_PRESS_BLD_NONINV' } as const;
/** The vital-signs panel that groups one set of readings. */
export const VITAL_SIGNS_PANEL = { loinc: '85353-1' } as const;

// Dense array indexed by wire code: the decoder's hot path looks codes up without hashing.
const byCode: Array<VitalSign | undefined> = [];
const byKey = new Map<VitalKey, VitalSign>();
const byMdc = new Map<number, VitalSign>();
for (const v of VITAL_SIGNS) {
  byCode[v.code] = v;
  byKey.set(v.key, v);
  byMdc.set(v.mdc, v);
}

/** The sign a wire code stands for, or undefined for a code this build does not know. */
export function vitalByCode(code: number): VitalSign | undefined {
  return byCode[code];
}

export function vitalByKey(key: VitalKey): VitalSign {
  // Every VitalKey is in the table (checked by a test), so this cannot be undefined.
  return byKey.get(key)!;
}

/** The sign for an IEEE 11073 MDC code (as HL7 PCD-01 messages carry them). */
export function vitalByMdc(mdc: number): VitalSign | undefined {
  return byMdc.get(mdc);
}

/**
 * Signs for a LOINC code. Heart rate 8867-4 maps to two signs (ECG and oximeter), so this returns
 * a list; the first entry is the preferred one.
 */
export function vitalsByLoinc(loinc: string): VitalSign[] {
  return VITAL_SIGNS.filter((v) => v.loinc === loinc || v.loincExtra.includes(loinc));
}

export function isPlausible(sign: VitalSign, value: number): boolean {
  return Number.isFinite(value) && value >= sign.plausible[0] && value <= sign.plausible[1];
}

/** Values keyed by sign, as the alarm rules and the dashboard use them. */
export type VitalValues = Partial<Record<VitalKey, number>>;

/**
 * Turns wire measurements into values by sign. Unknown codes (from a newer device) and
 * implausible values are left out and listed, so the gateway can count them instead of
 * alarming or scoring on them.
 */
export function toVitalValues(measurements: Iterable<{ readonly code: number; readonly value: number }>): {
  values: VitalValues;
  unknownCodes: number[];
  implausible: VitalKey[];
} {
  const values: VitalValues = {};
  const unknownCodes: number[] = [];
  const implausible: VitalKey[] = [];
  for (const m of measurements) {
    const sign = vitalByCode(m.code);
    if (sign === undefined) unknownCodes.push(m.code);
    else if (!isPlausible(sign, m.value)) implausible.push(sign.key);
    else values[sign.key] = m.value;
  }
  return { values, unknownCodes, implausible };
}
