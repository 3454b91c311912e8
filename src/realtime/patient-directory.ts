/**
 * Which ward each patient lies on, for routing bus events to ward rooms. Loaded once, refreshed
 * periodically (transfers), and looked up on a miss (a patient admitted a moment ago). Events of a
 * patient whose ward is being looked up wait on the same promise, so they keep their order.
 */
import type { Db } from '../store/db.ts';
import type { PatientInfo } from './protocol.ts';

export class PatientDirectory {
  readonly #db: Db;
  readonly #byId = new Map<string, PatientInfo>();
  readonly #pending = new Map<string, Promise<PatientInfo | undefined>>();
  #timer: NodeJS.Timeout | undefined;

  constructor(db: Db) {
    this.#db = db;
  }

  async start(refreshMs = 30_000): Promise<void> {
    await this.refresh();
    this.#timer = setInterval(() => {
      this.refresh().catch(() => {
        // The next refresh retries; routing keeps the last known wards meanwhile.
      });
    }, refreshMs);
    this.#timer.unref();
  }

  stop(): void {
    if (this.#timer) clearInterval(this.#timer);
  }

  async refresh(): Promise<void> {
    const rows = await this.#db
      .selectFrom('patients')
      .select(['id', 'mrn', 'given_name', 'family_name', 'ward', 'bed'])
      .execute();
    for (const r of rows) this.#byId.set(r.id, toInfo(r));
  }

  get(patientId: string): PatientInfo | undefined {
    return this.#byId.get(patientId);
  }

  /** Calls `fn` with the patient (undefined if unknown), synchronously when cached. */
  with(patientId: string, fn: (p: PatientInfo | undefined) => void): void {
    const known = this.#byId.get(patientId);
    if (known !== undefined && !this.#pending.has(patientId)) {
      fn(known);
      return;
    }
    let p = this.#pending.get(patientId);
    if (p === undefined) {
      p = this.#load(patientId).finally(() => this.#pending.delete(patientId));
      this.#pending.set(patientId, p);
    }
    p.then(fn, () => fn(undefined));
  }

  async #load(patientId: string): Promise<PatientInfo | undefined> {
    const r = await this.#db
      .selectFrom('patients')
      .select(['id', 'mrn', 'given_name', 'family_name', 'ward', 'bed'])
      .where('id', '=', patientId)
      .executeTakeFirst();
    if (!r) return undefined;
    const info = toInfo(r);
    this.#byId.set(info.id, info);
    return info;
  }

  /** Patients by id, in the order given; unknown ids are left out. */
  async many(ids: readonly string[]): Promise<PatientInfo[]> {
    const missing = ids.filter((id) => !this.#byId.has(id));
    if (missing.length > 0) await Promise.all(missing.map((id) => this.#load(id)));
    return ids.map((id) => this.#byId.get(id)).filter((p): p is PatientInfo => p !== undefined);
  }

  async onWard(ward: string): Promise<PatientInfo[]> {
    const rows = await this.#db
      .selectFrom('patients')
      .select(['id', 'mrn', 'given_name', 'family_name', 'ward', 'bed'])
      .where('ward', '=', ward)
      .execute();
    return rows.map((r) => {
      const info = toInfo(r);
      this.#byId.set(info.id, info);
      return info;
    });
  }
}

function toInfo(r: {
  id: string;
  mrn: string;
  given_name: string;
  family_name: string;
  ward: string | null;
  bed: string | null;
}): PatientInfo {
  return { id: r.id, mrn: r.mrn, name: `${r.given_name} ${r.family_name}`.trim(), ward: r.ward, bed: r.bed };
}
