/** FHIR Patient: read, search, create (conditional on the MRN), update (If-Match). */
import type { Bundle, Patient as FhirPatient } from '@medplum/fhirtypes';
import { type Expression, type ExpressionBuilder, type SqlBool, sql } from 'kysely';
import type { Actor } from '../auth/policy.ts';
import { notFound } from '../errors.ts';
import type { Services } from '../services.ts';
import type { Database, PatientsTable } from '../store/schema.ts';
import { combine, decidePage, FHIR_SOURCE, searchScope } from './access.ts';
import { searchset } from './bundle-builder.ts';
import { SID } from './constants.ts';
import { invalid } from './outcome.ts';
import { toFhirPatient } from './patient-map.ts';
import type { FhirReader } from './reader.ts';
import {
  type DateRange,
  decodeCursor,
  encodeCursor,
  isFhirId,
  type ParamSpec,
  parseDate,
  parsePaging,
  parseQuery,
  parseToken,
  type Token,
} from './search-params.ts';

export const PATIENT_SEARCH: Readonly<Record<string, ParamSpec>> = {
  _id: { multi: true },
  identifier: { multi: true },
  name: { multi: true, repeat: true, modifiers: ['exact', 'contains'] },
  birthdate: { repeat: true },
  gender: { multi: true },
};

const GENDER_SYSTEM = 'http://hl7.org/fhir/administrative-gender';

type EB = ExpressionBuilder<Database, 'patients'>;
type Cond = Expression<SqlBool>;

function likeEscape(s: string): string {
  return s.replace(/[\\%_]/g, (c) => `\\${c}`);
}

function nameCond(eb: EB, modifier: string | undefined, value: string): Cond {
  if (value.length > 100) throw invalid('name: at most 100 characters');
  if (modifier === 'exact') {
    return eb.or([eb('given_name', '=', value), eb('family_name', '=', value)]);
  }
  const v = likeEscape(value.toLowerCase());
  const pattern = modifier === 'contains' ? `%${v}%` : `${v}%`;
  // FHIR string search: case-insensitive, on any part of the name (given names, family, the whole).
  const word = modifier === 'contains' ? pattern : `% ${v}%`;
  return eb.or([
    sql<SqlBool>`lower(family_name) like ${pattern} escape '\\'`,
    sql<SqlBool>`lower(given_name) like ${pattern} escape '\\'`,
    sql<SqlBool>`lower(given_name) like ${word} escape '\\'`,
  ]);
}

function identifierCond(eb: EB, t: Token): Cond {
  if (t.code === undefined) throw invalid('identifier needs a value');
  if (t.system !== undefined && t.system !== SID.mrn) return eb(sql.lit(1), '=', sql.lit(0));
  return eb('mrn', '=', t.code);
}

function day(ms: number): string {
  return new Date(ms).toISOString().slice(0, 10);
}

/** Birth dates are days; a day matches as a range against the search range (FHIR date rules). */
function birthdateCond(eb: EB, r: DateRange): Cond {
  if (!r.dateOnly) throw invalid('birthdate: give a date (YYYY, YYYY-MM or YYYY-MM-DD), not a time');
  const lo = day(r.lo);
  const hi = day(r.hi);
  switch (r.prefix) {
    case 'eq':
      return eb.and([eb('birth_date', '>=', lo), eb('birth_date', '<', hi)]);
    case 'ne':
      return eb.or([eb('birth_date', '<', lo), eb('birth_date', '>=', hi)]);
    case 'gt':
    case 'sa':
      return eb('birth_date', '>=', hi);
    case 'lt':
    case 'eb':
      return eb('birth_date', '<', lo);
    case 'ge':
      return eb('birth_date', '>=', lo);
    case 'le':
      return eb('birth_date', '<', hi);
  }
}

export class PatientApi {
  readonly #s: Services;
  readonly #r: FhirReader;
  readonly #byId;
  constructor(s: Services, reader: FhirReader) {
    this.#s = s;
    this.#r = reader;
    this.#byId = reader.db.selectFrom('patients').selectAll().where('id', '=', '').compile();
  }

  async read(actor: Actor, id: string): Promise<FhirPatient> {
    const { gate } = this.#s;
    if (!isFhirId(id)) throw notFound(`Patient/${id} not found`);
    const decision = await gate.check(actor, 'patient:read', { type: 'patient', patientId: id }, FHIR_SOURCE);
    const [row] = await this.#r.run(this.#byId, [id]);
    if (!row) throw notFound(`Patient/${id} not found`);
    await gate.record(actor, 'patient:read', decision, FHIR_SOURCE, {
      type: 'patient.read',
      patientId: id,
      entity: { type: 'Patient', id },
    });
    return toFhirPatient(row);
  }

  async search(actor: Actor, rawQuery: string, base: string): Promise<Bundle> {
    const { gate } = this.#s;
    const q = parseQuery(rawQuery, PATIENT_SEARCH);
    const paging = parsePaging(q);
    const ids = q.get('_id')?.[0]?.values;
    if (ids?.some((i) => !isFhirId(i))) throw invalid('_id: FHIR ids only');
    const identifiers = q.get('identifier')?.[0]?.values.map(parseToken);
    const genders = q.get('gender')?.[0]?.values.map((v) => {
      const t = parseToken(v);
      if (t.system !== undefined && t.system !== GENDER_SYSTEM)
        throw invalid(`gender system must be ${GENDER_SYSTEM}`);
      if (!t.code) throw invalid('gender needs a code');
      return t.code;
    });
    const names = q.get('name') ?? [];
    const births = (q.get('birthdate') ?? []).map((p) => parseDate(p.values[0]!));
    const after = paging.cursor ? String(decodeCursor(paging.cursor, ['string'])[0]) : undefined;

    const {
      scope,
      decisions,
      base: baseDecision,
    } = await searchScope(gate, actor, 'patient:read', undefined);
    let sel = this.#r.db.selectFrom('patients');
    if (scope.kind === 'some') {
      if (scope.ids.length === 0) sel = sel.where(sql.lit(1), '=', sql.lit(0));
      else sel = sel.where('id', 'in', scope.ids);
    }
    if (ids) sel = sel.where('id', 'in', ids);
    if (identifiers) sel = sel.where((eb) => eb.or(identifiers.map((t) => identifierCond(eb, t))));
    if (genders) sel = sel.where('sex', 'in', genders);
    for (const n of names) sel = sel.where((eb) => eb.or(n.values.map((v) => nameCond(eb, n.modifier, v))));
    for (const b of births) sel = sel.where((eb) => birthdateCond(eb, b));
    const total = paging.total
      ? Number((await this.#r.first(sel.select((eb) => eb.fn.countAll<number>().as('n'))))?.n ?? 0)
      : undefined;
    let page = sel.selectAll();
    if (after !== undefined) page = page.where('id', '>', after);
    const rows: PatientsTable[] =
      paging.count === 0 ? [] : await this.#r.all(page.orderBy('id').limit(paging.count + 1));
    const more = rows.length > paging.count;
    if (more) rows.pop();
    const pageDecisions = await decidePage(
      gate,
      actor,
      'patient:read',
      rows.map((r) => r.id),
      decisions,
    );
    await gate.record(actor, 'patient:read', combine(baseDecision, pageDecisions), FHIR_SOURCE, {
      type: 'patient.search',
      patientId: rows.length === 1 ? rows[0]!.id : undefined,
      detail: { patientIds: rows.map((r) => r.id), count: rows.length, query: rawQuery.slice(0, 500) },
    });
    return searchset(
      base,
      'Patient',
      rawQuery,
      { resources: rows.map(toFhirPatient), next: more ? encodeCursor([rows.at(-1)!.id]) : undefined, total },
      paging.count,
    );
  }
}
