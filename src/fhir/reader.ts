/**
 * Where the FHIR API's hot reads run. On PostgreSQL: the store's pool, through Kysely. On SQLite:
 * a second, read-only connection to the same file, so searches neither queue behind the writer's
 * group-commit transactions on the shared connection nor change its settings. (Not memory-mapped:
 * see sqlite-driver.ts.) WAL lets this reader see every committed write at once.
 *
 * Queries are still built with Kysely (one SQL text for both engines) and compiled here; the
 * compiled SQL text keys a prepared-statement cache.
 */
import { DatabaseSync, type SQLInputValue, type StatementSync } from 'node:sqlite';
import type { Compilable, CompiledQuery } from 'kysely';
import type { Store } from '../store/db.ts';

const MAX_STATEMENTS = 200;
/** The read connection's page cache (SQLite's default size; see the constructor). */
const READER_CACHE_KIB = 2048;

type RowBuilder = (row: readonly SQLInputValue[]) => Record<string, SQLInputValue>;

/**
 * A function `(row) => ({ col0: row[0], col1: row[1], … })` for these column names: an object
 * literal of fixed shape is built several times faster than one filled key by key (measured on a
 * 50-row page). The names come from SQLite's description of our own prepared statement, and are
 * embedded with JSON.stringify, so no text from a request reaches the generated code.
 */
function rowBuilder(names: readonly string[]): RowBuilder {
  const fields = names.map((n, i) => `${JSON.stringify(n)}: r[${i}]`).join(', ');
  return new Function('r', `return { ${fields} };`) as RowBuilder;
}

export class FhirReader {
  readonly #store: Store;
  readonly #conn: DatabaseSync | undefined;
  readonly #stmts = new Map<string, { st: StatementSync; toObject: RowBuilder }>();

  constructor(store: Store) {
    this.#store = store;
    if (store.engine === 'sqlite') {
      this.#conn = new DatabaseSync(store.location, { readOnly: true });
      this.#conn.exec('PRAGMA busy_timeout = 5000');
      // A small page cache, on purpose. When another connection has committed since this one last
      // read (the writer thread commits every millisecond or so under load: audit entries, vitals),
      // SQLite throws this connection's whole cache away at its next read, and the cost of that
      // grows with the cache's size: measured on the benchmark's 1 M observations, a 50-row search
      // after another connection's commit took 179 µs with a 128 MB cache, 62 with 8 MB and 53
      // with 2 MB (49 with no commit between). The pages come back from the OS page cache.
      this.#conn.exec(`PRAGMA cache_size = -${READER_CACHE_KIB}`);
    }
  }

  get engine(): Store['engine'] {
    return this.#store.engine;
  }

  /** The query builder (queries are built on the store's Kysely instance, run here). */
  get db(): Store['db'] {
    return this.#store.db;
  }

  async all<T>(q: Compilable<T>): Promise<T[]> {
    return this.run<T>(q.compile());
  }

  /**
   * Runs a query compiled once, with new parameters: the hot look-ups by id skip building and
   * compiling the same SQL on every request.
   */
  async run<T>(c: CompiledQuery<T>, parameters?: readonly unknown[]): Promise<T[]> {
    if (parameters) c = { ...c, parameters };
    if (!this.#conn) return (await this.#store.db.executeQuery(c)).rows as T[];
    let p = this.#stmts.get(c.sql);
    if (!p) {
      if (this.#stmts.size >= MAX_STATEMENTS) this.#stmts.clear();
      const st = this.#conn.prepare(c.sql);
      // Rows as arrays, turned into objects here: node:sqlite sets each column of an object row
      // through the engine's slow path, which cost more than the query itself on a 50-row page of
      // 18 columns (measured 252 µs against 105 µs as arrays; .prof scripts in docs/benchmarks.md).
      st.setReturnArrays(true);
      p = { st, toObject: rowBuilder(st.columns().map((col) => col.name)) };
      this.#stmts.set(c.sql, p);
    }
    const rows = p.st.all(...(c.parameters as SQLInputValue[])) as unknown as SQLInputValue[][];
    const out = new Array<T>(rows.length);
    for (let i = 0; i < rows.length; i++) out[i] = p.toObject(rows[i]!) as T;
    return out;
  }

  async first<T>(q: Compilable<T>): Promise<T | undefined> {
    return (await this.all(q))[0];
  }

  close(): void {
    this.#stmts.clear();
    if (this.#conn?.isOpen) this.#conn.close();
  }
}
