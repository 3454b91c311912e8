/**
 * SQLite's observation search copy (0010_observation_search, src/store/observation-search.ts):
 * every committed observation is searchable exactly once, before and after it is merged; updates
 * and deletes (a patient's deletion cascading) reach the merged copy; the writer thread's merger
 * catches up on its own.
 */
import path from 'node:path';
import { Kysely, SqliteDialect, sql } from 'kysely';
import { afterEach, describe, expect, it } from 'vitest';
import { openStore, type Store } from '../../src/store/db.ts';
import { migrate } from '../../src/store/migrations/index.ts';
import { MERGE_CHUNK, mergeOps, observationIdsCond } from '../../src/store/observation-search.ts';
import type { Database } from '../../src/store/schema.ts';
import { NodeSqliteDatabase } from '../../src/store/sqlite-driver.ts';
import { tempDir } from '../helpers/app.ts';

const CODES = ['8867-4', '59408-5', '8310-5'];

async function addPatient(store: Store, id: string): Promise<void> {
  await store.db
    .insertInto('patients')
    .values({ id, mrn: `mrn-${id}`, given_name: 'Ada', family_name: 'Test', created_at: 1, updated_at: 1 })
    .execute();
}

/** `n` observations spread over the patients and codes, times running backwards so order matters. */
async function addObservations(store: Store, patients: string[], n: number, from = 0): Promise<void> {
  const rows = Array.from({ length: n }, (_, k) => {
    const i = from + k;
    return {
      id: `obs-${i}`,
      patient_id: patients[i % patients.length]!,
      code: CODES[i % CODES.length]!,
      code_system: 'http://loinc.org',
      value_num: i,
      status: 'final',
      effective_at: 1_000_000 - i,
      recorded_at: 1,
      source: 'test',
    };
  });
  for (let k = 0; k < rows.length; k += 500)
    await store.db
      .insertInto('observations')
      .values(rows.slice(k, k + 500))
      .execute();
}

function search(store: Store, patient: string, code: string) {
  return store.db
    .selectFrom('observations_searchable')
    .select(['id', 'value_num', 'effective_at'])
    .where('patient_id', '=', patient)
    .where('code', '=', code)
    .orderBy('effective_at', 'desc')
    .orderBy('seq', 'desc')
    .execute();
}

async function merged(store: Store): Promise<number> {
  const r = await store.db
    .selectFrom('observation_search_state')
    .select('merged_seq')
    .executeTakeFirstOrThrow();
  return r.merged_seq;
}

/** Rows in the merged copy alone. */
async function copyRows(store: Store): Promise<number> {
  const r = await sql<{ n: number }>`SELECT count(*) AS n FROM observation_search`.execute(store.db);
  return Number(r.rows[0]?.n);
}

/** Rows the view shows: the copy plus the unmerged tail. */
async function viewRows(store: Store): Promise<number> {
  const r = await store.db
    .selectFrom('observations_searchable')
    .select((eb) => eb.fn.countAll<number>().as('n'))
    .executeTakeFirstOrThrow();
  return Number(r.n);
}

describe('observation search copy (SQLite)', () => {
  let store: Store;
  afterEach(async () => {
    await store.close();
  });

  it('finds each row once, in order, before and after the merge', async () => {
    store = await openStore({ dataDir: tempDir('cw-obs-search-') });
    await addPatient(store, 'p1');
    await addPatient(store, 'p2');
    await addObservations(store, ['p1', 'p2'], 60);
    const before = await search(store, 'p1', '8867-4');
    expect(before.map((r) => r.id)).toEqual(
      Array.from({ length: 60 }, (_, i) => i)
        .filter((i) => i % 2 === 0 && i % 3 === 0)
        .map((i) => `obs-${i}`),
    );
    expect(await merged(store)).toBe(0);
    await store.mergeSearchCopies();
    expect(await merged(store)).toBe(60);
    expect(await copyRows(store)).toBe(60);
    expect(await search(store, 'p1', '8867-4')).toEqual(before);
    // Half merged, half tail: still each row once.
    await addObservations(store, ['p1', 'p2'], 60, 60);
    const all = await search(store, 'p1', '8867-4');
    expect(all).toHaveLength(20);
    expect(new Set(all.map((r) => r.id)).size).toBe(20);
    expect(await viewRows(store)).toBe(120);
    expect(await copyRows(store)).toBe(60);
  });

  it('updates and deletes reach merged rows; unmerged ones are merged as they are now', async () => {
    store = await openStore({ dataDir: tempDir('cw-obs-search-') });
    await addPatient(store, 'p1');
    await addPatient(store, 'p2');
    await addObservations(store, ['p1', 'p2'], 12);
    await store.mergeSearchCopies();
    await addObservations(store, ['p1', 'p2'], 6, 12);
    // obs-0 merged, obs-12 in the tail: both change value and time; obs-6 merged and deleted.
    await store.db
      .updateTable('observations')
      .set({ value_num: 999, effective_at: 5 })
      .where('id', 'in', ['obs-0', 'obs-12'])
      .execute();
    await store.db.deleteFrom('observations').where('id', '=', 'obs-6').execute();
    // A merged row moved to another patient and code (its key in the copy changes).
    await store.db
      .updateTable('observations')
      .set({ patient_id: 'p2', code: '59408-5' })
      .where('id', '=', 'obs-2')
      .execute();
    expect((await search(store, 'p2', '59408-5')).map((r) => r.id)).toContain('obs-2');
    expect((await search(store, 'p1', '8310-5')).map((r) => r.id)).not.toContain('obs-2');
    const check = async () => {
      const rows = await search(store, 'p1', '8867-4');
      expect(rows.map((r) => [r.id, r.value_num, r.effective_at])).toEqual([
        ['obs-12', 999, 5],
        ['obs-0', 999, 5],
      ]);
    };
    await check();
    await store.mergeSearchCopies();
    await check();
    expect(await viewRows(store)).toBe(17);
    // A patient's deletion cascades to observations and from there to the merged copy.
    await store.db.deleteFrom('patients').where('id', '=', 'p2').execute();
    // p1 kept 7 (obs-6 deleted, obs-2 moved to p2); the copy follows.
    expect(await viewRows(store)).toBe(7);
    expect(await copyRows(store)).toBe(7);
    const left = await store.db
      .selectFrom('observations_searchable')
      .select('patient_id')
      .distinct()
      .execute();
    expect(left).toEqual([{ patient_id: 'p1' }]);
  });

  it('an existing store is upgraded: its observations are copied, in order, and the old index goes', async () => {
    const dir = tempDir('cw-obs-search-');
    const old = new Kysely<Database>({
      dialect: new SqliteDialect({ database: new NodeSqliteDatabase(path.join(dir, 'carewire.db')) }),
    });
    await migrate(old as Kysely<unknown>, 'sqlite', '0009_alarm_write_pages');
    await old
      .insertInto('patients')
      .values({ id: 'p1', mrn: 'm1', given_name: 'Ada', family_name: 'Old', created_at: 1, updated_at: 1 })
      .execute();
    await old
      .insertInto('observations')
      .values(
        [3, 1, 2].map((t) => ({
          id: `old-${t}`,
          patient_id: 'p1',
          code: '8867-4',
          code_system: 'http://loinc.org',
          value_num: t,
          status: 'final',
          effective_at: t,
          recorded_at: 1,
          source: 'hl7',
        })),
      )
      .execute();
    await old.destroy();
    store = await openStore({ dataDir: dir });
    expect(await merged(store)).toBe(3);
    const copied = await sql<{ id: string }>`SELECT id FROM observation_search`.execute(store.db);
    expect(copied.rows.map((r) => r.id)).toEqual(['old-1', 'old-2', 'old-3']);
    expect((await search(store, 'p1', '8867-4')).map((r) => r.id)).toEqual(['old-3', 'old-2', 'old-1']);
    const indexes = await sql<{ name: string }>`SELECT name FROM sqlite_schema
        WHERE type = 'index' AND tbl_name = 'observations' ORDER BY name`.execute(store.db);
    expect(indexes.rows.map((r) => r.name)).not.toContain('observations_patient_code_time_cover');
    // 0011: reads by patient go through the view; no per-patient index on the table.
    expect(indexes.rows.map((r) => r.name)).not.toContain('observations_patient');
  });

  it('finds rows by id and identifier through indexes, and refuses to change a seq', async () => {
    store = await openStore({ dataDir: tempDir('cw-obs-search-') });
    await addPatient(store, 'p1');
    await addObservations(store, ['p1'], 10);
    await store.db
      .updateTable('observations')
      .set({ identifier: 'urn:x|7' })
      .where('id', '=', 'obs-7')
      .execute();
    await store.mergeSearchCopies();
    await addObservations(store, ['p1'], 2, 10); // obs-10 and obs-11 stay in the unmerged tail
    // 0012: by the observations table's id index, then the copy's primary key.
    const byId = store.db
      .selectFrom('observations_searchable')
      .select('id')
      .where(observationIdsCond('sqlite', ['obs-3', 'obs-8', 'obs-11', 'no-such-id']));
    const byIdentifier = store.db
      .selectFrom('observations_searchable')
      .select('id')
      .where('identifier', '=', 'urn:x|7');
    expect((await byId.execute()).map((r) => r.id).sort()).toEqual(['obs-11', 'obs-3', 'obs-8']);
    expect(await byIdentifier.execute()).toEqual([{ id: 'obs-7' }]);
    // The merged copy is searched through its indexes, never scanned.
    for (const q of [byId, byIdentifier]) {
      const c = q.compile();
      const plan = store
        .sqlite!.prepare(`EXPLAIN QUERY PLAN ${c.sql}`)
        .all(...(c.parameters as string[]))
        .map((r) => String(r.detail));
      expect(plan.filter((d) => d.includes('observation_search '))).toEqual([
        expect.stringMatching(
          /^SEARCH observation_search USING (PRIMARY KEY \(patient_id=\? AND code=\? AND effective_at=\? AND seq=\?\)|(COVERING )?INDEX observation_search_identifier)/,
        ),
      ]);
    }
    await expect(
      store.db.updateTable('observations').set({ seq: 1000 }).where('id', '=', 'obs-1').execute(),
    ).rejects.toThrow(/seq never changes/);
  });

  it('a merge that keeps failing is reported, and searches stay whole', async () => {
    store = await openStore({ dataDir: tempDir('cw-obs-search-') });
    await addPatient(store, 'p1');
    await addObservations(store, ['p1'], 3);
    // A copy row in the way of the next merge: every merge fails on its key.
    const first = await store.db
      .selectFrom('observations')
      .selectAll()
      .where('id', '=', 'obs-0')
      .executeTakeFirstOrThrow();
    await sql`INSERT INTO observation_search (seq, id, patient_id, code, code_system, status, effective_at, recorded_at, source)
        VALUES (${first.seq}, 'intruder', ${first.patient_id}, ${first.code}, ${first.code_system}, 'final',
          ${first.effective_at}, 1, 'test')`.execute(store.db);
    const warned = new Promise<Error>((resolve) => process.once('warning', resolve));
    store.writer();
    const w = await warned;
    expect(w.name).toBe('CarewireStoreWarning');
    expect(w.message).toMatch(/observation search merge failed .*3 rows unmerged/);
    expect(await merged(store)).toBe(0);
    expect((await search(store, 'p1', '8867-4')).map((r) => r.id)).toContain('obs-0');
    // A look-up by id answers with the observation, not with the stray row under its key.
    const byId = await store.db
      .selectFrom('observations_searchable')
      .select('id')
      .where(observationIdsCond('sqlite', ['obs-0']))
      .execute();
    expect(byId).toEqual([{ id: 'obs-0' }]);
  });

  it('a merge in pieces lets durable writes in between, each seeing whole pieces only', async () => {
    store = await openStore({ dataDir: tempDir('cw-obs-search-') });
    await addPatient(store, 'p1');
    await addPatient(store, 'p2');
    await addObservations(store, ['p1', 'p2'], 3000);
    store.sqlite!.exec('CREATE TABLE merge_probe (merged INTEGER NOT NULL, copied INTEGER NOT NULL)');
    const w = store.writer()!;
    // Pieces of 100 seq values, and durable writes queued behind the request: each adds an
    // observation and notes how far the copy had come when it committed.
    const merging = w.write(mergeOps(3000, 100), { fsync: false });
    const more = Array.from({ length: 20 }, (_, k) =>
      w.write([
        {
          sql: `INSERT INTO observations (id, patient_id, code, code_system, value_num, status, effective_at,
            recorded_at, source) VALUES (?, 'p1', '8867-4', 'http://loinc.org', ?, 'final', ?, 1, 'test')`,
          width: 3,
          params: [`late-${k}`, k, 2_000_000 + k],
        },
        {
          sql: `INSERT INTO merge_probe (merged, copied) SELECT merged_seq,
            (SELECT count(*) FROM observation_search) FROM observation_search_state`,
          width: 0,
          params: [],
        },
      ]),
    );
    await Promise.all([merging, ...more]);
    const probes = store.sqlite!.prepare('SELECT merged, copied FROM merge_probe').all() as Array<{
      merged: number;
      copied: number;
    }>;
    expect(probes).toHaveLength(20);
    // They committed between pieces, not all after the merge…
    expect(probes.some((p) => p.merged > 0 && p.merged < 3000)).toBe(true);
    // …and never inside one: every row up to merged_seq copied, none beyond.
    for (const p of probes) expect(p.copied).toBe(p.merged);
    await store.mergeSearchCopies();
    expect(await merged(store)).toBe(3020);
    expect(await copyRows(store)).toBe(3020);
    expect(await viewRows(store)).toBe(3020);
    expect((await search(store, 'p1', '8867-4')).slice(0, 3).map((r) => r.id)).toEqual([
      'late-19',
      'late-18',
      'late-17',
    ]);
  });

  it('cuts a merge into whole pieces and refuses sizes that make no sense', () => {
    const sizes = (ops: ReturnType<typeof mergeOps>) =>
      ops.filter((o) => o.yieldAfter && o.sql.includes('observation_search_state')).map((o) => o.params[0]);
    expect(sizes(mergeOps(1000, 256))).toEqual([256, 256, 256, 232]);
    expect(sizes(mergeOps(Number.MAX_SAFE_INTEGER, Number.MAX_SAFE_INTEGER))).toEqual([
      Number.MAX_SAFE_INTEGER,
    ]);
    expect(() => mergeOps(0)).toThrow(RangeError);
    expect(() => mergeOps(Number.MAX_SAFE_INTEGER)).toThrow(/too many pieces/);
  });

  it("the writer thread's merger catches up in chunks without being asked", async () => {
    store = await openStore({ dataDir: tempDir('cw-obs-search-') });
    await addPatient(store, 'p1');
    const n = MERGE_CHUNK * 2 + 100;
    await addObservations(store, ['p1'], n);
    store.writer();
    const deadline = Date.now() + 10_000;
    while ((await merged(store)) < n && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    expect(await merged(store)).toBe(n);
    expect(await viewRows(store)).toBe(n);
    const rows = await search(store, 'p1', '8867-4');
    expect(rows).toHaveLength(Math.ceil(n / 3));
  });
});
