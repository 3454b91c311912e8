/**
 * Observation rows ↔ FHIR R4 Observation, following the R4 vital-signs profile: category
 * vital-signs, LOINC code first (an IEEE 11073 MDC code from a device as a second coding), UCUM
 * quantities, subject, effectiveDateTime. A blood pressure is stored as two rows (systolic and
 * diastolic, `panel` 85354-9, same time) and served as one 85354-9 panel Observation whose
 * components are 8480-6 and 8462-4; its FHIR id is the systolic row's id (the "head" row).
 */
import type {
  CodeableConcept,
  Coding,
  Observation as FhirObservation,
  ObservationComponent,
  Quantity,
} from '@medplum/fhirtypes';
import type { Insertable, Selectable } from 'kysely';
import {
  BP_PANEL,
  LOINC_SYSTEM,
  MDC_SYSTEM,
  UCUM_SYSTEM,
  VITAL_SIGNS,
  type VitalSign,
  vitalByMdc,
} from '../clinical/vital-signs.ts';
import type { ObservationsTable } from '../store/schema.ts';
import { CW, HL7, SID } from './constants.ts';
import { isoInstant } from './iso.ts';
import { unprocessable } from './outcome.ts';

export type ObsRow = Selectable<ObservationsTable>;

export const BP = { panel: BP_PANEL.loinc, systolic: '8480-6', diastolic: '8462-4' } as const;

/** Primary sign per LOINC code (heart rate 8867-4 has two device sources; the first is preferred). */
const SIGN_BY_LOINC = new Map<string, VitalSign>();
for (const v of VITAL_SIGNS) {
  if (!SIGN_BY_LOINC.has(v.loinc)) SIGN_BY_LOINC.set(v.loinc, v);
  for (const extra of v.loincExtra) if (!SIGN_BY_LOINC.has(extra)) SIGN_BY_LOINC.set(extra, v);
}

/** The R4 core profile each vital sign conforms to (besides the generic vitalsigns profile). */
const PROFILE_BY_LOINC: Readonly<Record<string, string>> = {
  '8867-4': 'heartrate',
  '9279-1': 'resprate',
  '2708-6': 'oxygensat',
  '59408-5': 'oxygensat',
  '8310-5': 'bodytemp',
  [BP.panel]: 'bp',
};

const UNIT_DISPLAY: Readonly<Record<string, string>> = {
  'mm[Hg]': 'mmHg',
  Cel: 'Cel',
  '/min': '/min',
  '%': '%',
};

const OBS_STATUS = new Set([
  'registered',
  'preliminary',
  'final',
  'amended',
  'corrected',
  'cancelled',
  'entered-in-error',
  'unknown',
]);

const CATEGORY_DISPLAY: Readonly<Record<string, string>> = {
  'vital-signs': 'Vital Signs',
  laboratory: 'Laboratory',
  'social-history': 'Social History',
  imaging: 'Imaging',
  procedure: 'Procedure',
  survey: 'Survey',
  exam: 'Exam',
  therapy: 'Therapy',
  activity: 'Activity',
};

/** A stored code system as a URI: HL7 v2 may give bare names (`L`, `99LOCAL`). */
export function systemUri(stored: string): string {
  return stored.includes(':') ? stored : CW.hl7CodingSystem + encodeURIComponent(stored);
}

/** The stored form of a code system URI (inverse of systemUri). */
export function storedSystem(uri: string): string {
  return uri.startsWith(CW.hl7CodingSystem) ? decodeURIComponent(uri.slice(CW.hl7CodingSystem.length)) : uri;
}

export function isBpHead(r: Pick<ObsRow, 'panel' | 'code'>): boolean {
  return r.panel === BP.panel && r.code === BP.systolic;
}

export function isBpPart(r: Pick<ObsRow, 'panel'>): boolean {
  return r.panel === BP.panel;
}

function iso(ms: number | string): string {
  return isoInstant(Number(ms));
}

/**
 * Whether a stored unit may be given as a UCUM code. HL7 feeds keep units as sent when they are
 * not known spellings (interpret.ts), and some of those read as other UCUM units: `C` is coulomb,
 * `F` farad; a bare number is an MDC unit code. Those, and anything with spaces or a degree sign
 * (never in UCUM codes), go out as display text only.
 */
function ucumCode(unit: string): boolean {
  return unit !== 'C' && unit !== 'F' && !/^\d+$/.test(unit) && !/[\s°]/.test(unit);
}

function quantity(value: number, unit: string | null): Quantity {
  const q: Quantity = { value };
  if (unit) {
    q.unit = UNIT_DISPLAY[unit] ?? unit;
    if (ucumCode(unit)) {
      q.system = UCUM_SYSTEM;
      q.code = unit;
    }
  }
  return q;
}

function codingsOf(r: ObsRow): Coding[] {
  const sign = r.code_system === LOINC_SYSTEM ? SIGN_BY_LOINC.get(r.code) : undefined;
  const primary: Coding = { system: systemUri(r.code_system), code: r.code };
  const display = sign?.display ?? r.display;
  if (display) primary.display = display;
  const out = [primary];
  if (r.mdc_code && !(r.code_system === MDC_SYSTEM && r.code === r.mdc_code)) {
    const mdc: Coding = { system: MDC_SYSTEM, code: r.mdc_code };
    const known = vitalByMdc(Number(r.mdc_code));
    if (known) mdc.display = known.mdcRef;
    out.push(mdc);
  }
  return out;
}

function categoryOf(code: string | null): CodeableConcept[] | undefined {
  if (!code) return undefined;
  const c: Coding = { system: HL7.observationCategory, code };
  const d = CATEGORY_DISPLAY[code];
  if (d) c.display = d;
  return [{ coding: [c], text: d ?? code }];
}

function identifierOf(r: ObsRow): FhirObservation['identifier'] {
  if (r.identifier) {
    const bar = r.identifier.indexOf('|');
    return [{ system: r.identifier.slice(0, bar), value: r.identifier.slice(bar + 1) }];
  }
  return [{ system: SID.observation, value: r.id }];
}

const ABSENT: CodeableConcept = {
  coding: [
    {
      system: 'http://terminology.hl7.org/CodeSystem/data-absent-reason',
      code: 'unknown',
      display: 'Unknown',
    },
  ],
};

function interpretationOf(flags: string | null): CodeableConcept[] | undefined {
  if (!flags) return undefined;
  const codes = flags
    .split(',')
    .map((f) => f.trim())
    .filter((f) => /^[A-Za-z<>]{1,4}$/.test(f));
  return codes.length ? codes.map((code) => ({ coding: [{ system: HL7.interpretation, code }] })) : undefined;
}

function referenceRangeOf(text: string | null, unit: string | null): FhirObservation['referenceRange'] {
  if (!text) return undefined;
  const m = /^\s*([+-]?\d+(?:\.\d+)?)\s*-\s*([+-]?\d+(?:\.\d+)?)\s*$/.exec(text);
  if (!m) return [{ text }];
  return [{ low: quantity(Number(m[1]), unit), high: quantity(Number(m[2]), unit), text }];
}

/** Whether a row is a vital sign: categorised so, or carrying a vital-signs profile LOINC code. */
function isVital(r: ObsRow): boolean {
  return r.category === 'vital-signs' || (r.code_system === LOINC_SYSTEM && SIGN_BY_LOINC.has(r.code));
}

/**
 * One stored row (or a BP head row and its diastolic companion) as a FHIR Observation.
 * `companion` is used only when `row` is a BP panel part.
 */
export function toFhirObservation(row: ObsRow, companion?: ObsRow): FhirObservation {
  if (isBpPart(row)) return bpPanel(row, companion);
  const vital = isVital(row);
  const o: FhirObservation = {
    resourceType: 'Observation',
    id: row.id,
    meta: { lastUpdated: iso(row.recorded_at) },
    identifier: identifierOf(row),
    status: (OBS_STATUS.has(row.status) ? row.status : 'unknown') as FhirObservation['status'],
    code: {
      coding: codingsOf(row),
      text:
        (row.code_system === LOINC_SYSTEM ? SIGN_BY_LOINC.get(row.code)?.display : undefined) ??
        row.display ??
        row.code,
    },
    subject: { reference: `Patient/${row.patient_id}` },
    effectiveDateTime: iso(row.effective_at),
    issued: iso(row.recorded_at),
  };
  const category = categoryOf(row.category ?? (vital ? 'vital-signs' : null));
  if (category) o.category = category;
  if (vital) {
    const p = row.code_system === LOINC_SYSTEM ? PROFILE_BY_LOINC[row.code] : undefined;
    o.meta!.profile = p
      ? [HL7.vitalSignsProfile, `http://hl7.org/fhir/StructureDefinition/${p}`]
      : [HL7.vitalSignsProfile];
  }
  if (row.value_num !== null) o.valueQuantity = quantity(Number(row.value_num), row.unit);
  else if (row.value_text !== null) o.valueString = row.value_text;
  else o.dataAbsentReason = ABSENT;
  const interp = interpretationOf(row.abnormal_flags);
  if (interp) o.interpretation = interp;
  const rr = referenceRangeOf(row.ref_range, row.unit);
  if (rr) o.referenceRange = rr;
  return o;
}

function bpComponent(
  code: string,
  display: string,
  mdc: number,
  mdcRef: string,
  r: ObsRow | undefined,
): ObservationComponent {
  const coding: Coding[] = [{ system: LOINC_SYSTEM, code, display }];
  if (r?.mdc_code) coding.push({ system: MDC_SYSTEM, code: String(mdc), display: mdcRef });
  const c: ObservationComponent = { code: { coding, text: display } };
  if (r && r.value_num !== null) c.valueQuantity = quantity(Number(r.value_num), r.unit ?? 'mm[Hg]');
  else c.dataAbsentReason = ABSENT;
  const interp = r ? interpretationOf(r.abnormal_flags) : undefined;
  if (interp) c.interpretation = interp;
  return c;
}

function bpPanel(a: ObsRow, b: ObsRow | undefined): FhirObservation {
  const sys = a.code === BP.systolic ? a : b?.code === BP.systolic ? b : undefined;
  const dia = a.code === BP.diastolic ? a : b?.code === BP.diastolic ? b : undefined;
  const head = sys ?? a;
  const coding: Coding[] = [
    { system: LOINC_SYSTEM, code: BP.panel, display: 'Blood pressure panel with all children optional' },
  ];
  if (sys?.mdc_code || dia?.mdc_code)
    coding.push({ system: MDC_SYSTEM, code: String(BP_PANEL.mdc), display: BP_PANEL.mdcRef });
  return {
    resourceType: 'Observation',
    id: head.id,
    meta: { lastUpdated: iso(head.recorded_at), profile: [HL7.vitalSignsProfile, HL7.bpProfile] },
    identifier: identifierOf(head),
    status: (OBS_STATUS.has(head.status) ? head.status : 'unknown') as FhirObservation['status'],
    category: categoryOf('vital-signs'),
    code: { coding, text: 'Blood pressure' },
    subject: { reference: `Patient/${head.patient_id}` },
    effectiveDateTime: iso(head.effective_at),
    issued: iso(head.recorded_at),
    component: [
      bpComponent(BP.systolic, 'Systolic blood pressure', 150021, 'MDC_PRESS_BLD_NONINV_SYS', sys),
      bpComponent(BP.diastolic, 'Diastolic blood pressure', 150022, 'MDC_PRESS_BLD_NONINV_DIA', dia),
    ],
  };
}

// ---- FHIR → rows ----

/** Row fields from a client's Observation; the caller adds id, patient_id, recorded_at, source. */
export type ObsDraft = Omit<
  Insertable<ObservationsTable>,
  'id' | 'patient_id' | 'recorded_at' | 'source' | 'source_ref'
>;

export interface ParsedObservation {
  /** Observation.subject.reference as sent (`Patient/ID` or a bundle's `urn:uuid:…`). */
  subject: string;
  /** `system|value` of the first identifier, the key of a conditional create. */
  identifier: string | null;
  /** One row, or two for a blood-pressure panel (systolic first: the head). */
  rows: ObsDraft[];
}

const DATETIME_RE = /^\d{4}(-\d{2}(-\d{2}(T\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}:\d{2}))?)?)?$/;

function parseWhen(o: FhirObservation): number {
  const raw = o.effectiveDateTime ?? o.effectiveInstant ?? o.effectivePeriod?.start;
  if (typeof raw !== 'string' || !DATETIME_RE.test(raw)) {
    throw unprocessable(
      'Observation needs effectiveDateTime (or effectiveInstant / effectivePeriod.start) with a time zone',
    );
  }
  const t = Date.parse(
    raw.length <= 10
      ? `${raw.length === 4 ? `${raw}-01-01` : raw.length === 7 ? `${raw}-01` : raw}T00:00:00Z`
      : raw,
  );
  if (!Number.isFinite(t)) throw unprocessable(`effective time "${raw}" is not a valid date-time`);
  return t;
}

interface PickedCode {
  code: string;
  codeSystem: string;
  display: string | null;
  mdc: string | null;
}

function pickCode(cc: CodeableConcept | undefined, where: string): PickedCode {
  const codings = (Array.isArray(cc?.coding) ? cc.coding : []).filter(
    (c): c is Coding & { system: string; code: string } =>
      !!c &&
      typeof c.system === 'string' &&
      typeof c.code === 'string' &&
      c.code.length > 0 &&
      c.code.length <= 64,
  );
  if (codings.length === 0) throw unprocessable(`${where}.coding needs a coding with system and code`);
  const loinc = codings.find((c) => c.system === LOINC_SYSTEM);
  const mdc = codings.find((c) => c.system === MDC_SYSTEM);
  const text = (s: string | undefined) => (typeof s === 'string' ? s.slice(0, 200) : null);
  if (loinc)
    return {
      code: loinc.code,
      codeSystem: LOINC_SYSTEM,
      display: text(loinc.display ?? cc?.text),
      mdc: mdc?.code ?? null,
    };
  if (mdc) {
    const sign = vitalByMdc(Number(mdc.code));
    if (sign) return { code: sign.loinc, codeSystem: LOINC_SYSTEM, display: sign.display, mdc: mdc.code };
    if (mdc.code === String(BP_PANEL.mdc))
      return { code: BP.panel, codeSystem: LOINC_SYSTEM, display: null, mdc: mdc.code };
    return { code: mdc.code, codeSystem: MDC_SYSTEM, display: text(mdc.display ?? cc?.text), mdc: mdc.code };
  }
  const first = codings[0]!;
  return {
    code: first.code,
    codeSystem: storedSystem(first.system),
    display: text(first.display ?? cc?.text),
    mdc: null,
  };
}

interface PickedValue {
  value_num: number | null;
  value_text: string | null;
  unit: string | null;
}

function pickValue(
  o: Pick<
    FhirObservation,
    | 'valueQuantity'
    | 'valueString'
    | 'valueInteger'
    | 'valueCodeableConcept'
    | 'valueBoolean'
    | 'dataAbsentReason'
  >,
  where: string,
): PickedValue {
  if (o.valueQuantity !== undefined) {
    const q = o.valueQuantity;
    if (typeof q?.value !== 'number' || !Number.isFinite(q.value))
      throw unprocessable(`${where}.valueQuantity.value must be a number`);
    const unit = typeof q.code === 'string' ? q.code : typeof q.unit === 'string' ? q.unit : null;
    if (unit !== null && unit.length > 32) throw unprocessable(`${where}.valueQuantity unit is too long`);
    return { value_num: q.value, value_text: null, unit };
  }
  if (o.valueInteger !== undefined) {
    if (!Number.isSafeInteger(o.valueInteger))
      throw unprocessable(`${where}.valueInteger must be an integer`);
    return { value_num: o.valueInteger, value_text: null, unit: null };
  }
  if (o.valueString !== undefined) {
    if (typeof o.valueString !== 'string' || o.valueString.length > 1000)
      throw unprocessable(`${where}.valueString: at most 1000 characters`);
    return { value_num: null, value_text: o.valueString, unit: null };
  }
  if (o.valueCodeableConcept !== undefined) {
    const c = o.valueCodeableConcept;
    const t = c?.coding?.[0]?.code ?? c?.text;
    if (typeof t !== 'string' || t.length > 200)
      throw unprocessable(`${where}.valueCodeableConcept needs a code or text`);
    return { value_num: null, value_text: t, unit: null };
  }
  if (o.valueBoolean !== undefined)
    return { value_num: null, value_text: String(Boolean(o.valueBoolean)), unit: null };
  if (o.dataAbsentReason !== undefined) return { value_num: null, value_text: null, unit: null };
  throw unprocessable(
    `${where} needs a value (valueQuantity, valueString, valueInteger, valueCodeableConcept, valueBoolean) or dataAbsentReason`,
  );
}

function flagsOf(list: CodeableConcept[] | undefined): string | null {
  if (!Array.isArray(list)) return null;
  const codes = list
    .flatMap((c) => (Array.isArray(c?.coding) ? c.coding.map((x) => x?.code) : []))
    .filter((c): c is string => typeof c === 'string' && /^[A-Za-z<>]{1,4}$/.test(c));
  return codes.length ? codes.join(',') : null;
}

/** Reads a client's Observation into rows CareWire stores; refuses (422) what it cannot keep. */
export function fromFhirObservation(body: unknown): ParsedObservation {
  const o = body as FhirObservation;
  if (!o || typeof o !== 'object' || o.resourceType !== 'Observation')
    throw unprocessable('the body must be an Observation resource');
  if (typeof o.status !== 'string' || !OBS_STATUS.has(o.status))
    throw unprocessable('Observation.status must be an R4 ObservationStatus code');
  const subject = o.subject?.reference;
  if (typeof subject !== 'string' || !subject)
    throw unprocessable('Observation.subject.reference must point to a Patient');
  const effective_at = parseWhen(o);
  const code = pickCode(o.code, 'Observation.code');
  const catCoding = (Array.isArray(o.category) ? o.category : []).flatMap((c) => c?.coding ?? []);
  const catCode = (catCoding.find((c) => c?.system === HL7.observationCategory) ?? catCoding[0])?.code;
  const isBp = code.codeSystem === LOINC_SYSTEM && code.code === BP.panel;
  const category =
    typeof catCode === 'string'
      ? catCode.slice(0, 64)
      : isBp || SIGN_BY_LOINC.has(code.code)
        ? 'vital-signs'
        : null;
  const idn = Array.isArray(o.identifier)
    ? o.identifier.find((i) => typeof i?.system === 'string' && typeof i?.value === 'string')
    : undefined;
  const identifier = idn ? `${idn.system}|${idn.value}` : null;
  if (identifier && identifier.length > 300)
    throw unprocessable('Observation.identifier: system and value at most 300 characters');
  const rr = o.referenceRange?.[0];
  const ref_range =
    typeof rr?.text === 'string'
      ? rr.text.slice(0, 100)
      : rr?.low?.value !== undefined && rr?.high?.value !== undefined
        ? `${rr.low.value}-${rr.high.value}`
        : null;
  const base = {
    status: o.status,
    category,
    effective_at,
    ref_range,
    abnormal_flags: flagsOf(o.interpretation),
  };
  if (isBp) {
    const comps = Array.isArray(o.component) ? o.component : [];
    const find = (loinc: string, mdc: number) =>
      comps.find((c) =>
        c?.code?.coding?.some(
          (x) =>
            (x?.system === LOINC_SYSTEM && x.code === loinc) ||
            (x?.system === MDC_SYSTEM && x.code === String(mdc)),
        ),
      );
    const sys = find(BP.systolic, 150021);
    const dia = find(BP.diastolic, 150022);
    if (!sys && !dia)
      throw unprocessable('a blood pressure panel (85354-9) needs component 8480-6 and/or 8462-4');
    const rows: ObsDraft[] = [];
    for (const [c, loinc, mdc, display, where] of [
      [sys, BP.systolic, '150021', 'Systolic blood pressure', 'component[8480-6]'],
      [dia, BP.diastolic, '150022', 'Diastolic blood pressure', 'component[8462-4]'],
    ] as const) {
      if (!c) continue;
      const v = pickValue(c, where);
      const hasMdc = c.code?.coding?.some((x) => x?.system === MDC_SYSTEM) || code.mdc !== null;
      rows.push({
        ...base,
        code: loinc,
        code_system: LOINC_SYSTEM,
        display,
        mdc_code: hasMdc ? mdc : null,
        value_num: v.value_num,
        value_text: v.value_text,
        unit: v.unit ?? 'mm[Hg]',
        panel: BP.panel,
        abnormal_flags: flagsOf(c.interpretation),
        identifier: null,
      });
    }
    rows[0]!.identifier = identifier;
    return { subject, identifier, rows };
  }
  const v = pickValue(o, 'Observation');
  return {
    subject,
    identifier,
    rows: [
      {
        ...base,
        code: code.code,
        code_system: code.codeSystem,
        display: code.display,
        mdc_code: code.mdc,
        value_num: v.value_num,
        value_text: v.value_text,
        unit: v.unit,
        panel: null,
        identifier,
      },
    ],
  };
}

// ---- the search page's fast path: rows straight to JSON text ----

const q = JSON.stringify;
const num = (n: number) => (Number.isFinite(n) ? String(n) : 'null');
const MAX_MEMO = 4096;
const codeMemo = new Map<string, string>();
const categoryMemo = new Map<string, string>();
const ABSENT_JSON = q(ABSENT);

function memo(m: Map<string, string>, key: string, make: () => string): string {
  let v = m.get(key);
  if (v === undefined) {
    if (m.size >= MAX_MEMO) m.clear();
    v = make();
    m.set(key, v);
  }
  return v;
}

function quantityJson(value: number, unit: string | null): string {
  return unit
    ? `{"value":${num(value)},"unit":${q(UNIT_DISPLAY[unit] ?? unit)},"system":"${UCUM_SYSTEM}","code":${q(unit)}}`
    : `{"value":${num(value)}}`;
}

/**
 * `JSON.stringify(toFhirObservation(row))` for a row that is not part of a blood-pressure panel,
 * built as text: a 50-entry search page otherwise builds ~1,500 objects and serialises them again.
 * The codings, category and profile of a (system, code, display, MDC) combination are memoised.
 * test/fhir/search-params.test.ts holds it equal to the reference, byte for byte, on random rows.
 */
export function observationJson(row: ObsRow): string {
  const vital = isVital(row);
  const loinc = row.code_system === LOINC_SYSTEM;
  const code = memo(
    codeMemo,
    `${row.code_system}\u0000${row.code}\u0000${row.display}\u0000${row.mdc_code}`,
    () =>
      q({
        coding: codingsOf(row),
        text: (loinc ? SIGN_BY_LOINC.get(row.code)?.display : undefined) ?? row.display ?? row.code,
      }),
  );
  const catCode = row.category ?? (vital ? 'vital-signs' : null);
  const tail = memo(categoryMemo, `${catCode}\u0000${vital}\u0000${loinc ? row.code : ''}`, () => {
    const category = categoryOf(catCode);
    let profile = '';
    if (vital) {
      const p = loinc ? PROFILE_BY_LOINC[row.code] : undefined;
      profile = `,"profile":${q(p ? [HL7.vitalSignsProfile, `http://hl7.org/fhir/StructureDefinition/${p}`] : [HL7.vitalSignsProfile])}`;
    }
    // Two parts joined by \u0000: the meta suffix and the category member.
    return `${profile}\u0000${category ? `,"category":${q(category)}` : ''}`;
  });
  const cut = tail.indexOf('\u0000');
  const recorded = iso(row.recorded_at);
  let s = `{"resourceType":"Observation","id":${q(row.id)},"meta":{"lastUpdated":"${recorded}"${tail.slice(0, cut)}},"identifier":`;
  if (row.identifier) {
    const bar = row.identifier.indexOf('|');
    s += `[{"system":${q(row.identifier.slice(0, bar))},"value":${q(row.identifier.slice(bar + 1))}}]`;
  } else s += `[{"system":"${SID.observation}","value":${q(row.id)}}]`;
  s += `,"status":${OBS_STATUS.has(row.status) ? q(row.status) : '"unknown"'},"code":${code}`;
  s += `,"subject":{"reference":${q(`Patient/${row.patient_id}`)}},"effectiveDateTime":"${iso(row.effective_at)}","issued":"${recorded}"`;
  s += tail.slice(cut + 1);
  if (row.value_num !== null) s += `,"valueQuantity":${quantityJson(Number(row.value_num), row.unit)}`;
  else if (row.value_text !== null) s += `,"valueString":${q(row.value_text)}`;
  else s += `,"dataAbsentReason":${ABSENT_JSON}`;
  const interp = interpretationOf(row.abnormal_flags);
  if (interp) s += `,"interpretation":${q(interp)}`;
  if (row.ref_range) {
    const m = /^\s*([+-]?\d+(?:\.\d+)?)\s*-\s*([+-]?\d+(?:\.\d+)?)\s*$/.exec(row.ref_range);
    s += m
      ? `,"referenceRange":[{"low":${quantityJson(Number(m[1]), row.unit)},"high":${quantityJson(Number(m[2]), row.unit)},"text":${q(row.ref_range)}}]`
      : `,"referenceRange":[{"text":${q(row.ref_range)}}]`;
  }
  return `${s}}`;
}
