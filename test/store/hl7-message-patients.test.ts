/**
 * SQLite's HL7 messages by patient (0011_patient_index_merge): the message rows keep no
 * per-patient index; `hl7_messages_by_patient` is the merged (patient, id) pairs plus the unmerged
 * tail, so every message is found once under its patient before and after a merge, through the
 * pairs' key rather than a scan; the merger catches up on its own; an upgraded store's messages are
 * copied; the copied columns cannot change.
 */
import path from 'node:path';
import { Kysely, SqliteDialect, sql } from 'kysely';
import { afterEach, describe, expect, it } from 'vitest';
import { openStore, type Store } from '../../src/store/db.ts';
import { migrate } from '../../src/store/migrations/index.ts';
import type { Database } from '../../src/store/schema.ts';
import { NodeSqliteDatabase } from '../../src/store/sqlite-driver.ts';
import { tempDir } from '../helpers/app.ts';

let control = 0;
async function addMessages(db: Kysely<Database>, patients: Array<string | null>): Promise<void> {
  await db
    .insertInto('hl7_messages')
    .values(
      patients.map((patient_id) => {
        const id = `C-${++control}`;
        return {
          dedup_key: `LAB|${id}`,
          control_id: id,
          sending_app: 'LAB',
          sending_facility: 'HOSP',
          message_type: 'ORU',
          trigger_event: 'R01',
          version: '2.5.1',
          received_at: control,
          raw: 'MSH|…',
          ack: 'MSH|…',
          ack_code: 'AA',
          patient_id,
        };
      }),
    )
    .execute();
}

/** Control ids of a patient's messages, newest first, as the admin search reads them. */
async function byPatient(store: Store, patient: string): Promise<string[]> {
  const rows = await store.db
    .selectFrom('hl7_messages')
    .select('control_id')
    .where(
      'id',
      'in',
      store.db.selectFrom('hl7_messages_by_patient').select('id').where('patient_id', '=', patient),
    )
    .orderBy('id', 'desc')
    .execute();
  return rows.map((r) => r.control_id);
}

async function mergedId(store: Store): Promise<number> {
  const r = await sql<{ m: number }>`SELECT merged_id AS m FROM hl7_message_patients_state`.execute(store.db);
  return Number(r.rows[0]?.m);
}

describe('HL7 messages by patient (SQLite)', () => {
  let store: Store;
  afterEach(async () => {
    await store.close();
  });

  it('finds each message once under its patient, before, after and across a merge, by key', async () => {
    store = await openStore({ dataDir: tempDir('cw-hl7-by-patient-') });
    await addMessages(store.db, ['p1', 'p2', null, 'p1']);
    expect(await byPatient(store, 'p1')).toEqual(['C-4', 'C-1']);
    await store.mergeSearchCopies();
    expect(await mergedId(store)).toBe(4);
    await addMessages(store.db, ['p2', 'p1']);
    // Two merged, one in the tail.
    expect(await byPatient(store, 'p1')).toEqual(['C-6', 'C-4', 'C-1']);
    expect(await byPatient(store, 'p2')).toEqual(['C-5', 'C-2']);
    await store.mergeSearchCopies();
    expect(await byPatient(store, 'p1')).toEqual(['C-6', 'C-4', 'C-1']);
    const pairs = await sql<{ n: number }>`SELECT count(*) AS n FROM hl7_message_patients`.execute(store.db);
    expect(Number(pairs.rows[0]?.n)).toBe(5); // the message without a patient has no pair
    const plan = await sql<{ detail: string }>`EXPLAIN QUERY PLAN
        SELECT id FROM hl7_messages WHERE id IN (SELECT id FROM hl7_messages_by_patient WHERE patient_id = 'p1')
        ORDER BY id DESC LIMIT 10`.execute(store.db);
    const steps = plan.rows.map((r) => r.detail).join('\n');
    expect(steps).toMatch(/SEARCH hl7_message_patients USING PRIMARY KEY \(patient_id=\?\)/);
    // The tail is a rowid range; nothing scans the whole message table.
    expect(steps).not.toMatch(/SCAN hl7_messages\b/);
  });

  it('refuses to change a message id or patient (the pairs copy them)', async () => {
    store = await openStore({ dataDir: tempDir('cw-hl7-by-patient-') });
    await addMessages(store.db, ['p1']);
    await expect(
      store.db
        .updateTable('hl7_messages')
        .set({ patient_id: 'p2' })
        .where('control_id', '=', `C-${control}`)
        .execute(),
    ).rejects.toThrow(/never change/);
  });

  it("the writer thread's merger pairs messages without being asked", async () => {
    store = await openStore({ dataDir: tempDir('cw-hl7-by-patient-') });
    await addMessages(
      store.db,
      Array.from({ length: 50 }, (_, i) => `p${i % 3}`),
    );
    const last = control;
    store.writer();
    const deadline = Date.now() + 10_000;
    while ((await mergedId(store)) < 50 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    expect(await mergedId(store)).toBe(50);
    expect(await byPatient(store, 'p0')).toHaveLength(17);
    expect(await byPatient(store, 'p0')).toContain(`C-${last - 1}`);
  });

  it('an existing store is upgraded: its messages are paired and the per-patient index goes', async () => {
    const dir = tempDir('cw-hl7-by-patient-');
    const old = new Kysely<Database>({
      dialect: new SqliteDialect({ database: new NodeSqliteDatabase(path.join(dir, 'carewire.db')) }),
    });
    await migrate(old as Kysely<unknown>, 'sqlite', '0010_observation_search');
    const first = control + 1;
    await addMessages(old, ['p1', 'p2', 'p1']);
    await old.destroy();
    store = await openStore({ dataDir: dir });
    expect(await mergedId(store)).toBe(3);
    expect(await byPatient(store, 'p1')).toEqual([`C-${first + 2}`, `C-${first}`]);
    const indexes = await sql<{ name: string }>`SELECT name FROM sqlite_schema
        WHERE type = 'index' AND tbl_name IN ('hl7_messages', 'observations')`.execute(store.db);
    const names = indexes.rows.map((r) => r.name);
    expect(names).not.toContain('hl7_messages_patient');
    expect(names).not.toContain('observations_patient');
  });
});
