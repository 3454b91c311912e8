/** FHIR Flag (alarms): read and search by patient and status, newest first, keyset-paged. */
import type { Bundle, Flag } from '@medplum/fhirtypes';
import { sql } from 'kysely';
import type { Actor } from '../auth/policy.ts';
import { notFound } from '../errors.ts';
import type { Services } from '../services.ts';
import { combine, decidePage, FHIR_SOURCE, searchScope } from './access.ts';
import { searchset } from './bundle-builder.ts';
import { ALARM_STATES_FOR, toFhirFlag } from './flag-map.ts';
import { invalid } from './outcome.ts';
import {
  decodeCursor,
  encodeCursor,
  isFhirId,
  type ParamSpec,
  parsePaging,
  parseQuery,
  parseReference,
  parseToken,
} from './search-params.ts';

export const FLAG_SEARCH: Readonly<Record<string, ParamSpec>> = {
  _id: { multi: true },
  patient: { multi: true },
  subject: { multi: true, modifiers: ['Patient'] },
  status: { multi: true },
};

const FLAG_STATUS_SYSTEM = 'http://hl7.org/fhir/flag-status';

export class FlagApi {
  readonly #s: Services;
  constructor(s: Services) {
    this.#s = s;
  }

  async read(actor: Actor, id: string): Promise<Flag> {
    const { gate, store } = this.#s;
    const row = isFhirId(id)
      ? await store.db.selectFrom('alarms').selectAll().where('id', '=', id).executeTakeFirst()
      : undefined;
    if (!row) throw notFound(`Flag/${id} not found`);
    const decision = await gate.check(
      actor,
      'clinical:read',
      { type: 'patient', patientId: row.patient_id },
      FHIR_SOURCE,
    );
    await gate.record(actor, 'clinical:read', decision, FHIR_SOURCE, {
      type: 'alarm.read',
      patientId: row.patient_id,
      entity: { type: 'Flag', id },
    });
    return toFhirFlag(row);
  }

  async search(actor: Actor, rawQuery: string, base: string): Promise<Bundle> {
    const { gate, store } = this.#s;
    const q = parseQuery(rawQuery, FLAG_SEARCH);
    const paging = parsePaging(q);
    const ids = q.get('_id')?.[0]?.values;
    if (ids?.some((i) => !isFhirId(i))) throw invalid('_id: FHIR ids only');
    const p = q.get('patient')?.[0]?.values.map((v) => parseReference(v, 'Patient'));
    const s = q.get('subject')?.[0]?.values.map((v) => parseReference(v, 'Patient'));
    const explicit = p && s ? p.filter((x) => s.includes(x)) : (p ?? s);
    const states = q.get('status')?.[0]?.values.flatMap((v) => {
      const t = parseToken(v);
      if (t.system !== undefined && t.system !== FLAG_STATUS_SYSTEM)
        throw invalid(`status system must be ${FLAG_STATUS_SYSTEM}`);
      const st = t.code ? ALARM_STATES_FOR[t.code] : undefined;
      if (!st) throw invalid('status: active, inactive or entered-in-error');
      return st;
    });
    let after: [number, string] | undefined;
    if (paging.cursor) {
      const [a, b] = decodeCursor(paging.cursor, ['number', 'string']);
      after = [a as number, b as string];
    }
    const {
      scope,
      decisions,
      base: baseDecision,
    } = await searchScope(gate, actor, 'clinical:read', explicit ? [...new Set(explicit)] : undefined);
    let sel = store.db.selectFrom('alarms');
    if (scope.kind === 'some')
      sel = scope.ids.length
        ? sel.where('patient_id', 'in', scope.ids)
        : sel.where(sql.lit(1), '=', sql.lit(0));
    if (ids) sel = sel.where('id', 'in', ids);
    if (states)
      sel = states.length ? sel.where('state', 'in', states) : sel.where(sql.lit(1), '=', sql.lit(0));
    const total = paging.total
      ? Number((await sel.select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirstOrThrow()).n)
      : undefined;
    let page = sel.selectAll();
    if (after) {
      const [a, b] = after;
      page = page.where((eb) => eb(eb.refTuple('raised_at', 'id'), '<', eb.tuple(a, b)));
    }
    const rows =
      paging.count === 0
        ? []
        : await page
            .orderBy('raised_at', 'desc')
            .orderBy('id', 'desc')
            .limit(paging.count + 1)
            .execute();
    const more = rows.length > paging.count;
    if (more) rows.pop();
    const patientIds = [...new Set(rows.map((r) => r.patient_id))];
    const pageDecisions = await decidePage(gate, actor, 'clinical:read', patientIds, decisions);
    await gate.record(actor, 'clinical:read', combine(baseDecision, pageDecisions), FHIR_SOURCE, {
      type: 'alarm.search',
      patientId: patientIds.length === 1 ? patientIds[0] : undefined,
      detail: { patientIds, count: rows.length, query: rawQuery.slice(0, 500) },
    });
    const last = rows.at(-1);
    return searchset(
      base,
      'Flag',
      rawQuery,
      {
        resources: rows.map(toFhirFlag),
        next: more && last ? encodeCursor([Number(last.raised_at), last.id]) : undefined,
        total,
      },
      paging.count,
    );
  }
}
