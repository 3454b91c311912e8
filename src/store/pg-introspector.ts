/**
 * PostgreSQL introspection limited to the connection's own schema.
 *
 * Kysely's stock introspector lists every table of every schema (and resolves each table's
 * columns by qualified name); its migrator calls it on every start. When other CareWire
 * deployments, test files or benchmarks share the database in their own schemas and drop them,
 * that listing fails mid-query with "schema … does not exist". The migrator only needs to know
 * which tables exist in our schema, so this introspector asks exactly that.
 */
import {
  type DatabaseIntrospector,
  type DatabaseMetadata,
  type Kysely,
  PostgresDialect,
  type SchemaMetadata,
  sql,
  type TableMetadata,
} from 'kysely';

class CurrentSchemaIntrospector implements DatabaseIntrospector {
  readonly #db: Kysely<unknown>;
  constructor(db: Kysely<unknown>) {
    this.#db = db;
  }

  async getSchemas(): Promise<SchemaMetadata[]> {
    const r = await sql<{ name: string }>`SELECT current_schema() AS name`.execute(this.#db);
    return r.rows.filter((row) => row.name !== null);
  }

  async getTables(): Promise<TableMetadata[]> {
    const r = await sql<{ table_name: string; table_schema: string; table_type: string }>`
      SELECT table_name, table_schema, table_type FROM information_schema.tables
      WHERE table_schema = current_schema() ORDER BY table_name`.execute(this.#db);
    const cols = await sql<{
      table_name: string;
      column_name: string;
      data_type: string;
      is_nullable: string;
      column_default: string | null;
    }>`
      SELECT table_name, column_name, data_type, is_nullable, column_default FROM information_schema.columns
      WHERE table_schema = current_schema() ORDER BY table_name, ordinal_position`.execute(this.#db);
    return r.rows.map((t) => ({
      name: t.table_name,
      schema: t.table_schema,
      isView: t.table_type === 'VIEW',
      columns: cols.rows
        .filter((c) => c.table_name === t.table_name)
        .map((c) => ({
          name: c.column_name,
          dataType: c.data_type,
          isNullable: c.is_nullable === 'YES',
          hasDefaultValue: c.column_default !== null,
          isAutoIncrementing: c.column_default?.startsWith('nextval(') ?? false,
        })),
    }));
  }

  async getMetadata(): Promise<DatabaseMetadata> {
    return { tables: await this.getTables() };
  }
}

export class SchemaScopedPostgresDialect extends PostgresDialect {
  override createIntrospector(db: Kysely<unknown>): DatabaseIntrospector {
    return new CurrentSchemaIntrospector(db);
  }
}
