/**
 * Two nodes (two AuditLogs, each with its own connection pool) appending to one PostgreSQL log at
 * once: the advisory lock serialises their batches, every seq is used once, and the tree each
 * node signs verifies.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AuditSql } from '../../src/audit/audit-sql.ts';
import { AuditLog } from '../../src/audit/log.ts';
import { storeSource, verifySource } from '../../src/audit/verify-store.ts';
import { openStore, type Store } from '../../src/store/db.ts';
import { fill, type LogFixture, openLogFixture } from './helpers.ts';

describe('two nodes on one PostgreSQL audit log', () => {
  let f: LogFixture;
  let second: Store;
  let other: AuditLog;

  beforeAll(async () => {
    f = await openLogFixture('postgres');
    second = await openStore({ dataDir: f.dataDir, databaseUrl: f.pgUrl });
    other = new AuditLog(second, { maxDelayMs: 1, maxItems: 16, key: f.key, checkpointMs: 0 });
  });
  afterAll(async () => {
    await other.close();
    await second.close();
    await f.close();
  });

  it('interleaved appends from both nodes form one consistent tree', async () => {
    await Promise.all([fill(f.log, 0, 150), fill(other, 1000, 150), fill(f.log, 2000, 50)]);
    await f.log.checkpoint();
    await fill(other, 3000, 20);
    await other.checkpoint();
    const texts = await f.log.rawEntries(0, 1000);
    expect(texts).toHaveLength(370);
    expect(texts.map((t) => JSON.parse(t).seq)).toEqual(texts.map((_, i) => i));
    const report = await verifySource(storeSource(new AuditSql(f.store.db)), {
      keys: [f.key.vkey],
      origin: f.key.origin,
    });
    expect(report.ok).toBe(true);
    expect(report.signedSize).toBe(370);
    expect((await other.head()).root).toEqual((await f.log.head()).root);
  });
});
