/**
 * The tamper-evident audit log (RFC 6962 Merkle tree, src/audit/) and manual patient records.
 *
 * - `audit_events` becomes the Merkle log's entry table: `seq` is the 0-based leaf index, `entry`
 *   holds the exact RFC 8785 canonical bytes the leaf hash commits to and `leaf` that hash (the
 *   tree's level 0); the other columns are copies for filtering, never used by verification. The
 *   foundation's table is kept, renamed `audit_events_v1`; the audit log imports its rows as the
 *   first Merkle entries on first start.
 * - `audit_tree`: complete-subtree hashes `(level, idx)` for levels ≥ 1, written with the entries
 *   of each batch. Level 0 lives in the entry row: one B-tree insert less per entry, the largest
 *   single saving in bench/audit.ts.
 * - `audit_checkpoints`: signed C2SP checkpoints (tree heads), one per size.
 * - `audit_patient_refs`: entries that touched several patients (a patient list), so "who
 *   accessed my record" finds them without scanning the log.
 * - `records`: manual records (temperature, blood pressure, weight, note). A change never
 *   overwrites: it adds a version pointing to the previous one.
 *
 * Every table here is append-only in the engine itself: triggers refuse UPDATE and DELETE. An
 * attacker with database access can drop the triggers, which is why the log is also a Merkle tree.
 */
import { type Kysely, sql } from 'kysely';
import type { MigrationContext } from './index.ts';

const APPEND_ONLY = ['audit_events', 'audit_tree', 'audit_checkpoints', 'audit_patient_refs', 'records'];

export async function up(db: Kysely<unknown>, { engine }: MigrationContext): Promise<void> {
  const pg = engine === 'postgres';
  // The foundation's table, kept as it was (append-only, its own triggers follow the rename).
  await sql`ALTER TABLE audit_events RENAME TO audit_events_v1`.execute(db);

  // SQLite: an INTEGER PRIMARY KEY is the rowid itself (no second index); PostgreSQL: bigint.
  await db.schema
    .createTable('audit_events')
    .addColumn('seq', pg ? 'bigint' : 'integer', (c) => c.notNull())
    .addColumn('recorded', 'bigint', (c) => c.notNull())
    .addColumn('type', 'text', (c) => c.notNull())
    .addColumn('outcome', 'integer', (c) => c.notNull())
    .addColumn('user_id', 'text')
    .addColumn('patient_id', 'text')
    .addColumn('entry', 'text', (c) => c.notNull())
    .addColumn('leaf', pg ? 'bytea' : 'blob', (c) => c.notNull())
    .addPrimaryKeyConstraint('audit_log_pk', ['seq'])
    .execute();
  // Only the patient index: "who accessed my record" must stay fast at any log size. Each index
  // costs about 3 µs per append (bench/audit.ts); filters by user or type scan by seq instead.
  await db.schema
    .createIndex('audit_log_patient')
    .on('audit_events')
    .columns(['patient_id', 'seq'])
    .execute();

  let tree = db.schema
    .createTable('audit_tree')
    .addColumn('level', 'integer', (c) => c.notNull())
    .addColumn('idx', 'bigint', (c) => c.notNull())
    .addColumn('hash', pg ? 'bytea' : 'blob', (c) => c.notNull())
    .addPrimaryKeyConstraint('audit_tree_pk', ['level', 'idx']);
  // Looked up by its key only: without a rowid SQLite stores each node once, in key order.
  if (!pg) tree = tree.modifyEnd(sql`WITHOUT ROWID`);
  await tree.execute();

  await db.schema
    .createTable('audit_checkpoints')
    .addColumn('size', 'bigint', (c) => c.notNull())
    .addColumn('root', 'text', (c) => c.notNull())
    .addColumn('note', 'text', (c) => c.notNull())
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .addPrimaryKeyConstraint('audit_checkpoints_pk', ['size'])
    .execute();

  let refs = db.schema
    .createTable('audit_patient_refs')
    .addColumn('patient_id', 'text', (c) => c.notNull())
    .addColumn('seq', 'bigint', (c) => c.notNull())
    .addPrimaryKeyConstraint('audit_patient_refs_pk', ['patient_id', 'seq']);
  if (!pg) refs = refs.modifyEnd(sql`WITHOUT ROWID`);
  await refs.execute();

  await db.schema
    .createTable('records')
    .addColumn('version_id', 'text', (c) => c.primaryKey())
    .addColumn('record_id', 'text', (c) => c.notNull())
    .addColumn('version', 'integer', (c) => c.notNull())
    // Unique: two edits of the same version cannot both succeed, so history stays a line.
    .addColumn('previous_id', 'text', (c) => c.unique())
    .addColumn('patient_id', 'text', (c) => c.notNull().references('patients.id').onDelete('restrict'))
    .addColumn('kind', 'text', (c) => c.notNull())
    .addColumn('value_num', 'double precision')
    .addColumn('value_num2', 'double precision')
    .addColumn('unit', 'text')
    .addColumn('text', 'text')
    .addColumn('effective_at', 'bigint', (c) => c.notNull())
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .addColumn('author_id', 'text', (c) => c.notNull())
    .addColumn('author_role', 'text', (c) => c.notNull())
    .addColumn('author_name', 'text', (c) => c.notNull())
    .addUniqueConstraint('records_record_version', ['record_id', 'version'])
    .execute();
  await db.schema
    .createIndex('records_patient')
    .on('records')
    .columns(['patient_id', 'effective_at'])
    .execute();

  for (const table of APPEND_ONLY) {
    if (pg) {
      // carewire_audit_append_only() comes from 0001; its message names audit_events, so each
      // table gets a function naming itself.
      await sql
        .raw(`CREATE FUNCTION ${table}_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN RAISE EXCEPTION '${table} is append-only'; END $$`)
        .execute(db);
      await sql
        .raw(`CREATE TRIGGER ${table}_append_only BEFORE UPDATE OR DELETE ON ${table}
        FOR EACH ROW EXECUTE FUNCTION ${table}_append_only()`)
        .execute(db);
    } else {
      await sql
        .raw(`CREATE TRIGGER ${table}_append_only_u BEFORE UPDATE ON ${table}
        BEGIN SELECT RAISE(ABORT, '${table} is append-only'); END`)
        .execute(db);
      await sql
        .raw(`CREATE TRIGGER ${table}_append_only_d BEFORE DELETE ON ${table}
        BEGIN SELECT RAISE(ABORT, '${table} is append-only'); END`)
        .execute(db);
    }
  }
}
