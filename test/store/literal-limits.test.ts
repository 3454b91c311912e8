/**
 * LIMIT and OFFSET reach SQLite as literals (src/store/literal-limits.ts): a cached statement with
 * a bound LIMIT was compiled again on every run, which cost the FHIR search a fifth of its SQL time.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { openStore, type Store } from '../../src/store/db.ts';
import { tempDir } from '../helpers/app.ts';

const SQLITE_SELECT = 21;

describe('LIMIT and OFFSET on SQLite', () => {
  let store: Store;
  afterEach(async () => {
    await store.close();
  });

  it('are written into the SQL text, not bound', async () => {
    store = await openStore({ dataDir: tempDir('cw-limit-') });
    const c = store.db
      .selectFrom('patients')
      .select('id')
      .where('mrn', '=', 'x')
      .limit(51)
      .offset(7)
      .compile();
    expect(c.sql).toMatch(/limit 51 offset 7$/);
    expect(c.parameters).toEqual(['x']);
  });

  it('a cached statement with a LIMIT runs again without being compiled again', async () => {
    store = await openStore({ dataDir: tempDir('cw-limit-') });
    let compiled = 0;
    // The authorizer runs whenever SQLite compiles a statement, a re-prepare included.
    store.sqlite!.setAuthorizer((action) => {
      if (action === SQLITE_SELECT) compiled++;
      return 0;
    });
    for (let i = 0; i < 5; i++)
      await store.db.selectFrom('patients').select('id').where('mrn', '=', `m-${i}`).limit(10).execute();
    expect(compiled).toBe(1);
  });

  it('leaves a limit that is not a plain integer to be bound', async () => {
    store = await openStore({ dataDir: tempDir('cw-limit-') });
    const c = store.db.selectFrom('patients').select('id').limit(2.5).compile();
    expect(c.sql).toMatch(/limit \?$/);
    expect(c.parameters).toEqual([2.5]);
  });
});
