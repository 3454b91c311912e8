/** FHIR Observation: read and search (policy-filtered, keyset-paged, audited once per request). */
import type { Observation as FhirObservation } from '@medplum/fhirtypes';
import type { Actor } from '../auth/policy.ts';
import { notFound } from '../errors.ts';
import type { Services } from '../services.ts';
import { combine, decidePage, FHIR_SOURCE, searchScope } from './access.ts';
import { entryPrefix, searchsetHead, withEntries } from './bundle-builder.ts';
import { HL7 } from './constants.ts';
import { isBpPart, type ObsRow, toFhirObservation } from './observation-map.ts';
import { observationPage } from './observation-page.ts';
import {
  bpCompanions,
  bpHeadOf,
  companionKey,
  countObservations,
  type ObservationFilter,
  observationById,
} from './observation-store.ts';
import { invalid } from './outcome.ts';
import type { FhirReader } from './reader.ts';
import {
  decodeCursor,
  encodeCursor,
  isFhirId,
  type ParamSpec,
  type ParsedQuery,
  parseDate,
  parsePaging,
  parseQuery,
  parseReference,
  parseToken,
} from './search-params.ts';

export const OBSERVATION_SEARCH: Readonly<Record<string, ParamSpec>> = {
  _id: { multi: true },
  patient: { multi: true },
  subject: { multi: true, modifiers: ['Patient'] },
  code: { multi: true },
  category: { multi: true },
  date: { repeat: true },
  identifier: { multi: true },
  _sort: {},
};

/** Patients named by `patient` and `subject` (both given: both must hold, so the intersection). */
function explicitPatients(q: ParsedQuery): string[] | undefined {
  const p = q.get('patient')?.[0]?.values.map((v) => parseReference(v, 'Patient'));
  const s = q.get('subject')?.[0]?.values.map((v) => parseReference(v, 'Patient'));
  if (p && s) return p.filter((x) => s.includes(x));
  const ids = p ?? s;
  return ids ? [...new Set(ids)] : undefined;
}

export function parseObservationFilter(q: ParsedQuery): Omit<ObservationFilter, 'patientIds'> {
  const ids = q.get('_id')?.[0]?.values;
  if (ids?.some((i) => !isFhirId(i))) throw invalid('_id: FHIR ids only');
  const categories = q.get('category')?.[0]?.values.map((v) => {
    const t = parseToken(v);
    if (t.system !== undefined && t.system !== HL7.observationCategory) {
      throw invalid(`category system must be ${HL7.observationCategory}`);
    }
    if (!t.code) throw invalid('category needs a code, e.g. vital-signs');
    return t.code;
  });
  const identifiers = q.get('identifier')?.[0]?.values.map((v) => {
    const t = parseToken(v);
    if (!t.system || !t.code) throw invalid('identifier needs system|value');
    return t;
  });
  return {
    ids,
    codes: q.get('code')?.[0]?.values.map(parseToken),
    categories,
    dates: (q.get('date') ?? []).map((p) => parseDate(p.values[0]!)),
    identifiers,
  };
}

export class ObservationApi {
  readonly #s: Services;
  readonly #r: FhirReader;
  constructor(s: Services, reader: FhirReader) {
    this.#s = s;
    this.#r = reader;
  }

  async read(actor: Actor, id: string): Promise<FhirObservation> {
    const { gate } = this.#s;
    const row = isFhirId(id) ? await observationById(this.#r, id) : undefined;
    if (!row) throw notFound(`Observation/${id} not found`);
    const decision = await gate.check(
      actor,
      'clinical:read',
      { type: 'patient', patientId: row.patient_id },
      FHIR_SOURCE,
    );
    let companion: ObsRow | undefined;
    if (isBpPart(row)) {
      if (row.code === '8462-4') {
        const head = await bpHeadOf(this.#r, row);
        if (head) throw notFound(`Observation/${id} is the diastolic component of Observation/${head.id}`);
      } else {
        companion = (await bpCompanions(this.#r, [row])).get(companionKey(row));
      }
    }
    await gate.record(actor, 'clinical:read', decision, FHIR_SOURCE, {
      type: 'observation.read',
      patientId: row.patient_id,
      entity: { type: 'Observation', id },
    });
    return toFhirObservation(row, companion);
  }

  /** A searchset Bundle as JSON text (the hot path serialises rows directly, see observation-page.ts). */
  async search(actor: Actor, rawQuery: string, base: string): Promise<string> {
    const { gate } = this.#s;
    const q = parseQuery(rawQuery, OBSERVATION_SEARCH);
    const paging = parsePaging(q);
    const sort = q.get('_sort')?.[0]?.values[0] ?? '-date';
    if (sort !== 'date' && sort !== '-date') throw invalid('_sort: date or -date');
    const order = sort === 'date' ? 'asc' : 'desc';
    let after: [number, number] | undefined;
    if (paging.cursor) {
      const [dir, a, b] = decodeCursor(paging.cursor, ['string', 'number', 'number']);
      if (dir !== order) throw invalid('_cursor belongs to a search with another _sort');
      after = [a as number, b as number];
    }
    const rest = parseObservationFilter(q);
    const {
      scope,
      decisions,
      base: baseDecision,
    } = await searchScope(gate, actor, 'clinical:read', explicitPatients(q));
    const filter: ObservationFilter = { ...rest, patientIds: scope.kind === 'all' ? undefined : scope.ids };
    const req = {
      filter,
      order,
      limit: paging.count,
      after,
      entryPrefix: entryPrefix(base, 'Observation'),
    } as const;
    const page = await observationPage(this.#r, req);
    const { patientIds } = page;
    const pageDecisions = await decidePage(gate, actor, 'clinical:read', patientIds, decisions);
    const total = paging.total ? await countObservations(this.#r, filter) : undefined;
    await gate.record(actor, 'clinical:read', combine(baseDecision, pageDecisions), FHIR_SOURCE, {
      type: 'observation.search',
      patientId:
        patientIds.length === 1
          ? patientIds[0]
          : filter.patientIds?.length === 1
            ? filter.patientIds[0]
            : undefined,
      detail: { patientIds, count: page.count, query: rawQuery.slice(0, 500) },
    });
    const next = page.more && page.last ? encodeCursor([order, ...page.last]) : undefined;
    return withEntries(searchsetHead(base, 'Observation', rawQuery, next, total, paging.count), page.entries);
  }
}
