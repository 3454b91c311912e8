/** Create/update endpoints and `POST /fhir/R4` transaction and batch Bundles. */
import type { Bundle, BundleEntry, Resource } from '@medplum/fhirtypes';
import type { Actor } from '../auth/policy.ts';
import { AppError } from '../errors.ts';
import type { Services } from '../services.ts';
import { MAX_BUNDLE_ENTRIES } from './constants.ts';
import { fromFhirObservation, toFhirObservation } from './observation-map.ts';
import { invalid, notSupported, operationOutcome, unprocessable } from './outcome.ts';
import { fromFhirPatient, toFhirPatient } from './patient-map.ts';
import { isFhirId } from './search-params.ts';
import {
  auditWrites,
  authorise,
  parseIfMatch,
  parseIfNoneExist,
  runTransaction,
  type WriteOp,
  type WriteResult,
} from './write.ts';

export interface FhirResponse {
  status: number;
  headers: Record<string, string>;
  body: Resource | undefined;
}

const STATUS_TEXT: Readonly<Record<number, string>> = {
  200: '200 OK',
  201: '201 Created',
  400: '400 Bad Request',
  401: '401 Unauthorized',
  403: '403 Forbidden',
  404: '404 Not Found',
  409: '409 Conflict',
  412: '412 Precondition Failed',
  422: '422 Unprocessable Entity',
  500: '500 Internal Server Error',
};

function location(r: WriteResult): string {
  return r.version === undefined
    ? `${r.resourceType}/${r.id}`
    : `${r.resourceType}/${r.id}/_history/${r.version}`;
}

function headersOf(base: string, r: WriteResult): Record<string, string> {
  const h: Record<string, string> = { location: `${base}/${location(r)}` };
  if (r.version !== undefined) h.etag = `W/"${r.version}"`;
  if (r.patient) h['last-modified'] = new Date(Number(r.patient.updated_at)).toUTCString();
  return h;
}

/** Parses one Bundle entry into a write operation (only the interactions CareWire supports). */
export function opFromEntry(entry: BundleEntry | undefined): WriteOp {
  const req = entry?.request;
  if (!req || typeof req.method !== 'string' || typeof req.url !== 'string') {
    throw invalid('each entry needs request.method and request.url');
  }
  const url = req.url.replace(/^\//, '');
  if (req.method === 'POST' && url === 'Patient') {
    return {
      kind: 'create-patient',
      fields: fromFhirPatient(entry.resource),
      ifNoneExist: parseIfNoneExist(req.ifNoneExist),
      fullUrl: entry.fullUrl,
    };
  }
  if (req.method === 'PUT' && /^Patient\/[^/?]+$/.test(url)) {
    const id = url.slice('Patient/'.length);
    if (!isFhirId(id)) throw invalid(`${url}: not a Patient id`);
    if ((entry.resource as { id?: string } | undefined)?.id !== id)
      throw invalid(`${url}: the resource id must be ${id}`);
    return {
      kind: 'update-patient',
      id,
      fields: fromFhirPatient(entry.resource),
      ifMatch: parseIfMatch(req.ifMatch),
    };
  }
  if (req.method === 'POST' && url === 'Observation') {
    return {
      kind: 'create-observation',
      obs: fromFhirObservation(entry.resource),
      ifNoneExist: parseIfNoneExist(req.ifNoneExist),
    };
  }
  throw notSupported(
    `${req.method} ${req.url} is not supported in a Bundle (POST Patient, PUT Patient/id, POST Observation)`,
  );
}

export class WriteApi {
  readonly #s: Services;
  constructor(s: Services) {
    this.#s = s;
  }

  async #run(actor: Actor, ops: WriteOp[], interaction: string): Promise<WriteResult[]> {
    const { gate, store } = this.#s;
    const auth = await authorise(gate, actor, ops);
    const results = await runTransaction(store.db, ops, actor.username);
    await auditWrites(gate, actor, auth, results, interaction);
    return results;
  }

  async createPatient(
    actor: Actor,
    body: unknown,
    ifNoneExist: string | undefined,
    base: string,
  ): Promise<FhirResponse> {
    const op: WriteOp = {
      kind: 'create-patient',
      fields: fromFhirPatient(body),
      ifNoneExist: parseIfNoneExist(ifNoneExist),
    };
    const [r] = await this.#run(actor, [op], 'create');
    return { status: r!.status, headers: headersOf(base, r!), body: toFhirPatient(r!.patient!) };
  }

  async updatePatient(
    actor: Actor,
    id: string,
    body: unknown,
    ifMatch: string | undefined,
    base: string,
  ): Promise<FhirResponse> {
    if ((body as { id?: unknown } | undefined)?.id !== id)
      throw invalid(`the resource id must be ${id} (the id in the URL)`);
    const op: WriteOp = {
      kind: 'update-patient',
      id,
      fields: fromFhirPatient(body),
      ifMatch: parseIfMatch(ifMatch),
    };
    const [r] = await this.#run(actor, [op], 'update');
    return { status: 200, headers: headersOf(base, r!), body: toFhirPatient(r!.patient!) };
  }

  async createObservation(
    actor: Actor,
    body: unknown,
    ifNoneExist: string | undefined,
    base: string,
  ): Promise<FhirResponse> {
    const op: WriteOp = {
      kind: 'create-observation',
      obs: fromFhirObservation(body),
      ifNoneExist: parseIfNoneExist(ifNoneExist),
    };
    const [r] = await this.#run(actor, [op], 'create');
    const rows = r!.observationRows;
    // A conditional create that matched answers with the location only: the caller may hold
    // clinical:import (write-only) and must not read the stored values through it.
    const resource = rows
      ? toFhirObservation(
          { seq: 0, ...rows[0]!, identifier: rows[0]!.identifier ?? null } as Parameters<
            typeof toFhirObservation
          >[0],
          rows[1]
            ? ({ seq: 0, ...rows[1], identifier: null } as Parameters<typeof toFhirObservation>[0])
            : undefined,
        )
      : undefined;
    return { status: r!.status, headers: headersOf(base, r!), body: resource };
  }

  /** `POST /fhir/R4` with a transaction (atomic) or batch (each entry alone) Bundle. */
  async bundle(actor: Actor, body: unknown): Promise<Bundle> {
    const b = body as Bundle;
    if (!b || typeof b !== 'object' || b.resourceType !== 'Bundle')
      throw unprocessable('the body must be a Bundle');
    if (b.type !== 'transaction' && b.type !== 'batch')
      throw unprocessable('Bundle.type must be transaction or batch');
    const entries = Array.isArray(b.entry) ? b.entry : [];
    if (entries.length > MAX_BUNDLE_ENTRIES) {
      throw new AppError(413, 'too-long', `a Bundle may hold at most ${MAX_BUNDLE_ENTRIES} entries`);
    }
    const responseEntry = (r: WriteResult): BundleEntry => {
      const resp: NonNullable<BundleEntry['response']> = {
        status: STATUS_TEXT[r.status]!,
        location: location(r),
      };
      if (r.version !== undefined) resp.etag = `W/"${r.version}"`;
      return { response: resp };
    };
    if (b.type === 'transaction') {
      const ops = entries.map((e, i) => {
        try {
          return opFromEntry(e);
        } catch (err) {
          if (err instanceof AppError) throw new AppError(err.status, err.code, `entry ${i}: ${err.message}`);
          throw err;
        }
      });
      const results = await this.#run(actor, ops, 'transaction');
      return { resourceType: 'Bundle', type: 'transaction-response', entry: results.map(responseEntry) };
    }
    const out: BundleEntry[] = [];
    for (const e of entries) {
      try {
        const [r] = await this.#run(actor, [opFromEntry(e)], 'batch');
        out.push(responseEntry(r!));
      } catch (err) {
        if (!(err instanceof AppError)) throw err;
        out.push({
          response: {
            status: STATUS_TEXT[err.status] ?? String(err.status),
            outcome: operationOutcome(err.status, err.code, err.message),
          },
        });
      }
    }
    return { resourceType: 'Bundle', type: 'batch-response', entry: out };
  }
}
