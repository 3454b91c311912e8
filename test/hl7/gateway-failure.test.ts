/**
 * A store that fails to apply a message gets an AE 207, and the raw message is kept so the
 * failure is visible. When the store failed for a reason of its own (standing in for a busy
 * timeout, a lost connection or a full disk), the sender's resend of the same message (same
 * MSH-3 + MSH-10) is applied once the store recovers, not refused for ever with the stored AE.
 * When the store refused the content (a constraint), the resend is answered with that AE from the
 * store and not applied again. Both paths: a result for a known patient (on SQLite the writer
 * thread) and one that creates its patient (the main connection).
 */
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ENGINES } from '../helpers/app.ts';
import { seedWorld } from '../helpers/fixtures.ts';
import {
  errSegments,
  exchange,
  framed,
  type Hl7App,
  msa,
  startHl7App,
  storedRows,
} from './gateway-helpers.ts';

const oru = (controlId: string, mrn: string) =>
  [
    `MSH|^~\\&|LAB|HOSP|CW|CW|20260302100000+0000||ORU^R01|${controlId}|P|2.5.1`,
    `PID|1||${mrn}^^^HOSP^MR||Newman^Nora||19881130|F`,
    'OBR|1|||24321-2^BMP^LN|||20260302094500+0000',
    'OBX|1|NM|2823-3^Potassium^LN||5.9|mmol/L^mmol/L^UCUM|3.5-5.1|H|||F',
    '',
  ].join('\r');

describe.each(ENGINES)('HL7 apply failure on %s', (engine) => {
  let t: Hl7App;

  beforeAll(async () => {
    t = await startHl7App(engine, {}, async (s) => {
      await seedWorld(s);
    });
  });
  afterAll(async () => {
    await t.close();
  });

  /**
   * Makes every observation insert fail until undone: `transient` like a store failing for a
   * reason of its own (SQLite: a statement that cannot be prepared; PostgreSQL: SQLSTATE 53100,
   * disk full), otherwise as a refusal of the content (a constraint; SQLSTATE 23514).
   */
  const failObservations = async (how: 'transient' | 'content' | 'off') => {
    const db = t.services.store.db;
    if (engine === 'sqlite') {
      const body =
        how === 'transient' ? 'SELECT carewire_no_such_function()' : "SELECT RAISE(ABORT, 'refused value')";
      await sql
        .raw(
          how === 'off'
            ? 'DROP TRIGGER fail_obs'
            : `CREATE TRIGGER fail_obs BEFORE INSERT ON observations BEGIN ${body}; END`,
        )
        .execute(db);
    } else if (how === 'off') {
      await sql.raw('DROP TRIGGER fail_obs ON observations').execute(db);
    } else {
      const state = how === 'transient' ? '53100' : '23514';
      await sql
        .raw(`CREATE OR REPLACE FUNCTION fail_obs() RETURNS trigger AS $$
            BEGIN RAISE EXCEPTION 'disk hiccup' USING ERRCODE = '${state}'; END $$ LANGUAGE plpgsql;
          CREATE TRIGGER fail_obs BEFORE INSERT ON observations FOR EACH ROW EXECUTE FUNCTION fail_obs()`)
        .execute(db);
    }
  };

  const send = async (text: string) => {
    const r = await exchange(t.port, [framed(text)], { expect: 1 });
    expect(r.replies).toHaveLength(1);
    return r.replies[0]!;
  };

  it.each([
    ['a known patient', 'F-1', 'T-1'],
    ['a new patient', 'F-2', 'NEW-F2'],
  ])('a store failure is AE 207; the resend after recovery is applied and AA (%s)', async (_, id, mrn) => {
    const message = oru(id, mrn);
    await failObservations('transient');
    let ack: string;
    try {
      ack = await send(message);
    } finally {
      await failObservations('off');
    }
    expect(msa(ack)).toEqual({ code: 'AE', controlId: id });
    expect(errSegments(ack).join('\n')).toMatch(/\|207\^/);

    const again = await send(message);
    expect(msa(again)).toEqual({ code: 'AA', controlId: id });
    // Stored once more would be a duplicate: a third send is answered from the store, AA.
    expect(msa(await send(message))).toEqual({ code: 'AA', controlId: id });

    const rows = (await storedRows(t.services)).filter((r) => r.control_id === id);
    expect(rows.map((r) => [r.ack_code, r.dedup_key === null])).toEqual([
      ['AE', true],
      ['AA', false],
    ]);
    const obs = await t.services.store.db
      .selectFrom('observations')
      .select(['code', 'value_num'])
      .where('source_ref', '=', String(rows[1]!.id))
      .execute();
    expect(obs).toEqual([{ code: '2823-3', value_num: 5.9 }]);
  });

  it('a failing registry batch is retried message by message before any later batch', async () => {
    // Refuse one value only: the batch holding it fails, its other messages must still apply in
    // their order and before the admit written after them (an admit retried late would undo it).
    const db = t.services.store.db;
    if (engine === 'sqlite') {
      await sql
        .raw(
          "CREATE TRIGGER fail_666 BEFORE INSERT ON observations WHEN NEW.value_num = 666 BEGIN SELECT RAISE(ABORT, 'refused value'); END",
        )
        .execute(db);
    } else {
      await sql
        .raw(`CREATE OR REPLACE FUNCTION fail_666() RETURNS trigger AS $$
            BEGIN IF NEW.value_num = 666 THEN PERFORM pg_sleep(0.3); RAISE EXCEPTION 'refused value' USING ERRCODE = '23514'; END IF;
            RETURN NEW; END $$ LANGUAGE plpgsql;
          CREATE TRIGGER fail_666 BEFORE INSERT ON observations FOR EACH ROW EXECUTE FUNCTION fail_666()`)
        .execute(db);
    }
    const mrn = `ORDER-${engine}`;
    const admit = (id: string, family: string) =>
      [
        `MSH|^~\\&|ADT|HOSP|CW|CW|20260302100000+0000||ADT^A01|${id}|P|2.5.1`,
        'EVN|A01|20260302100000',
        `PID|1||${mrn}^^^HOSP^MR||${family}^Nora||19881130|F`,
        'PV1|1|I|ICU^1^1',
        '',
      ].join('\r');
    const bad = oru('R-2', mrn).replace('|5.9|', '|666|');
    let replies: string[];
    try {
      // The admit v3 comes 100 ms later on another connection: on PostgreSQL the failing batch is
      // still in flight then (the refusal waits 300 ms), so v3's batch queues behind it.
      const first = exchange(
        t.port,
        [Buffer.concat([framed(admit('R-1', 'v1')), framed(bad), framed(admit('R-3', 'v2'))])],
        {
          expect: 3,
        },
      );
      await new Promise((r) => setTimeout(r, 100));
      const later = exchange(t.port, [framed(admit('R-4', 'v3'))], { expect: 1 });
      replies = [...(await first).replies, ...(await later).replies];
    } finally {
      await sql
        .raw(engine === 'sqlite' ? 'DROP TRIGGER fail_666' : 'DROP TRIGGER fail_666 ON observations')
        .execute(db);
    }
    expect(replies.map((x) => [msa(x).controlId, msa(x).code])).toEqual([
      ['R-1', 'AA'],
      ['R-2', 'AE'],
      ['R-3', 'AA'],
      ['R-4', 'AA'],
    ]);
    const patient = await db
      .selectFrom('patients')
      .select('family_name')
      .where('mrn', '=', mrn)
      .executeTakeFirstOrThrow();
    expect(patient.family_name).toBe('v3');
  });

  it('content the store refuses is AE 207 once: a resend is answered from the store, not retried', async () => {
    const message = oru('F-3', 'T-1');
    await failObservations('content');
    let first: string;
    let resent: string;
    try {
      first = await send(message);
      resent = await send(message);
    } finally {
      await failObservations('off');
    }
    expect(msa(first)).toEqual({ code: 'AE', controlId: 'F-3' });
    expect(resent).toBe(first);
    // Even once the refusal is gone, the message stays answered as it was (HL7: AE, fix and resend
    // with a new control id).
    expect(await send(message)).toBe(first);
    const rows = (await storedRows(t.services)).filter((r) => r.control_id === 'F-3');
    expect(rows.map((r) => [r.ack_code, r.dedup_key !== null])).toEqual([['AE', true]]);
  });
});
