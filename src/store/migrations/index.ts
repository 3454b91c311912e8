/**
 * One ordered list of migrations for both engines. Each feature adds a file `NNNN_name.ts` with an
 * `up(db, ctx)` and one line below. Column types are the portable subset (text, integer, bigint);
 * engine-specific SQL (triggers, auto-increment keys) branches on `ctx.engine` inside a migration.
 * Applied migrations are never edited: a change is a new migration.
 */
import { type Kysely, type Migration, type MigrationProvider, Migrator, sql } from 'kysely';
import type { Engine } from '../db.ts';
import * as m0001 from './0001_foundation.ts';
import * as m0002 from './0002_observations.ts';
import * as m0003 from './0003_hl7.ts';
import * as m0004 from './0004_telemetry.ts';
import * as m0005 from './0005_audit_log.ts';
import * as m0006 from './0006_fhir.ts';
import * as m0007 from './0007_audit_patient_index.ts';
import * as m0008 from './0008_audit_index_file.ts';
import * as m0009 from './0009_alarm_write_pages.ts';
import * as m0010 from './0010_observation_search.ts';
import * as m0011 from './0011_patient_index_merge.ts';
import * as m0012 from './0012_search_copy_id_lookup.ts';

export interface MigrationContext {
  engine: Engine;
  /** Column type for an auto-incrementing integer key. */
  autoId: 'bigserial' | 'integer';
}

type Up = (db: Kysely<unknown>, ctx: MigrationContext) => Promise<void>;

const MIGRATIONS: Array<[string, Up]> = [
  ['0001_foundation', m0001.up],
  ['0002_observations', m0002.up],
  ['0003_hl7', m0003.up],
  ['0004_telemetry', m0004.up],
  ['0005_audit_log', m0005.up],
  ['0006_fhir', m0006.up],
  ['0007_audit_patient_index', m0007.up],
  ['0008_audit_index_file', m0008.up],
  ['0009_alarm_write_pages', m0009.up],
  ['0010_observation_search', m0010.up],
  ['0011_patient_index_merge', m0011.up],
  ['0012_search_copy_id_lookup', m0012.up],
];

class CodeMigrations implements MigrationProvider {
  readonly #ctx: MigrationContext;
  constructor(engine: Engine) {
    this.#ctx = { engine, autoId: engine === 'postgres' ? 'bigserial' : 'integer' };
  }
  async getMigrations(): Promise<Record<string, Migration>> {
    return Object.fromEntries(
      MIGRATIONS.map(([name, up]) => [name, { up: (db: Kysely<unknown>) => up(db, this.#ctx) }]),
    );
  }
}

/** Applies every migration, or (`until`, for upgrade tests) those up to and including that one. */
export async function migrate(db: Kysely<unknown>, engine: Engine, until?: string): Promise<void> {
  // Kysely looks for its lock table in every schema unless told which one: with several schemas
  // in one database (tests, benchmarks) another schema's table made it skip creating its own.
  const schema =
    engine === 'postgres'
      ? (await sql<{ s: string }>`SELECT current_schema() AS s`.execute(db)).rows[0]?.s
      : undefined;
  const migrator = new Migrator({
    db,
    provider: new CodeMigrations(engine),
    ...(schema ? { migrationTableSchema: schema } : {}),
  });
  const { error, results } = until ? await migrator.migrateTo(until) : await migrator.migrateToLatest();
  const failed = results?.find((r) => r.status === 'Error');
  if (error || failed) {
    const name = failed ? ` (${failed.migrationName})` : '';
    throw new Error(
      `database migration failed${name}: ${error instanceof Error ? error.message : String(error)}`,
    );
  }
}
