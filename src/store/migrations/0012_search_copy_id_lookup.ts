/**
 * SQLite: the search copy keeps no index of its own on `id`.
 *
 * `observation_search_id` (0010) let FHIR `_id` searches reach the merged copy without scanning it,
 * at the price of one more b-tree insert per observation in every merge. Under `npm run bench --
 * hl7`, three alternating pairs of this migration against the code before it: the writer thread
 * spent 171–177 instead of 180–187 µs per message, lower in each pair; the rate moved within the
 * noise (+0–1 %). Look-ups by id now find the row through the observations table's own unique
 * `id` index and reach the copy by its primary key (`observationIdsCond` in observation-search.ts).
 *
 * PostgreSQL has no copy; nothing changes there.
 */
import { type Kysely, sql } from 'kysely';
import type { MigrationContext } from './index.ts';

export async function up(db: Kysely<unknown>, { engine }: MigrationContext): Promise<void> {
  if (engine === 'postgres') return;
  await sql`DROP INDEX observation_search_id`.execute(db);
}
