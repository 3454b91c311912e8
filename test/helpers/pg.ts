/**
 * PostgreSQL for tests: the real server (127.0.0.1:5432, database `test` in CI). Each test file
 * gets its own schema so files can run in parallel; it is dropped afterwards. No fallback: if
 * PostgreSQL is not reachable these tests fail, as CI requires.
 */
import { randomBytes } from 'node:crypto';
import pg from 'pg';

export const PG_BASE_URL =
  process.env.CAREWIRE_TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';

export interface PgSchema {
  url: string;
  drop(): Promise<void>;
}

export async function createPgSchema(): Promise<PgSchema> {
  const name = `cw_t_${randomBytes(6).toString('hex')}`;
  const client = new pg.Client({ connectionString: PG_BASE_URL });
  await client.connect();
  await client.query(`CREATE SCHEMA ${name}`);
  await client.end();
  const url = new URL(PG_BASE_URL);
  url.searchParams.set('options', `-c search_path=${name}`);
  return {
    url: url.toString(),
    async drop() {
      const c = new pg.Client({ connectionString: PG_BASE_URL });
      await c.connect();
      await c.query(`DROP SCHEMA ${name} CASCADE`);
      await c.end();
    },
  };
}
