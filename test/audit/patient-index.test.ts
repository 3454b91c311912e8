/**
 * "Who accessed my record" over the patient index that the writer thread fills in bulk (migration
 * 0007): entries after the index mark are found by scanning, entries before it through the index,
 * and the two never repeat or miss an entry — on both engines, with and without the writer thread.
 */
import { DatabaseSync } from 'node:sqlite';
import { afterEach, describe, expect, it } from 'vitest';
import { type AuditEvent, AuditLog } from '../../src/audit/log.ts';
import { openStore, type Store } from '../../src/store/db.ts';
import { ENGINES, tempDir } from '../helpers/app.ts';
import { createPgSchema, type PgSchema } from '../helpers/pg.ts';

function read(i: number, patientId: string, list?: string[]): AuditEvent {
  return {
    type: list ? 'patient.search' : 'patient.read',
    action: 'R',
    outcome: 0,
    agent: { userId: `u-${i % 3}`, role: 'clinician' },
    source: 'http',
    patientId,
    ...(list ? { detail: { patientIds: list } } : {}),
  };
}

describe.each(ENGINES)('patient index on %s', (engine) => {
  let store: Store | undefined;
  let schema: PgSchema | undefined;
  let dataDir = '';
  afterEach(async () => {
    await store?.close();
    await schema?.drop();
    store = undefined;
    schema = undefined;
  });

  async function open(thread: boolean): Promise<AuditLog> {
    dataDir = tempDir('cw-pidx-');
    if (engine === 'postgres') schema = await createPgSchema();
    store = await openStore({ dataDir, databaseUrl: schema?.url });
    return new AuditLog(store, {
      maxDelayMs: 1,
      maxItems: 16,
      writerThread: thread,
      // The test moves the index itself (indexNow), so what is indexed when is known.
      indexEveryMs: 3_600_000,
      checkpointMs: 0,
    });
  }

  const mark = async () =>
    Number(
      (
        await store!
          .auditIndexDb()
          .selectFrom('audit_index_state')
          .select('indexed_upto')
          .executeTakeFirstOrThrow()
      ).indexed_upto,
    );

  for (const thread of engine === 'sqlite' ? [true, false] : [false]) {
    it(`finds own and listed entries before and after the mark${thread ? ' (writer thread)' : ''}`, async () => {
      const log = await open(thread);
      const expected: number[] = [];
      for (let i = 0; i < 300; i++) {
        const pid = i % 10 === 0 ? 'p-target' : `p-${i % 7}`;
        const list = i % 25 === 3 ? ['p-0', 'p-target', 'p-5'] : undefined;
        const r = await log.append(read(i, pid, list));
        if (pid === 'p-target' || list) expected.push(r.seq);
      }
      // A lookalike id must not match a substring scan of the tail.
      await log.append(read(999, 'p-target-2', ['p-target-2']));
      // PostgreSQL indexes each batch; SQLite's indexer has not run yet: everything is scanned.
      expect(await mark()).toBe(engine === 'postgres' ? 301 : 0);
      const newestFirst = [...expected].reverse();
      const own = [...expected];
      let ownCount = 30; // i % 10 === 0
      const check = async () => {
        const access = await log.accessLog('p-target', { limit: 1000 });
        expect(access.map((a) => a.seq)).toEqual(newestFirst);
        // Paging with `before` neither repeats nor skips across the mark.
        const firstPage = await log.accessLog('p-target', { limit: 7 });
        const rest = await log.accessLog('p-target', { limit: 1000, before: firstPage.at(-1)!.seq });
        expect([...firstPage, ...rest].map((a) => a.seq)).toEqual(newestFirst);
        // The auditor's filter: own patient only, either order.
        const byFilter = await log.entries({ patientId: 'p-target', limit: 1000 });
        const ownSeqs = byFilter.map((e) => e.seq);
        expect(ownSeqs.every((s) => own.includes(s))).toBe(true);
        expect(ownSeqs.length).toBe(ownCount);
        const desc = await log.entries({ patientId: 'p-target', order: 'desc', limit: 5 });
        expect(desc.map((e) => e.seq)).toEqual([...ownSeqs].reverse().slice(0, 5));
      };
      await check();
      if (thread) {
        // The indexer's thread indexes all 301; then one more entry lies after the mark.
        await log.indexNow();
        expect(await mark()).toBe(301);
        await check();
        const last = await log.append(read(1000, 'p-target', ['p-target', 'p-9']));
        expected.push(last.seq);
        newestFirst.unshift(last.seq);
        own.push(last.seq);
        ownCount++;
        expect(await mark()).toBe(301);
        await check();
      }
      await log.close();
      // Closing indexes the tail (writer thread): the mark reaches the end of the log.
      if (thread) expect(await mark()).toBe(302);
      const after = new AuditLog(store!, {
        maxDelayMs: 1,
        maxItems: 16,
        checkpointMs: 0,
      });
      expect((await after.accessLog('p-target', { limit: 1000 })).map((a) => a.seq)).toEqual(newestFirst);
      await after.close();
    });
  }

  if (engine === 'sqlite') {
    it('another process appending between two batches is placed after them, nothing is lost', async () => {
      const log = await open(true);
      for (let i = 0; i < 20; i++) await log.append(read(i, 'p-a'));
      // A second log on its own connection (a CLI command beside the server) appends meanwhile.
      const other = await openStore({ dataDir });
      const otherLog = new AuditLog(other, {
        maxDelayMs: 1,
        maxItems: 16,
        writerThread: true,
        checkpointMs: 0,
      });
      const theirs = await otherLog.append(read(100, 'p-b'));
      await otherLog.close();
      await other.close();
      const mine = await log.append(read(101, 'p-a'));
      expect(theirs.seq).toBe(20);
      expect(mine.seq).toBe(21);
      await log.close();
      const raw = new DatabaseSync(store!.location);
      const seqs = raw.prepare('SELECT seq FROM audit_events ORDER BY seq').all() as Array<{ seq: number }>;
      raw.close();
      expect(seqs.map((r) => r.seq)).toEqual(Array.from({ length: 22 }, (_, i) => i));
    });
  }
});
