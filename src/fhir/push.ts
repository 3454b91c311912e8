/**
 * `carewire fhir push`: sends patients and their observations from the local store to a FHIR
 * server as transaction Bundles of at most `chunk` entries. Every entry is a conditional create
 * (Patient on the MRN, Observation on its stable identifier: the one it arrived with, else
 * CareWire's own id), so a rerun, or a retry after a lost answer, creates nothing twice.
 * Observations point at their patient through the patient entry's `urn:uuid:` fullUrl, which the
 * server resolves to the created or matched Patient; a Bundle that continues a patient's
 * observations repeats that patient's (conditional) entry.
 */
import type { Bundle, BundleEntry, Observation, Patient } from '@medplum/fhirtypes';
import type { PatientsTable } from '../store/schema.ts';
import { type FhirClient, FhirHttpError, outcomeText } from './client.ts';
import { SID } from './constants.ts';
import { toFhirObservation } from './observation-map.ts';
import { bpCompanions, companionKey, searchObservations } from './observation-store.ts';
import { toFhirPatient } from './patient-map.ts';
import type { FhirReader } from './reader.ts';

export interface PushOptions {
  client: FhirClient;
  /** One patient (CareWire id or MRN), or every patient. */
  patient?: string | undefined;
  all?: boolean | undefined;
  /** Only observations stored at or after this time (ms). */
  since?: number | undefined;
  /** Entries per Bundle (default 500). */
  chunk?: number | undefined;
  onProgress?: ((p: PushProgress) => void) | undefined;
}

export interface PushProgress {
  rowsDone: number;
  rowsTotal: number;
  bundles: number;
}

export interface PushReport {
  bundles: number;
  patients: { created: number; existing: number };
  observations: { created: number; existing: number };
  /** Bundles the server refused, with its OperationOutcome in words. */
  errors: Array<{ bundle: number; status: number; message: string }>;
  /** Patient ids that were pushed (for the audit entry). */
  patientIds: string[];
}

const PAGE = 1000;

function conditional(system: string, value: string): string {
  return `identifier=${encodeURIComponent(`${system}|${value}`)}`;
}

/** The Patient as another server should receive it: no server-managed id or meta. */
export function pushPatientEntry(row: PatientsTable): BundleEntry {
  const { id: _id, meta: _meta, ...resource } = toFhirPatient(row);
  return {
    fullUrl: `urn:uuid:${row.id}`,
    resource: resource as Patient,
    request: { method: 'POST', url: 'Patient', ifNoneExist: conditional(SID.mrn, row.mrn) },
  };
}

export function pushObservationEntry(o: Observation): BundleEntry {
  const { id: _id, meta, ...rest } = o;
  const resource: Observation = {
    ...rest,
    subject: { reference: `urn:uuid:${o.subject!.reference!.slice('Patient/'.length)}` },
  };
  // Profiles are claims about content, which travels unchanged; lastUpdated belongs to the server.
  if (meta?.profile) resource.meta = { profile: meta.profile };
  const idn = o.identifier![0]!;
  return {
    resource,
    request: { method: 'POST', url: 'Observation', ifNoneExist: conditional(idn.system!, idn.value!) },
  };
}

async function selectPatients(r: FhirReader, o: PushOptions): Promise<PatientsTable[]> {
  const db = r.db;
  if (o.all) return db.selectFrom('patients').selectAll().orderBy('id').execute();
  if (!o.patient) throw new Error('give --patient ID or --all');
  const rows = await db
    .selectFrom('patients')
    .selectAll()
    .where((eb) => eb.or([eb('id', '=', o.patient!), eb('mrn', '=', o.patient!)]))
    .execute();
  if (rows.length === 0) throw new Error(`no patient with id or MRN ${o.patient}`);
  return rows;
}

export async function pushToFhir(r: FhirReader, o: PushOptions): Promise<PushReport> {
  const chunk = Math.max(2, Math.min(o.chunk ?? 500, 1000));
  const patients = await selectPatients(r, o);
  const db = r.db;
  let count = db.selectFrom('observations_searchable').select((eb) => eb.fn.countAll<number>().as('n'));
  if (!o.all)
    count = count.where(
      'patient_id',
      'in',
      patients.map((p) => p.id),
    );
  if (o.since !== undefined) count = count.where('recorded_at', '>=', o.since);
  const rowsTotal = patients.length + Number((await count.executeTakeFirstOrThrow()).n);
  const report: PushReport = {
    bundles: 0,
    patients: { created: 0, existing: 0 },
    observations: { created: 0, existing: 0 },
    errors: [],
    patientIds: [],
  };
  let rowsDone = 0;
  let entries: BundleEntry[] = [];
  /** Index of an entry that repeats its patient to continue that patient's observations. */
  let repeated = -1;
  let pendingRows = 0;

  const send = async () => {
    if (entries.length === 0) return;
    const bundle: Bundle = { resourceType: 'Bundle', type: 'transaction', entry: entries };
    report.bundles++;
    try {
      const res = await o.client.bundle(bundle);
      for (const [i, e] of (res.entry ?? []).entries()) {
        if (i === repeated) continue; // that patient was counted in the bundle that began it
        const created = e.response?.status?.startsWith('201') ?? false;
        const kind = e.response?.location?.startsWith('Patient') ? report.patients : report.observations;
        if (created) kind.created++;
        else kind.existing++;
      }
    } catch (err) {
      if (!(err instanceof FhirHttpError) || err.status === 0) throw err;
      report.errors.push({
        bundle: report.bundles,
        status: err.status,
        message: outcomeText(err.outcome) || err.message,
      });
    }
    rowsDone += pendingRows;
    pendingRows = 0;
    entries = [];
    repeated = -1;
    o.onProgress?.({ rowsDone, rowsTotal, bundles: report.bundles });
  };

  for (const p of patients) {
    report.patientIds.push(p.id);
    const patientEntry = pushPatientEntry(p);
    if (entries.length + 1 >= chunk) await send();
    entries.push(patientEntry);
    pendingRows++;
    let after: [number, number] | undefined;
    for (;;) {
      const { rows, more } = await searchObservations(r, {
        filter: { patientIds: [p.id], recordedSince: o.since },
        order: 'asc',
        limit: PAGE,
        after,
      });
      const companions = await bpCompanions(r, rows);
      for (const r of rows) {
        if (entries.length >= chunk) {
          await send();
          repeated = entries.length;
          entries.push(patientEntry);
        }
        const comp = companions.get(companionKey(r));
        entries.push(pushObservationEntry(toFhirObservation(r, comp)));
        pendingRows += comp ? 2 : 1;
      }
      const last = rows.at(-1);
      if (!more || !last) break;
      after = [Number(last.effective_at), Number(last.seq)];
    }
  }
  await send();
  // Rows are counted by the store and resources by the server; a BP panel is two rows, one resource.
  o.onProgress?.({ rowsDone: rowsTotal, rowsTotal, bundles: report.bundles });
  return report;
}
