import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LOINC } from '../../src/clinical/observations.ts';
import type { MessageRow } from '../../src/hl7/ingest.ts';
import {
  createPgOps,
  OBSERVATION_WIDTH,
  orderedUuid,
  pushObservationParams,
} from '../../src/hl7/store-ops.ts';
import { openStore, type Store } from '../../src/store/db.ts';
import { tempDir } from '../helpers/app.ts';
import { createPgSchema, type PgSchema } from '../helpers/pg.ts';

const UUID_V7 = /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

describe('orderedUuid', () => {
  it('is a version 7 UUID carrying the time in milliseconds, ordered by it, never repeated', () => {
    const seen = new Set<string>();
    let previous = '';
    const start = Date.UTC(2026, 10, 22, 4, 30);
    // Enough ids to wrap the pool of random digits many times.
    for (let i = 0; i < 50_000; i++) {
      const now = start + Math.floor(i / 40);
      const id = orderedUuid(now);
      expect(UUID_V7.test(id)).toBe(true);
      expect(Number.parseInt(id.slice(0, 8) + id.slice(9, 13), 16)).toBe(now);
      expect(seen.has(id)).toBe(false);
      seen.add(id);
      expect(id.slice(0, 13) >= previous.slice(0, 13)).toBe(true);
      previous = id;
    }
  });

  it('refuses a time that is not whole milliseconds within 48 bits', () => {
    for (const bad of [Number.NaN, -1, 2 ** 48, 1.5, Number.POSITIVE_INFINITY]) {
      expect(() => orderedUuid(bad)).toThrow(RangeError);
    }
  });
});

describe('pushObservationParams', () => {
  it('appends one row of parameters per draft with the defaults of a stored observation', () => {
    const out: unknown[] = ['before'];
    pushObservationParams(
      out as never,
      [
        { code: '8867-4', effectiveAt: 10, source: 'hl7', valueNum: 72, unit: '/min' },
        {
          code: 'x',
          codeSystem: 'local',
          effectiveAt: 11,
          source: 'hl7',
          valueText: 'text',
          status: 'preliminary',
        },
      ],
      'patient-1',
      '42',
      99,
    );
    expect(out).toHaveLength(1 + 2 * OBSERVATION_WIDTH);
    const [first, second] = [out.slice(1, 1 + OBSERVATION_WIDTH), out.slice(1 + OBSERVATION_WIDTH)];
    expect(UUID_V7.test(first[0] as string)).toBe(true);
    expect(first.slice(1)).toEqual([
      'patient-1',
      '8867-4',
      LOINC,
      null,
      null,
      72,
      null,
      '/min',
      null,
      null,
      'final',
      null,
      null,
      10,
      99,
      'hl7',
      '42',
    ]);
    expect(second.slice(1)).toEqual([
      'patient-1',
      'x',
      'local',
      null,
      null,
      null,
      'text',
      null,
      null,
      null,
      'preliminary',
      null,
      null,
      11,
      99,
      'hl7',
      '42',
    ]);
  });
});

describe('PostgreSQL batch statements (rows as one array per column)', () => {
  let schema: PgSchema;
  let store: Store;
  beforeAll(async () => {
    schema = await createPgSchema();
    store = await openStore({ dataDir: tempDir('cw-pgops-'), databaseUrl: schema.url });
  });
  afterAll(async () => {
    await store.close();
    await schema.drop();
  });

  // Characters an array literal must escape, and values it must keep apart from NULL.
  const AWKWARD = [
    'a"b',
    'back\\slash',
    '{braces}',
    'comma, here',
    'NULL',
    '',
    ' spaced ',
    'Zoë ✓',
    'line\nbreak',
  ];

  const row = (key: string | null, raw: string): MessageRow => ({
    dedup_key: key,
    control_id: raw,
    sending_app: 'APP',
    sending_facility: '',
    message_type: 'ORU',
    trigger_event: 'R01',
    version: '2.6',
    received_at: 1_700_000_000_123,
    raw,
    ack: `MSA|AA|${raw}`,
    ack_code: 'AA',
    patient_id: null,
    error: null,
  });

  it('stores every value exactly, reports duplicates, and finds stored keys and patients', async () => {
    const ops = createPgOps(store);
    const ids = await store.db
      .transaction()
      .execute((trx) =>
        ops.insertMessages(trx, [
          ...AWKWARD.map((v, i) => row(`k${i}`, v)),
          row(null, 'no key'),
          row('k0', 'again'),
        ]),
      );
    expect(ids.slice(0, AWKWARD.length + 1).every((id) => typeof id === 'number')).toBe(true);
    // The second k0 conflicts with the first of the same statement: not stored.
    expect(ids.at(-1)).toBeUndefined();
    const stored = await store.db
      .selectFrom('hl7_messages')
      .select(['id', 'raw', 'control_id', 'ack', 'dedup_key', 'received_at'])
      .orderBy('id')
      .execute();
    expect(stored.map((r) => r.raw)).toEqual([...AWKWARD, 'no key']);
    expect(stored.map((r) => r.control_id)).toEqual([...AWKWARD, 'no key']);
    expect(stored.map((r) => r.ack)).toEqual([...AWKWARD, 'no key'].map((v) => `MSA|AA|${v}`));
    expect(stored.at(-1)!.dedup_key).toBeNull();
    expect(stored[0]!.received_at).toBe(1_700_000_000_123);
    const found = await store.db.transaction().execute((trx) => ops.findStored(trx, ['k1', 'k404']));
    expect([...found.keys()]).toEqual(['k1']);
    expect(found.get('k1')).toEqual({ id: stored[1]!.id, ack: 'MSA|AA|back\\slash', code: 'AA' });

    await store.db
      .insertInto('patients')
      .values({
        id: 'p-1',
        mrn: 'M"1',
        family_name: 'F',
        given_name: 'G',
        created_at: 1,
        updated_at: 1,
      } as never)
      .execute();
    const patients = await store.db
      .transaction()
      .execute((trx) => ops.findPatients(trx, ['M"1', 'M"1', 'none']));
    expect([...patients]).toEqual([['M"1', 'p-1']]);
    // Outside a transaction too (a side-by-side batch reads its patients before its own).
    expect([...(await ops.findPatients(null, ['none', 'M"1']))]).toEqual([['M"1', 'p-1']]);

    await store.db.transaction().execute((trx) =>
      ops.insertObservations(
        trx,
        AWKWARD.map((v, i) => ({
          patientId: 'p-1',
          code: v,
          display: v === '' ? undefined : v,
          valueNum: i === 0 ? 1.5e300 : i === 1 ? -0.25 : undefined,
          valueText: i > 1 ? v : undefined,
          effectiveAt: 1_700_000_000_000 + i,
          source: 'hl7' as const,
          sourceRef: String(i),
        })),
      ),
    );
    const obs = await store.db
      .selectFrom('observations')
      .select([
        'code',
        'display',
        'value_num',
        'value_text',
        'effective_at',
        'source_ref',
        'status',
        'code_system',
      ])
      .orderBy('effective_at')
      .execute();
    expect(obs.map((o) => o.code)).toEqual(AWKWARD);
    expect(obs.map((o) => o.display)).toEqual(AWKWARD.map((v) => (v === '' ? null : v)));
    expect(obs.slice(0, 3).map((o) => o.value_num)).toEqual([1.5e300, -0.25, null]);
    expect(obs[2]!.value_text).toBe('{braces}');
    expect(obs.map((o) => o.source_ref)).toEqual(AWKWARD.map((_, i) => String(i)));
    expect(obs[0]!.status).toBe('final');
    expect(obs[0]!.code_system).toBe(LOINC);
  });
});
