/** The store on both engines: migrations, append-only audit table, and group commit durability. */

import path from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AuditLog } from '../../src/audit/log.ts';
import { openStore, type Store } from '../../src/store/db.ts';
import {
  GroupCommitClosedError,
  GroupCommitOverloadError,
  GroupCommitter,
} from '../../src/store/group-commit.ts';
import { ENGINES, tempDir } from '../helpers/app.ts';
import { createPgSchema, type PgSchema } from '../helpers/pg.ts';

describe.each(ENGINES)('store on %s', (engine) => {
  let store: Store;
  let schema: PgSchema | undefined;
  let dataDir: string;
  /** Reads through a second, independent connection: sees only what is committed. */
  let readCommitted: (sql: string) => Promise<unknown[]>;
  let closeReader: () => Promise<void>;

  beforeAll(async () => {
    dataDir = tempDir();
    if (engine === 'postgres') schema = await createPgSchema();
    store = await openStore({ dataDir, databaseUrl: schema?.url });
    if (engine === 'sqlite') {
      const other = new DatabaseSync(path.join(dataDir, 'carewire.db'));
      readCommitted = async (sql) => other.prepare(sql).all();
      closeReader = async () => other.close();
    } else {
      const client = new pg.Pool({ connectionString: schema!.url, max: 4 });
      readCommitted = async (sql) => (await client.query(sql)).rows;
      closeReader = () => client.end();
    }
  });
  afterAll(async () => {
    await closeReader();
    await store.close();
    await schema?.drop();
  });

  it('runs migrations once and again without change', async () => {
    expect(store.engine).toBe(engine);
    const again = await openStore({ dataDir, databaseUrl: schema?.url });
    await again.ping();
    await again.close();
    const tables = await store.db.introspection.getTables();
    const names = tables.map((t) => t.name);
    for (const t of ['users', 'patients', 'care_team', 'sessions', 'audit_events', 'break_glass'])
      expect(names).toContain(t);
    if (engine === 'postgres') {
      // Only our schema: listing other schemas races with their being dropped (parallel tests,
      // other deployments in the same database) and once broke migrations.
      expect(new Set(tables.map((t) => t.schema)).size).toBe(1);
      expect(tables[0]?.schema).toMatch(/^cw_t_/);
    }
  });

  if (engine === 'sqlite') {
    it('uses WAL with synchronous=FULL', async () => {
      const db = new DatabaseSync(path.join(dataDir, 'carewire.db'));
      expect(db.prepare('PRAGMA journal_mode').get()).toEqual({ journal_mode: 'wal' });
      db.close();
      const { sql } = await import('kysely');
      const r = await sql<{ synchronous: number }>`PRAGMA synchronous`.execute(store.db);
      expect(r.rows[0]?.synchronous).toBe(2); // 2 = FULL
    });
  }

  it('keeps the audit table append-only in the engine itself', async () => {
    const audit = new AuditLog(store, { maxDelayMs: 1, maxItems: 10 });
    const rec = await audit.append({ type: 'test.event', action: 'R', outcome: 0, patientId: 'p1' });
    await expect(
      store.db.updateTable('audit_events').set({ outcome: 8 }).where('seq', '=', rec.seq).execute(),
    ).rejects.toThrow(/append-only/);
    await expect(store.db.deleteFrom('audit_events').where('seq', '=', rec.seq).execute()).rejects.toThrow(
      /append-only/,
    );
    const back = await audit.query({ patientId: 'p1' });
    expect(back.map((r) => r.id)).toContain(rec.id);
    await audit.close();
  });

  it('group commit resolves each caller only after its write is committed', async () => {
    const seen: number[] = [];
    const gc = new GroupCommitter<string, number>(
      store.db,
      async (trx, items) => {
        const out: number[] = [];
        for (const mrn of items) {
          await trx
            .insertInto('patients')
            .values({
              id: mrn,
              mrn,
              given_name: 'G',
              family_name: 'F',
              sex: null,
              birth_date: null,
              ward: 'GC',
              bed: null,
              created_at: 1,
              updated_at: 1,
            })
            .execute();
          out.push(out.length);
        }
        seen.push(items.length);
        return out;
      },
      { maxDelayMs: 5, maxItems: 64 },
    );
    const ids = Array.from({ length: 200 }, (_, i) => `gc-${engine}-${i}`);
    const checks = ids.map(async (id) => {
      await gc.submit(id);
      // At the moment the promise resolves, another connection must see the row.
      const rows = await readCommitted(`SELECT id FROM patients WHERE id = '${id}'`);
      return rows.length;
    });
    const counts = await Promise.all(checks);
    expect(counts.every((c) => c === 1)).toBe(true);
    expect(gc.stats.items).toBe(200);
    // Writes that arrived together shared transactions.
    expect(gc.stats.batches).toBeLessThan(200);
    expect(Math.max(...seen)).toBeGreaterThan(1);
    await gc.close();
  });

  it('a failing write is refused alone; its neighbours commit', async () => {
    const gc = new GroupCommitter<string, string>(
      store.db,
      async (trx, items) => {
        for (const mrn of items) {
          await trx
            .insertInto('patients')
            .values({
              id: `${mrn}-id`,
              mrn,
              given_name: 'G',
              family_name: 'F',
              sex: null,
              birth_date: null,
              ward: null,
              bed: null,
              created_at: 1,
              updated_at: 1,
            })
            .execute();
        }
        return [...items];
      },
      { maxDelayMs: 20, maxItems: 64 },
    );
    const dup = `dup-${engine}`;
    const results = await Promise.allSettled([
      gc.submit(`ok1-${engine}`),
      gc.submit(dup),
      gc.submit(dup),
      gc.submit(`ok2-${engine}`),
    ]);
    const statuses = results.map((r) => r.status);
    expect(statuses.filter((s) => s === 'fulfilled')).toHaveLength(3);
    expect(statuses.filter((s) => s === 'rejected')).toHaveLength(1);
    const rows = await readCommitted(
      `SELECT mrn FROM patients WHERE mrn LIKE 'ok%-${engine}' OR mrn = '${dup}'`,
    );
    expect(rows).toHaveLength(3);
    expect(gc.stats.fallbacks).toBe(1);
    await gc.close();
  });

  it('refuses writes beyond its queue bound and after close, and close flushes what was accepted', async () => {
    let applied = 0;
    const gc = new GroupCommitter<number, void>(
      store.db,
      async (_trx, items) => {
        applied += items.length;
        return items.map(() => undefined);
      },
      { maxDelayMs: 50, maxItems: 1000, maxQueue: 3 },
    );
    const accepted = [gc.submit(1), gc.submit(2), gc.submit(3)];
    await expect(gc.submit(4)).rejects.toBeInstanceOf(GroupCommitOverloadError);
    await gc.close();
    await Promise.all(accepted);
    expect(applied).toBe(3);
    await expect(gc.submit(5)).rejects.toBeInstanceOf(GroupCommitClosedError);
  });
});
