/**
 * Adapts Node's built-in `node:sqlite` to the interface Kysely's SqliteDialect expects, so the
 * embedded store needs no native addon. Prepared statements are cached by SQL text because Kysely
 * prepares on every query and preparing costs more than running a small indexed query.
 */
import { DatabaseSync, type SQLInputValue, type StatementSync } from 'node:sqlite';
import type { SqliteDatabase, SqliteStatement } from 'kysely';

const MAX_CACHED_STATEMENTS = 500;

function toSqlite(params: ReadonlyArray<unknown>): SQLInputValue[] {
  // node:sqlite binds null, numbers, bigints, strings and bytes; booleans become 0/1 as SQLite stores them.
  return params.map((p) => {
    if (typeof p === 'boolean') return p ? 1 : 0;
    if (p === undefined) return null;
    if (p instanceof Date) return p.getTime();
    return p as SQLInputValue;
  });
}

class CachedStatement implements SqliteStatement {
  readonly reader: boolean;
  readonly #stmt: StatementSync;
  constructor(stmt: StatementSync) {
    this.#stmt = stmt;
    this.reader = stmt.columns().length > 0;
  }
  all(parameters: ReadonlyArray<unknown>): unknown[] {
    return this.#stmt.all(...toSqlite(parameters));
  }
  run(parameters: ReadonlyArray<unknown>): { changes: number | bigint; lastInsertRowid: number | bigint } {
    return this.#stmt.run(...toSqlite(parameters));
  }
  iterate(parameters: ReadonlyArray<unknown>): IterableIterator<unknown> {
    return this.#stmt.iterate(...toSqlite(parameters));
  }
}

export class NodeSqliteDatabase implements SqliteDatabase {
  readonly raw: DatabaseSync;
  readonly #cache = new Map<string, CachedStatement>();

  /** `init` runs once the connection is set up (attaching another file, say). */
  constructor(file: string, init?: (raw: DatabaseSync) => void) {
    this.raw = new DatabaseSync(file);
    // WAL lets readers run beside the writer; synchronous=FULL fsyncs the WAL on every commit so an
    // acknowledged write survives power loss (NORMAL would only survive a process crash).
    this.raw.exec('PRAGMA journal_mode = WAL');
    this.raw.exec('PRAGMA synchronous = FULL');
    this.raw.exec('PRAGMA busy_timeout = 5000');
    this.raw.exec('PRAGMA foreign_keys = ON');
    // No memory-mapped I/O: after every commit by another connection (the writer thread commits
    // every millisecond or two under load) SQLite unmaps the whole mapping at the next read and
    // faults every page in again. perf on the FHIR search benchmark: munmap and page faults were
    // 10 % of the process's CPU; without mmap a search costs 15 % less CPU (docs/benchmarks.md).
    init?.(this.raw);
  }

  prepare(text: string): SqliteStatement {
    // Kysely begins with a deferred `begin`. A transaction that reads and then writes would fail at
    // once (SQLITE_BUSY, no busy wait) if the writer thread committed in between; IMMEDIATE takes
    // the write lock up front and waits for it through busy_timeout instead.
    const sql = text === 'begin' ? 'begin immediate' : text;
    let stmt = this.#cache.get(sql);
    if (!stmt) {
      if (this.#cache.size >= MAX_CACHED_STATEMENTS) this.#cache.clear();
      stmt = new CachedStatement(this.raw.prepare(sql));
      this.#cache.set(sql, stmt);
    }
    return stmt;
  }

  close(): void {
    this.#cache.clear();
    if (this.raw.isOpen) this.raw.close();
  }
}
