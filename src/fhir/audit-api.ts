/**
 * FHIR AuditEvent for auditors: read by sequence number and search by patient, agent (user id, as
 * `altid`) and type, oldest first, paged by sequence number. Built only on AuditLog.query, so it
 * stays correct whatever the log's storage becomes. Reading the audit log is itself audited.
 */
import type { Bundle, AuditEvent as FhirAuditEvent } from '@medplum/fhirtypes';
import type { Actor } from '../auth/policy.ts';
import { notFound } from '../errors.ts';
import type { Services } from '../services.ts';
import { FHIR_SOURCE } from './access.ts';
import { toFhirAuditEvent } from './audit-event-map.ts';
import { searchset } from './bundle-builder.ts';
import { CW } from './constants.ts';
import { invalid } from './outcome.ts';
import {
  decodeCursor,
  encodeCursor,
  type ParamSpec,
  parsePaging,
  parseQuery,
  parseReference,
  parseToken,
} from './search-params.ts';

export const AUDIT_SEARCH: Readonly<Record<string, ParamSpec>> = {
  patient: {},
  altid: {},
  type: {},
};

export class AuditEventApi {
  readonly #s: Services;
  constructor(s: Services) {
    this.#s = s;
  }

  async read(actor: Actor, id: string): Promise<FhirAuditEvent> {
    const { gate, audit } = this.#s;
    const decision = await gate.check(actor, 'audit:read', { type: 'system' }, FHIR_SOURCE);
    // Audit entries are numbered from 0 (the Merkle leaf index).
    if (!/^(0|[1-9]\d{0,15})$/.test(id)) throw notFound(`AuditEvent/${id} not found`);
    const seq = Number(id);
    const [r] = await audit.query({ afterSeq: seq - 1, limit: 1 });
    if (!r || r.seq !== seq) throw notFound(`AuditEvent/${id} not found`);
    await gate.record(actor, 'audit:read', decision, FHIR_SOURCE, {
      type: 'audit.read',
      entity: { type: 'AuditEvent', id },
    });
    return toFhirAuditEvent(r);
  }

  async search(actor: Actor, rawQuery: string, base: string): Promise<Bundle> {
    const { gate, audit } = this.#s;
    const q = parseQuery(rawQuery, AUDIT_SEARCH);
    const paging = parsePaging(q, { total: false });
    // AuditLog.query returns at most 1000 entries and one more is read to see whether a next page exists.
    const count = Math.min(paging.count, 999);
    const decision = await gate.check(actor, 'audit:read', { type: 'system' }, FHIR_SOURCE);
    const patient = q.get('patient')?.[0]?.values[0];
    const altid = q.get('altid')?.[0]?.values[0];
    const typeRaw = q.get('type')?.[0]?.values[0];
    let type: string | undefined;
    if (typeRaw !== undefined) {
      const t = parseToken(typeRaw);
      if (t.system !== undefined && t.system !== CW.auditEventType)
        throw invalid(`type system must be ${CW.auditEventType}`);
      type = t.code;
    }
    const afterSeq = paging.cursor ? (decodeCursor(paging.cursor, ['number'])[0] as number) : undefined;
    const records =
      count === 0
        ? []
        : await audit.query({
            ...(patient ? { patientId: parseReference(patient, 'Patient') } : {}),
            ...(altid ? { userId: parseToken(altid).code ?? altid } : {}),
            ...(type ? { type } : {}),
            ...(afterSeq !== undefined ? { afterSeq } : {}),
            limit: count + 1,
          });
    const more = records.length > count;
    if (more) records.pop();
    await gate.record(actor, 'audit:read', decision, FHIR_SOURCE, {
      type: 'audit.search',
      detail: { count: records.length, query: rawQuery.slice(0, 500) },
    });
    const last = records.at(-1);
    return searchset(
      base,
      'AuditEvent',
      rawQuery,
      {
        resources: records.map(toFhirAuditEvent),
        next: more && last ? encodeCursor([last.seq]) : undefined,
        total: undefined,
      },
      count,
    );
  }
}
