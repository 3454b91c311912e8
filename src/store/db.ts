/**
 * Opens the store: the embedded SQLite file by default, PostgreSQL when a postgres:// URL is given.
 * Both run the same migrations and are used through the same typed Kysely instance.
 */
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import type { DatabaseSync } from 'node:sqlite';
import { Kysely, SqliteDialect, sql } from 'kysely';
import pg from 'pg';
import { attachAuditIndex } from './audit-index-file.ts';
import { LiteralLimitsPlugin } from './literal-limits.ts';
import { migrate } from './migrations/index.ts';
import { mergeSearchCopiesNow, SearchCopyMerger } from './observation-search.ts';
import { SchemaScopedPostgresDialect } from './pg-introspector.ts';
import type { Database } from './schema.ts';
import { NodeSqliteDatabase } from './sqlite-driver.ts';
import { SqliteWriter } from './sqlite-writer.ts';
import { WalCheckpointer } from './wal-checkpointer.ts';

export type Engine = 'sqlite' | 'postgres';
export type Db = Kysely<Database>;

export interface StoreOptions {
  dataDir: string;
  databaseUrl?: string | undefined;
}

export interface Store {
  readonly db: Db;
  readonly engine: Engine;
  /** Where the data lives, for people: a file path or the URL without its password. */
  readonly location: string;
  /**
   * The raw node:sqlite handle (SQLite only), for measured hot paths (telemetry samples) that use
   * it inside a Kysely transaction on the same connection, never on their own.
   */
  readonly sqlite?: DatabaseSync;
  /**
   * The writer thread (SQLite only, started on first use) for hot append paths: see
   * sqlite-writer.ts. Undefined on PostgreSQL, whose writes never block the event loop.
   */
  writer(): SqliteWriter | undefined;
  /**
   * Runs WAL checkpoints on a thread of their own from now on (SQLite; idempotent, no-op on
   * PostgreSQL). Servers call it; a one-shot command need not.
   */
  backgroundCheckpoints(): void;
  /**
   * Where the audit log's patient index is read: on SQLite a connection with the index's own file
   * attached (see audit-index-file.ts), opened on first use; on PostgreSQL the store itself.
   */
  auditIndexDb(): Db;
  /**
   * Brings the search copies up to date now (SQLite; see observation-search.ts): FHIR's
   * observation search copy and the HL7 messages' (patient, id) pairs. Servers need not call it:
   * the writer thread's merger keeps them a few thousand rows behind, and reads see the unmerged
   * rows too. No-op on PostgreSQL.
   */
  mergeSearchCopies(): Promise<void>;
  ping(): Promise<void>;
  close(): Promise<void>;
}

// int8 (bigint) columns hold millisecond times and counters that fit in a double; pg returns them as
// strings by default, which would make the two engines disagree on types.
pg.types.setTypeParser(pg.types.builtins.INT8, (v) => Number.parseInt(v, 10));

export async function openStore(opts: StoreOptions): Promise<Store> {
  return opts.databaseUrl ? openPostgres(opts.databaseUrl) : openSqlite(opts.dataDir);
}

async function openSqlite(dataDir: string): Promise<Store> {
  mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  const file = path.join(dataDir, 'carewire.db');
  const database = new NodeSqliteDatabase(file);
  const db = new Kysely<Database>({
    dialect: new SqliteDialect({ database }),
    plugins: [new LiteralLimitsPlugin()],
  });
  await migrate(db as Kysely<unknown>, 'sqlite');
  let writer: SqliteWriter | undefined;
  let checkpointer: WalCheckpointer | undefined;
  let merger: SearchCopyMerger | undefined;
  let indexDb: Db | undefined;
  const backgroundCheckpoints = () => {
    checkpointer ??= new WalCheckpointer(database.raw, file);
  };
  return {
    db,
    engine: 'sqlite',
    location: file,
    sqlite: database.raw,
    writer() {
      if (!writer) {
        backgroundCheckpoints();
        writer = new SqliteWriter(file, checkpointer?.done);
        merger = new SearchCopyMerger(database.raw, writer);
      }
      return writer;
    },
    backgroundCheckpoints,
    auditIndexDb() {
      indexDb ??= new Kysely<Database>({
        dialect: new SqliteDialect({
          database: new NodeSqliteDatabase(file, (raw) => attachAuditIndex(raw, file)),
        }),
        plugins: [new LiteralLimitsPlugin()],
      });
      return indexDb;
    },
    // Safe beside the background merger: each merge reads how far the other came in its own
    // transaction.
    mergeSearchCopies: () => mergeSearchCopiesNow(db),
    async ping() {
      await sql`select 1`.execute(db);
    },
    async close() {
      await merger?.stop();
      await writer?.close();
      await checkpointer?.stop();
      await indexDb?.destroy();
      await db.destroy();
    },
  };
}

async function openPostgres(url: string): Promise<Store> {
  // A schema can be chosen in the URL (?options=-c%20search_path%3Dname), as tests do to run apart.
  const pool = new pg.Pool({ connectionString: url, max: 10 });
  const db = new Kysely<Database>({ dialect: new SchemaScopedPostgresDialect({ pool }) });
  await migrate(db as Kysely<unknown>, 'postgres');
  const safe = new URL(url);
  safe.password = '';
  return {
    db,
    engine: 'postgres',
    location: safe.toString(),
    writer: () => undefined,
    backgroundCheckpoints() {},
    auditIndexDb: () => db,
    async mergeSearchCopies() {},
    async ping() {
      await sql`select 1`.execute(db);
    },
    async close() {
      await db.destroy();
    },
  };
}
