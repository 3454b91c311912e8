/**
 * A real store (SQLite file or PostgreSQL schema) holding a Merkle audit log, and the moves of an
 * attacker with direct database access: triggers dropped, rows edited, deleted, swapped, forged.
 */
import { rmSync } from 'node:fs';
import path from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import pg from 'pg';
import { type AuditEvent, AuditLog } from '../../src/audit/log.ts';
import { type LogKey, loadOrCreateLogKey } from '../../src/audit/log-key.ts';
import { openStore, type Store } from '../../src/store/db.ts';
import { type EngineName, tempDir } from '../helpers/app.ts';
import { createPgSchema, type PgSchema } from '../helpers/pg.ts';

export interface LogFixture {
  engine: EngineName;
  dataDir: string;
  store: Store;
  log: AuditLog;
  key: LogKey;
  pgUrl: string | undefined;
  /** Runs SQL as an attacker on a separate connection, after dropping the append-only triggers. */
  attack(statements: ReadonlyArray<[string, unknown[]]>): Promise<void>;
  close(): Promise<void>;
}

export function sampleEvent(i: number): AuditEvent {
  return {
    type: i % 3 === 0 ? 'patient.read' : 'observation.read',
    action: 'R',
    outcome: 0,
    agent: { userId: `u-${i % 5}`, username: `dr.${i % 5}`, role: 'clinician', address: '10.0.0.7' },
    source: 'http',
    patientId: `p-${i % 7}`,
    entity: { type: 'Patient', id: `p-${i % 7}` },
  };
}

const TRIGGERS = ['audit_events', 'audit_tree', 'audit_checkpoints'];

export async function openLogFixture(engine: EngineName): Promise<LogFixture> {
  const dataDir = tempDir('cw-audit-');
  let schema: PgSchema | undefined;
  if (engine === 'postgres') schema = await createPgSchema();
  const store = await openStore({ dataDir, databaseUrl: schema?.url });
  const key = loadOrCreateLogKey(dataDir);
  const log = new AuditLog(store, {
    maxDelayMs: 1,
    maxItems: 64,
    key,
    checkpointMs: 0,
  });
  return {
    engine,
    dataDir,
    store,
    log,
    key,
    pgUrl: schema?.url,
    async attack(statements) {
      if (engine === 'sqlite') {
        const db = new DatabaseSync(path.join(dataDir, 'carewire.db'));
        try {
          for (const t of TRIGGERS) {
            db.exec(`DROP TRIGGER IF EXISTS ${t}_append_only_u`);
            db.exec(`DROP TRIGGER IF EXISTS ${t}_append_only_d`);
          }
          for (const [q, params] of statements) db.prepare(q).run(...(params as never[]));
        } finally {
          db.close();
        }
        return;
      }
      const c = new pg.Client({ connectionString: schema!.url });
      await c.connect();
      try {
        for (const t of TRIGGERS) await c.query(`DROP TRIGGER IF EXISTS ${t}_append_only ON ${t}`);
        // PostgreSQL numbers parameters $1, $2 …; the tests write them as ? for both engines.
        for (const [q, params] of statements) {
          let n = 0;
          await c.query(
            q.replace(/\?/g, () => `$${++n}`),
            params as unknown[],
          );
        }
      } finally {
        await c.end();
      }
    },
    async close() {
      await log.close().catch(() => undefined);
      await store.close();
      await schema?.drop();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

/** Appends `n` sample events concurrently (so they form several group-commit batches). */
export async function fill(log: AuditLog, from: number, n: number): Promise<void> {
  await Promise.all(Array.from({ length: n }, (_, i) => log.append(sampleEvent(from + i))));
}
