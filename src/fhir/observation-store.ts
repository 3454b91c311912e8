/**
 * Observation queries for the FHIR API: search translated to one indexed SQL query with keyset
 * paging on (effective_at, seq), blood-pressure companions fetched for the panels of a page, and
 * look-ups by id and identifier. The same SQL runs on SQLite and PostgreSQL.
 */
import { type Expression, type ExpressionBuilder, type SqlBool, sql } from 'kysely';
import { LOINC_SYSTEM, MDC_SYSTEM, VITAL_SIGNS } from '../clinical/vital-signs.ts';
import type { Engine } from '../store/db.ts';
import { observationIdsCond } from '../store/observation-search.ts';
import type { Database } from '../store/schema.ts';
import { SID } from './constants.ts';
import { BP, type ObsRow, storedSystem } from './observation-map.ts';
import type { FhirReader } from './reader.ts';
import type { DateRange, Token } from './search-params.ts';

type EB = ExpressionBuilder<Database, 'observations_searchable'>;
type Cond = Expression<SqlBool>;

const BP_PANEL_MDC = '150020';
const VITAL_LOINC = [...new Set(VITAL_SIGNS.flatMap((v) => [v.loinc, ...v.loincExtra]))];

export interface ObservationFilter {
  /** undefined: every patient (the caller checked the actor may see all); [] matches nothing. */
  patientIds: string[] | undefined;
  ids?: string[] | undefined;
  /** OR of tokens. */
  codes?: Token[] | undefined;
  /** OR of category codes. */
  categories?: string[] | undefined;
  /** AND of date ranges. */
  dates?: DateRange[] | undefined;
  /** OR of identifier tokens. */
  identifiers?: Token[] | undefined;
  /** Only rows stored at or after this time (ms): `fhir push --since`. */
  recordedSince?: number | undefined;
}

/** Not a part of a blood-pressure panel: a stand-alone row. */
function standalone(eb: EB): Cond {
  return eb.or([eb('panel', 'is', null), eb('panel', '!=', BP.panel)]);
}

/** The row that stands for a BP panel: the systolic, or a diastolic without one. */
function bpHead(eb: EB): Cond {
  return eb.and([
    eb('panel', '=', BP.panel),
    eb.or([
      eb('code', '=', BP.systolic),
      eb.and([
        eb('code', '=', BP.diastolic),
        eb.not(
          eb.exists(
            eb
              .selectFrom('observations_searchable as s')
              .select(sql.lit(1).as('one'))
              .whereRef('s.patient_id', '=', 'observations_searchable.patient_id')
              .where('s.code', '=', BP.systolic)
              .where('s.panel', '=', BP.panel)
              .whereRef('s.effective_at', '=', 'observations_searchable.effective_at'),
          ),
        ),
      ]),
    ]),
  ]);
}

function never(eb: EB): Cond {
  return eb(sql.lit(1), '=', sql.lit(0));
}

function codeCond(eb: EB, t: Token): Cond {
  const { system, code } = t;
  if (system === '') return never(eb); // `|code`: codes without a system; CareWire has none
  const isBpPanel =
    (code === BP.panel && (system === undefined || system === LOINC_SYSTEM)) ||
    (code === BP_PANEL_MDC && (system === undefined || system === MDC_SYSTEM));
  if (isBpPanel) return bpHead(eb);
  if (code === undefined) return eb.and([eb('code_system', '=', storedSystem(system!)), standalone(eb)]);
  if (system === undefined) {
    return eb.and([eb.or([eb('code', '=', code), eb('mdc_code', '=', code)]), standalone(eb)]);
  }
  if (system === MDC_SYSTEM) {
    return eb.and([
      eb.or([eb('mdc_code', '=', code), eb.and([eb('code_system', '=', MDC_SYSTEM), eb('code', '=', code)])]),
      standalone(eb),
    ]);
  }
  return eb.and([eb('code', '=', code), eb('code_system', '=', storedSystem(system)), standalone(eb)]);
}

function categoryCond(eb: EB, c: string): Cond {
  if (c === 'vital-signs') {
    // Rows without a category but with a vital-sign LOINC code are served as vital signs too.
    return eb.or([
      eb('category', '=', c),
      eb.and([
        eb('category', 'is', null),
        eb('code_system', '=', LOINC_SYSTEM),
        eb('code', 'in', VITAL_LOINC),
      ]),
    ]);
  }
  return eb('category', '=', c);
}

/** SQL for a point in time matching a FHIR date search (see dateMatches, its reference). */
function dateCond(eb: EB, r: DateRange): Cond {
  switch (r.prefix) {
    case 'eq':
      return eb.and([eb('effective_at', '>=', r.lo), eb('effective_at', '<', r.hi)]);
    case 'ne':
      return eb.or([eb('effective_at', '<', r.lo), eb('effective_at', '>=', r.hi)]);
    case 'gt':
    case 'sa':
      return eb('effective_at', '>=', r.hi);
    case 'lt':
    case 'eb':
      return eb('effective_at', '<', r.lo);
    case 'ge':
      return eb('effective_at', '>=', r.lo);
    case 'le':
      return eb('effective_at', '<', r.hi);
  }
}

function identifierCond(eb: EB, engine: Engine, t: Token): Cond {
  if (t.system === undefined || t.code === undefined) {
    throw new Error('identifier tokens are checked to have system and value by the caller');
  }
  const own =
    t.system === SID.observation
      ? [eb.and([eb('identifier', 'is', null), observationIdsCond(engine, [t.code])])]
      : [];
  return eb.or([eb('identifier', '=', `${t.system}|${t.code}`), ...own]);
}

function filtered(r: FhirReader, f: ObservationFilter) {
  // The view: on SQLite the merged search copy plus the unmerged tail (0010_observation_search).
  let q = r.db.selectFrom('observations_searchable');
  if (f.patientIds) {
    q =
      f.patientIds.length === 1
        ? q.where('patient_id', '=', f.patientIds[0]!)
        : q.where('patient_id', 'in', f.patientIds);
  }
  if (f.ids) q = q.where(observationIdsCond(r.engine, f.ids));
  const { codes, categories, dates, identifiers } = f;
  if (codes) q = q.where((eb) => eb.or(codes.map((t) => codeCond(eb, t))));
  else q = q.where((eb) => eb.or([standalone(eb), bpHead(eb)]));
  if (categories) q = q.where((eb) => eb.or(categories.map((c) => categoryCond(eb, c))));
  if (identifiers) q = q.where((eb) => eb.or(identifiers.map((t) => identifierCond(eb, r.engine, t))));
  for (const d of dates ?? []) q = q.where((eb) => dateCond(eb, d));
  if (f.recordedSince !== undefined) q = q.where('recorded_at', '>=', f.recordedSince);
  return q;
}

export interface ObservationPageQuery {
  filter: ObservationFilter;
  order: 'asc' | 'desc';
  /** Rows to return; one more is read to know whether a next page exists. */
  limit: number;
  after: [effectiveAt: number, seq: number] | undefined;
}

/** The columns a FHIR Observation is made of (not source/source_ref: fewer values to materialise). */
export const COLUMNS = [
  'seq',
  'id',
  'patient_id',
  'code',
  'code_system',
  'display',
  'mdc_code',
  'value_num',
  'value_text',
  'unit',
  'ref_range',
  'abnormal_flags',
  'status',
  'category',
  'panel',
  'effective_at',
  'recorded_at',
  'identifier',
] as const;

export async function searchObservations(
  r: FhirReader,
  q: ObservationPageQuery,
): Promise<{ rows: ObsRow[]; more: boolean }> {
  if (q.filter.patientIds?.length === 0 || q.limit === 0) return { rows: [], more: false };
  let sel = filtered(r, q.filter).select(COLUMNS);
  if (q.after) {
    const [a, b] = q.after;
    sel = sel.where((eb) =>
      eb(eb.refTuple('effective_at', 'seq'), q.order === 'desc' ? '<' : '>', eb.tuple(a, b)),
    );
  }
  const rows = (await r.all(
    sel
      .orderBy('effective_at', q.order)
      .orderBy('seq', q.order)
      .limit(q.limit + 1),
  )) as ObsRow[];
  const more = rows.length > q.limit;
  if (more) rows.pop();
  return { rows, more };
}

export async function countObservations(r: FhirReader, f: ObservationFilter): Promise<number> {
  if (f.patientIds?.length === 0) return 0;
  const row = await r.first(filtered(r, f).select((eb) => eb.fn.countAll<number>().as('n')));
  return Number(row?.n ?? 0);
}

/** The diastolic rows that complete the BP panels headed by `heads` (systolic rows). */
export async function bpCompanions(r: FhirReader, heads: readonly ObsRow[]): Promise<Map<string, ObsRow>> {
  const out = new Map<string, ObsRow>();
  const sys = heads.filter((h) => h.code === BP.systolic && h.panel === BP.panel);
  if (sys.length === 0) return out;
  const byPatient = new Map<string, number[]>();
  for (const h of sys)
    byPatient.set(h.patient_id, [...(byPatient.get(h.patient_id) ?? []), Number(h.effective_at)]);
  for (const [patientId, times] of byPatient) {
    const rows = (await r.all(
      r.db
        .selectFrom('observations_searchable')
        .select(COLUMNS)
        .where('patient_id', '=', patientId)
        .where('code', '=', BP.diastolic)
        .where('panel', '=', BP.panel)
        .where('effective_at', 'in', times)
        .orderBy('seq'),
    )) as ObsRow[];
    for (const row of rows) {
      const key = companionKey(row);
      if (!out.has(key)) out.set(key, row);
    }
  }
  return out;
}

export function companionKey(r: ObsRow): string {
  return `${r.patient_id}|${r.effective_at}`;
}

export async function observationById(r: FhirReader, id: string): Promise<ObsRow | undefined> {
  return (await r.first(r.db.selectFrom('observations').select(COLUMNS).where('id', '=', id))) as
    | ObsRow
    | undefined;
}

/** For a diastolic panel row: the systolic head it belongs to, if any. */
export async function bpHeadOf(r: FhirReader, row: ObsRow): Promise<ObsRow | undefined> {
  return (await r.first(
    r.db
      .selectFrom('observations_searchable')
      .select(COLUMNS)
      .where('patient_id', '=', row.patient_id)
      .where('code', '=', BP.systolic)
      .where('panel', '=', BP.panel)
      .where('effective_at', '=', row.effective_at)
      .orderBy('seq'),
  )) as ObsRow | undefined;
}
