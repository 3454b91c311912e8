// Realistic HL7 v2 messages for the demo sender, the tests and the benchmark: ADT^A01 admissions,
// IHE PCD-01 bedside-monitor results (MDC codes and units) and laboratory results (LOINC, UCUM).
// The demo patients match `carewire demo`'s registry (src/cli/demo-seed.ts).

import { formatHl7Timestamp } from './ack.ts';

export interface DemoPatient {
  mrn: string;
  family: string;
  given: string;
  /** HL7 table 0001: M, F. */
  sex: string;
  /** YYYYMMDD */
  birth: string;
  ward: string;
  bed: string;
}

export const DEMO_PATIENTS: readonly DemoPatient[] = [
  {
    mrn: 'MRN-1001',
    family: 'Lovelace',
    given: 'Ada',
    sex: 'F',
    birth: '19521210',
    ward: 'ICU-A',
    bed: 'A1',
  },
  { mrn: 'MRN-1002', family: 'Turing', given: 'Alan', sex: 'M', birth: '19540623', ward: 'ICU-A', bed: 'A2' },
  {
    mrn: 'MRN-1003',
    family: 'Hopper',
    given: 'Grace',
    sex: 'F',
    birth: '19461209',
    ward: 'ICU-A',
    bed: 'A3',
  },
  {
    mrn: 'MRN-1004',
    family: 'Dijkstra',
    given: 'Edsger',
    sex: 'M',
    birth: '19500511',
    ward: 'ICU-A',
    bed: 'A4',
  },
  {
    mrn: 'MRN-1005',
    family: 'Liskov',
    given: 'Barbara',
    sex: 'F',
    birth: '19591107',
    ward: 'ICU-A',
    bed: 'A5',
  },
  {
    mrn: 'MRN-1006',
    family: 'Knuth',
    given: 'Donald',
    sex: 'M',
    birth: '19580110',
    ward: 'ICU-A',
    bed: 'A6',
  },
  {
    mrn: 'MRN-2001',
    family: 'Hamilton',
    given: 'Margaret',
    sex: 'F',
    birth: '19610817',
    ward: 'WARD-B',
    bed: 'B1',
  },
  {
    mrn: 'MRN-2002',
    family: 'McCarthy',
    given: 'John',
    sex: 'M',
    birth: '19470904',
    ward: 'WARD-B',
    bed: 'B2',
  },
];

/** HL7 DTM to the second with offset, e.g. 20240131235959+0000. */
function ts(at: Date): string {
  const s = formatHl7Timestamp(at);
  return s.slice(0, 14) + s.slice(18);
}

function pid(p: DemoPatient): string {
  return `PID|1||${p.mrn}^^^CAREWIRE^MR||${p.family}^${p.given}||${p.birth}|${p.sex}`;
}

/** ADT^A01 (admit) placing the patient in their ward and bed. */
export function adtA01(p: DemoPatient, controlId: string, at = new Date()): string {
  const t = ts(at);
  return [
    `MSH|^~\\&|ADT|HOSPITAL|CAREWIRE|CAREWIRE|${t}||ADT^A01^ADT_A01|${controlId}|P|2.5.1`,
    `EVN|A01|${t}`,
    pid(p),
    `PV1|1|I|${p.ward}^^${p.bed}${'|'.repeat(41)}${t}`, // PV1-44 admit time
    '',
  ].join('\r');
}

export interface Vitals {
  heartRate: number;
  spo2: number;
  respiratoryRate: number;
  temperature: number;
  systolic: number;
  diastolic: number;
}

/** Plausible vitals that drift with `n` (a counter), so the demo's charts move. */
export function demoVitals(n: number, seed = 0): Vitals {
  const w = (period: number, amp: number) => amp * Math.sin((n + seed * 7) / period);
  return {
    heartRate: Math.round(78 + w(5, 9)),
    spo2: Math.round(96 + w(9, 2)),
    respiratoryRate: Math.round(16 + w(7, 3)),
    temperature: Math.round((37 + w(13, 0.6)) * 10) / 10,
    systolic: Math.round(122 + w(11, 12)),
    diastolic: Math.round(78 + w(11, 7)),
  };
}

/**
 * IHE PCD-01 ORU^R01 from a bedside monitor: six OBX with MDC codes and units, enhanced mode
 * (MSH-15 NE, MSH-16 AL: an application ACK only), or original mode when `original` is set.
 */
export function vitalsOru(
  p: DemoPatient,
  controlId: string,
  v: Vitals,
  at = new Date(),
  opts: { original?: boolean } = {},
): string {
  const t = ts(at);
  const acks = opts.original ? '' : '|||NE|AL';
  const obx = (i: number, code: string, value: number, unit: string, range: string) =>
    `OBX|${i}|NM|${code}^MDC|1.1.1.${i}|${value}|${unit}^MDC|${range}||||R|||${t}`;
  return [
    `MSH|^~\\&|MONITOR^0123456789ABCDEF^EUI-64|${p.ward}|CAREWIRE|CAREWIRE|${t}||ORU^R01^ORU_R01|${controlId}|P|2.6${acks}`,
    pid(p),
    `PV1|1|I|${p.ward}^^${p.bed}`,
    `OBR|1|${controlId}^MONITOR|${controlId}^CAREWIRE|182777000^monitoring of patient^SCT|||${t}`,
    obx(1, '147842^MDC_ECG_HEART_RATE', v.heartRate, '264864^MDC_DIM_BEAT_PER_MIN', '50-120'),
    obx(2, '150456^MDC_PULS_OXIM_SAT_O2', v.spo2, '262688^MDC_DIM_PERCENT', '90-100'),
    obx(3, '151562^MDC_RESP_RATE', v.respiratoryRate, '264928^MDC_DIM_RESP_PER_MIN', '8-25'),
    obx(4, '150364^MDC_TEMP_BODY', v.temperature, '268192^MDC_DIM_DEGC', '36.0-38.0'),
    obx(5, '150021^MDC_PRESS_BLD_NONINV_SYS', v.systolic, '266016^MDC_DIM_MMHG', '90-140'),
    obx(6, '150022^MDC_PRESS_BLD_NONINV_DIA', v.diastolic, '266016^MDC_DIM_MMHG', '60-90'),
    '',
  ].join('\r');
}

/** Laboratory ORU^R01 (basic metabolic panel) with LOINC codes, UCUM units, ranges and flags. */
export function labOru(p: DemoPatient, controlId: string, n: number, at = new Date()): string {
  const t = ts(at);
  const k = Math.round((4.1 + 1.2 * Math.sin(n / 3)) * 10) / 10;
  const na = Math.round(139 + 4 * Math.sin(n / 5));
  const creat = Math.round(80 + 30 * Math.sin(n / 4));
  const flag = (v: number, lo: number, hi: number) => (v < lo ? 'L' : v > hi ? 'H' : 'N');
  return [
    `MSH|^~\\&|LAB|HOSPITAL|CAREWIRE|CAREWIRE|${t}||ORU^R01^ORU_R01|${controlId}|P|2.5.1`,
    pid(p),
    `OBR|1|${controlId}^LAB|${controlId}^LAB|24321-2^Basic metabolic panel^LN|||${t}|||||||||||||||||F`,
    `OBX|1|NM|2823-3^Potassium [Moles/volume] in Serum or Plasma^LN||${k}|mmol/L^mmol/L^UCUM|3.5-5.1|${flag(k, 3.5, 5.1)}|||F`,
    `OBX|2|NM|2951-2^Sodium [Moles/volume] in Serum or Plasma^LN||${na}|mmol/L^mmol/L^UCUM|136-145|${flag(na, 136, 145)}|||F`,
    `OBX|3|NM|2160-0^Creatinine [Mass/volume] in Serum or Plasma^LN||${creat}|umol/L^umol/L^UCUM|62-106|${flag(creat, 62, 106)}|||F`,
    '',
  ].join('\r');
}
