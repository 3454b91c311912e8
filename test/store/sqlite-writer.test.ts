/**
 * The SQLite writer thread: a write is visible to the main connection once it resolves, a failing
 * write leaves nothing behind and says why, a guard that does not hold writes nothing, and a
 * pipelined group committer keeps batches in order.
 */
import { statSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import { openStore, type Store } from '../../src/store/db.ts';
import { GroupCommitter } from '../../src/store/group-commit.ts';
import { SqliteWriteError, SqliteWriter, StaleWriteError } from '../../src/store/sqlite-writer.ts';
import { tempDir } from '../helpers/app.ts';

const INSERT =
  'INSERT INTO patients (id, mrn, given_name, family_name, sex, birth_date, ward, bed, created_at, updated_at) VALUES (?, ?, ?, ?, NULL, NULL, NULL, NULL, 1, 1)';
const COUNT = "SELECT count(*) AS n FROM patients WHERE id LIKE 'w-%'";

describe('SQLite writer thread', () => {
  let store: Store;
  afterEach(async () => {
    await store.close();
  });

  const count = () => (store.sqlite!.prepare(COUNT).get() as { n: number }).n;

  it('commits on its own connection; the main connection sees the rows when it resolves', async () => {
    store = await openStore({ dataDir: tempDir('cw-writer-') });
    const w = store.writer()!;
    const r = await w.write([
      { sql: INSERT, width: 4, params: ['w-1', 'm-1', 'A', 'B', 'w-2', 'm-2', 'C', 'D'], rowids: true },
    ]);
    expect(r.changes).toEqual([2]);
    expect(r.rowids[0]).toHaveLength(2);
    expect(count()).toBe(2);
  });

  it('a durable write does not wait for the end of a bulk write without fsync sent before it', async () => {
    store = await openStore({ dataDir: tempDir('cw-writer-') });
    store.sqlite!.exec('CREATE TABLE t_bulk (a REAL, b REAL, c REAL)');
    const w = store.writer()!;
    const rows = 200_000;
    const values = new Float64Array(rows * 3).map((_, i) => i);
    const order: string[] = [];
    const bulk = w
      .write([{ sql: 'INSERT INTO t_bulk (a, b, c) VALUES (?, ?, ?)', width: 3, rows, values, text: [] }], {
        fsync: false,
      })
      .then((r) => {
        order.push('bulk');
        return r;
      });
    const urgent = w.write([{ sql: INSERT, width: 4, params: ['w-u', 'm-u', 'A', 'B'] }]).then(() => {
      order.push('urgent');
    });
    const [b] = await Promise.all([bulk, urgent]);
    // The thread answers in the order it commits: the durable write first, between two pieces.
    expect(order).toEqual(['urgent', 'bulk']);
    // Nothing lost or written twice by committing the bulk write in pieces: column a held 0, 3, 6, …
    expect(b.changes).toEqual([rows]);
    const got = store.sqlite!.prepare('SELECT count(*) AS n, sum(a) AS s FROM t_bulk').get();
    expect(got).toEqual({ n: rows, s: (3 * rows * (rows - 1)) / 2 });
    expect(count()).toBe(1);
  });

  it('a durable write commits between the pieces of a request without fsync, never inside one', async () => {
    store = await openStore({ dataDir: tempDir('cw-writer-') });
    store.sqlite!.exec('CREATE TABLE t_piece (n INTEGER PRIMARY KEY AUTOINCREMENT, tag TEXT NOT NULL)');
    const w = store.writer()!;
    const put = (tag: string, yieldAfter = false) => ({
      sql: `INSERT INTO t_piece (tag) VALUES ('${tag}')`,
      width: 0,
      params: [],
      yieldAfter,
    });
    // The thread reads its port after it starts: all three requests are waiting by then (and the
    // first statement runs long enough besides).
    const slow = {
      sql: `INSERT INTO t_piece (tag) SELECT 'a1' FROM (WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL
        SELECT x + 1 FROM c WHERE x < 2000000) SELECT count(*) FROM c)`,
      width: 0,
      params: [],
    };
    const order: string[] = [];
    const pieces = w
      .write([slow, put('a2', true), put('b1'), put('b2', true), put('c1', true)], { fsync: false })
      .then(() => order.push('pieces'));
    // A request without fsync sent in between waits for the first to end; the durable write sent
    // after it still goes first, at the first piece's end.
    const other = w.write([put('v1')], { fsync: false }).then(() => order.push('other'));
    const urgent = w.write([put('u')]).then(() => order.push('urgent'));
    await Promise.all([pieces, other, urgent]);
    expect(order).toEqual(['urgent', 'pieces', 'other']);
    const tags = store
      .sqlite!.prepare('SELECT tag FROM t_piece ORDER BY n')
      .all()
      .map((r) => r.tag);
    // After the first piece (a1, a2), not after a1 alone, where no piece ends.
    expect(tags).toEqual(['a1', 'a2', 'u', 'b1', 'b2', 'c1', 'v1']);
  });

  it('a failing statement rolls back the whole request and names the constraint', async () => {
    store = await openStore({ dataDir: tempDir('cw-writer-') });
    const w = store.writer()!;
    await w.write([{ sql: INSERT, width: 4, params: ['w-1', 'm-1', 'A', 'B'] }]);
    const bad = w.write([
      { sql: INSERT, width: 4, params: ['w-2', 'm-2', 'A', 'B', 'w-1', 'm-3', 'A', 'B'] },
    ]);
    await expect(bad).rejects.toBeInstanceOf(SqliteWriteError);
    await expect(bad).rejects.toThrow(/UNIQUE/);
    expect(count()).toBe(1); // w-2 was rolled back with its neighbour
    // The thread is still usable.
    await w.write([{ sql: INSERT, width: 4, params: ['w-3', 'm-3', 'A', 'B'] }]);
    expect(count()).toBe(2);
  });

  it('writes rows given as numbers: NULL for NaN, text by index, in the asked order, buffer moved', async () => {
    store = await openStore({ dataDir: tempDir('cw-writer-') });
    const w = store.writer()!;
    const sqlRows =
      'INSERT INTO patients (id, mrn, given_name, family_name, sex, birth_date, ward, bed, created_at, updated_at) VALUES (?, ?, ?, ?, NULL, NULL, ?, NULL, ?, 1)';
    const width = 6;
    const ids = ['w-b', 'w-a', 'w-c'];
    const wards = ['ICU', 'ER'];
    // id, mrn (= id), given, family, ward, created_at; spare capacity beyond `rows` is ignored.
    const values = new Float64Array(width * 5);
    values.set([0, 0, 2, 2, 1, 30, 1, 1, 2, 2, Number.NaN, 10, 2, 2, 2, 2, 0, 20]);
    const r = await w.write([
      {
        sql: sqlRows,
        width,
        rows: 3,
        values,
        text: [0, 1, 2, 3].map((column) => ({ column, table: ids })).concat([{ column: 4, table: wards }]),
        orderBy: [4, 5],
      },
    ]);
    expect(r.changes).toEqual([3]);
    expect(values.byteLength).toBe(0); // transferred to the thread, not copied
    const rows = store
      .sqlite!.prepare("SELECT id, ward, created_at FROM patients WHERE id LIKE 'w-%' ORDER BY rowid")
      .all();
    // NULL ward first, then ICU (index 0) before ER (index 1): the order asked for, by index.
    expect(rows).toEqual([
      { id: 'w-a', ward: null, created_at: 10 },
      { id: 'w-c', ward: 'ICU', created_at: 20 },
      { id: 'w-b', ward: 'ER', created_at: 30 },
    ]);
  });

  it("gives child rows their parent row's new id and leaves out those whose parent was a duplicate", async () => {
    store = await openStore({ dataDir: tempDir('cw-writer-') });
    store.sqlite!.exec('CREATE TABLE t_parent (id INTEGER PRIMARY KEY, k TEXT UNIQUE)');
    store.sqlite!.exec('CREATE TABLE t_child (parent INTEGER, ref TEXT, v TEXT)');
    store.sqlite!.exec("INSERT INTO t_parent (id, k) VALUES (7, 'seen')");
    const w = store.writer()!;
    const r = await w.write([
      {
        sql: 'INSERT INTO t_parent (k) VALUES (?) ON CONFLICT (k) DO NOTHING',
        width: 1,
        params: ['a', 'seen', 'b'],
        rowids: true,
      },
      {
        sql: 'INSERT INTO t_child (parent, ref, v) VALUES (?, ?, ?)',
        width: 3,
        // The second column is replaced by the parent's rowid (as an integer, also in a TEXT column).
        params: [0, '', 'a1', 0, '', 'a2', 0, '', 'seen1', 0, '', 'b1'],
        parent: { op: 0, rows: [0, 0, 1, 2], column: 1 },
      },
    ]);
    const [a, seen, b] = r.rowids[0]!;
    expect(seen).toBe(-1);
    expect(r.changes).toEqual([2, 3]);
    const rows = store.sqlite!.prepare('SELECT ref, v FROM t_child ORDER BY v').all();
    expect(rows).toEqual([
      { ref: String(a), v: 'a1' },
      { ref: String(a), v: 'a2' },
      { ref: String(b), v: 'b1' },
    ]);
    // No duplicate among the parents: the rowids are written into the child rows in place.
    const all = await w.write([
      {
        sql: 'INSERT INTO t_parent (k) VALUES (?) ON CONFLICT (k) DO NOTHING',
        width: 1,
        params: ['c', 'd'],
        rowids: true,
      },
      {
        sql: 'INSERT INTO t_child (parent, ref, v) VALUES (?, ?, ?)',
        width: 3,
        params: [0, '', 'd1', 0, '', 'c1', 0, '', 'd2'],
        parent: { op: 0, rows: [1, 0, 1], column: 1 },
      },
    ]);
    const [c, d] = all.rowids[0]!;
    expect(all.changes).toEqual([2, 3]);
    expect(
      store.sqlite!.prepare("SELECT ref, v FROM t_child WHERE v IN ('c1', 'd1', 'd2') ORDER BY v").all(),
    ).toEqual([
      { ref: String(c), v: 'c1' },
      { ref: String(d), v: 'd1' },
      { ref: String(d), v: 'd2' },
    ]);
    await expect(
      w.write([
        {
          sql: 'INSERT INTO t_child (parent, v) VALUES (?, ?)',
          width: 2,
          params: [0, 'x'],
          parent: { op: 0, rows: [0], column: 0 },
        },
      ]),
    ).rejects.toThrow(/op 0/);
  });

  it('writes nothing when its guard does not hold', async () => {
    store = await openStore({ dataDir: tempDir('cw-writer-') });
    const w = store.writer()!;
    const guard = { sql: COUNT, params: [], expect: 5 };
    await expect(
      w.write([{ sql: INSERT, width: 4, params: ['w-1', 'm-1', 'A', 'B'] }], { guard }),
    ).rejects.toBeInstanceOf(StaleWriteError);
    expect(count()).toBe(0);
    await w.write([{ sql: INSERT, width: 4, params: ['w-1', 'm-1', 'A', 'B'] }], {
      guard: { ...guard, expect: 0 },
    });
    expect(count()).toBe(1);
  });

  it('a main-connection transaction that reads then writes waits for the thread instead of failing', async () => {
    store = await openStore({ dataDir: tempDir('cw-writer-') });
    const w = store.writer()!;
    const writes = Array.from({ length: 20 }, (_, i) =>
      w.write([{ sql: INSERT, width: 4, params: [`w-t${i}`, `m-t${i}`, 'A', 'B'] }]),
    );
    for (let i = 0; i < 20; i++) {
      await store.db.transaction().execute(async (trx) => {
        await trx.selectFrom('patients').select('id').execute();
        await trx
          .insertInto('patients')
          .values({
            id: `w-m${i}`,
            mrn: `m-m${i}`,
            given_name: 'A',
            family_name: 'B',
            sex: null,
            birth_date: null,
            ward: null,
            bed: null,
            created_at: 1,
            updated_at: 1,
          })
          .execute();
      });
    }
    await Promise.all(writes);
    expect(count()).toBe(40);
  });

  it('a pipelined group committer keeps several batches in flight, in order', async () => {
    store = await openStore({ dataDir: tempDir('cw-writer-') });
    let inFlight = 0;
    let most = 0;
    const order: number[] = [];
    const gc = new GroupCommitter<number, number>(
      null,
      async (items) => {
        inFlight++;
        most = Math.max(most, inFlight);
        order.push(...items);
        await new Promise((r) => setTimeout(r, 5));
        inFlight--;
        return [...items];
      },
      { maxDelayMs: 1, maxItems: 10, pipeline: 3 },
    );
    const got = await Promise.all(Array.from({ length: 100 }, (_, i) => gc.submit(i)));
    expect(got).toEqual(Array.from({ length: 100 }, (_, i) => i));
    expect(order).toEqual(got);
    expect(most).toBeGreaterThan(1);
    expect(most).toBeLessThanOrEqual(3);
    await gc.close();
  });

  it('a pipelined committer sends a lone write at the end of the turn, not after its timer', async () => {
    store = await openStore({ dataDir: tempDir('cw-writer-') });
    const gc = new GroupCommitter<number, number>(null, async (items) => [...items], {
      maxDelayMs: 10_000,
      maxItems: 100,
      pipeline: 2,
    });
    const t0 = performance.now();
    expect(await gc.submit(7)).toBe(7);
    expect(performance.now() - t0).toBeLessThan(5_000);
    await gc.close();
  });

  it('the WAL starts over under a steady stream of commits instead of growing without bound', async () => {
    store = await openStore({ dataDir: tempDir('cw-writer-') });
    const w = store.writer()!;
    const wal = `${store.location}-wal`;
    const row = 'x'.repeat(2000);
    // 2,000 commits, at most one per millisecond (so a fast machine cannot fit them all between two
    // checkpoints): ~66 MB of WAL if it were never reused, measured.
    let most = 0;
    for (let i = 0; i < 2000; i++) {
      const params: string[] = [];
      for (let j = 0; j < 4; j++) params.push(`w-${i}-${j}`, `m-${i}-${j}`, row, 'B');
      await Promise.all([w.write([{ sql: INSERT, width: 4, params }]), new Promise((r) => setTimeout(r, 1))]);
      if (i % 100 === 0) most = Math.max(most, statSync(wal).size);
    }
    expect(count()).toBe(8000);
    expect(most).toBeLessThan(20 << 20);
  });

  it('restarts the WAL on its own when no background hand-off comes', async () => {
    store = await openStore({ dataDir: tempDir('cw-writer-') });
    // A hand-off clock that never ticks: the background checkpointer is gone.
    const w = new SqliteWriter(store.location, new BigInt64Array(new SharedArrayBuffer(8)));
    try {
      const wal = `${store.location}-wal`;
      const row = 'x'.repeat(2000);
      let most = 0;
      let perCommit = 0;
      let commits = 0;
      // 4 s of commits; the thread's own restart comes about once a second.
      for (const end = Date.now() + 4000; Date.now() < end; commits++) {
        const params: string[] = [];
        for (let j = 0; j < 4; j++) params.push(`w-${commits}-${j}`, `m-${commits}-${j}`, row, 'B');
        await Promise.all([
          w.write([{ sql: INSERT, width: 4, params }]),
          new Promise((r) => setTimeout(r, 1)),
        ]);
        // The WAL's growth per commit, measured before any restart can have come.
        if (commits === 99) perCommit = statSync(wal).size / 100;
        if (commits % 50 === 0) most = Math.max(most, statSync(wal).size);
      }
      expect(perCommit).toBeGreaterThan(0);
      // Never started over, the file would hold every commit's frames.
      expect(most).toBeLessThan(0.6 * commits * perCommit);
    } finally {
      await w.close();
    }
  });
});
