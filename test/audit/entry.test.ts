import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  AUDIT_ACTIONS,
  AUDIT_OUTCOMES,
  type AuditEntry,
  AuditEntryError,
  CanonicalJsonError,
  canonicalJson,
  decodeEntry,
  encodeEntry,
  entryLeafHash,
  type JsonValue,
  leafHash,
  MAX_ENTRY_BYTES,
  toHex,
} from '../../src/audit/merkle/index.ts';
import { sampleEntry } from './fixtures.ts';

describe('RFC 8785 canonical JSON', () => {
  it('matches the RFC 8785 §3.2.3 sample byte for byte', () => {
    const input = String.raw`{"numbers":[333333333.33333329,1E30,4.50,2e-3,0.000000000000000000000000001],"string":"\u20ac$\u000F\u000aA'\u0042\u0022\u005c\\\"\/","literals":[null,true,false]}`;
    const want = String.raw`{"literals":[null,true,false],"numbers":[333333333.3333333,1e+30,4.5,0.002,1e-27],"string":"€$\u000f\nA'B\"\\\\\"/"}`;
    expect(canonicalJson(JSON.parse(input))).toBe(want);
  });

  it('sorts keys by UTF-16 code units (RFC 8785 §3.2.3 property sorting example)', () => {
    const input = String.raw`{"\u20ac":"Euro Sign","\r":"Carriage Return","\ufb33":"Hebrew Letter Dalet With Dagesh","1":"One","\ud83d\ude00":"Emoji: Grinning Face","\u0080":"Control","\u00f6":"Latin Small Letter O With Diaeresis"}`;
    const want =
      '{"\\r":"Carriage Return","1":"One","\u0080":"Control","\u00f6":"Latin Small Letter O With Diaeresis",' +
      '"\u20ac":"Euro Sign","\ud83d\ude00":"Emoji: Grinning Face","\ufb33":"Hebrew Letter Dalet With Dagesh"}';
    expect(canonicalJson(JSON.parse(input))).toBe(want);
  });

  it('refuses what I-JSON cannot carry', () => {
    expect(() => canonicalJson({ a: Number.NaN })).toThrow(CanonicalJsonError);
    expect(() => canonicalJson({ a: Number.POSITIVE_INFINITY })).toThrow(/not a JSON number/);
    expect(() => canonicalJson({ a: '\ud800' })).toThrow(/lone surrogate/);
    expect(() => canonicalJson({ a: new Date(0) })).toThrow(/plain object/);
    expect(() => canonicalJson([undefined])).toThrow(/undefined/);
    expect(() => canonicalJson({ a: 1n })).toThrow(/bigint/);
    let deep: unknown = 1;
    for (let i = 0; i < 40; i++) deep = [deep];
    expect(() => canonicalJson(deep)).toThrow(/deeper/);
    expect(canonicalJson({ b: undefined, a: -0 })).toBe('{"a":0}');
  });
});

describe('audit entry encoding', () => {
  it('is deterministic whatever the property order, and round-trips', () => {
    const e = sampleEntry(5, {
      purpose: 'ETREAT',
      detail: { reason: 'cardiac arrest', z: [1, 2], a: { y: true, x: null } },
    });
    // The same entry built with every object's properties in reverse order.
    const reverse = (v: unknown): unknown =>
      v && typeof v === 'object' && !Array.isArray(v)
        ? Object.fromEntries(
            Object.entries(v)
              .reverse()
              .map(([k, x]) => [k, reverse(x)]),
          )
        : v;
    const reordered = reverse(e) as AuditEntry;
    expect(Object.keys(reordered)[0]).toBe('detail');
    const bytes = encodeEntry(e);
    expect(Buffer.compare(bytes, encodeEntry(reordered))).toBe(0);
    expect(Buffer.from(bytes).toString()).toMatch(/^\{"action":"R","agent":\{"address":"10\.0\.0\.7",/);
    expect(Buffer.from(bytes).toString()).not.toMatch(/\s"|":\s/);
    expect(decodeEntry(bytes)).toEqual(e);
    expect(toHex(entryLeafHash(e))).toBe(toHex(leafHash(bytes)));
  });

  it('binds the position: the same event at another seq has another leaf hash', () => {
    expect(toHex(entryLeafHash(sampleEntry(1)))).not.toBe(
      toHex(entryLeafHash({ ...sampleEntry(1), seq: 2 })),
    );
  });

  it('leaves absent optional fields out, so undefined and missing encode the same', () => {
    const a = sampleEntry(1, { purpose: undefined, outcomeDesc: undefined });
    const { purpose: _p, outcomeDesc: _o, ...b } = a;
    expect(Buffer.compare(encodeEntry(a), encodeEntry(b as AuditEntry))).toBe(0);
  });

  const bad: Array<[string, unknown, RegExp]> = [
    ['not an object', 'x', /plain object/],
    ['unknown field', { ...sampleEntry(1), extra: 1 }, /unknown field "extra"/],
    ['negative seq', sampleEntry(-1), /seq/],
    ['fractional seq', sampleEntry(1.5), /seq/],
    ['local time', sampleEntry(1, { recorded: '2026-01-01T08:00:00.000+01:00' }), /recorded/],
    ['no milliseconds', sampleEntry(1, { recorded: '2026-01-01T08:00:00Z' }), /recorded/],
    ['impossible date', sampleEntry(1, { recorded: '2026-02-30T08:00:00.000Z' }), /real date/],
    ['type with spaces', sampleEntry(1, { type: 'patient read' }), /type/],
    ['uppercase type', sampleEntry(1, { type: 'Patient.read' }), /type/],
    ['action', { ...sampleEntry(1), action: 'X' }, /action/],
    ['outcome', { ...sampleEntry(1), outcome: 1 }, /outcome/],
    ['agent missing', { ...sampleEntry(1), agent: undefined }, /agent must be an object/],
    ['unknown agent field', sampleEntry(1, { agent: { password: 'x' } as never }), /agent: unknown field/],
    ['empty source', sampleEntry(1, { source: '' }), /source/],
    ['control char', sampleEntry(1, { agent: { username: 'eve\nroot' } }), /control/],
    ['bidi override', sampleEntry(1, { entity: { patientId: 'p\u202e1' } }), /control/],
    ['long field', sampleEntry(1, { agent: { username: 'x'.repeat(300) } }), /1 to 256/],
    ['purpose', sampleEntry(1, { purpose: 'E TREAT' }), /purpose/],
    ['detail array', sampleEntry(1, { detail: [] as never }), /detail must be an object/],
    ['detail NaN', sampleEntry(1, { detail: { n: Number.NaN } }), /not canonical JSON/],
    ['oversized', sampleEntry(1, { detail: { blob: 'x'.repeat(MAX_ENTRY_BYTES) } }), /more than 16384/],
  ];
  for (const [name, value, msg] of bad) {
    it(`refuses an entry with ${name}`, () => {
      expect(() => encodeEntry(value as AuditEntry)).toThrow(AuditEntryError);
      expect(() => encodeEntry(value as AuditEntry)).toThrow(msg);
    });
  }

  it('refuses stored bytes that are not exactly canonical', () => {
    const bytes = Buffer.from(encodeEntry(sampleEntry(3)));
    const text = bytes.toString();
    expect(() => decodeEntry(Buffer.from(text.replace('{', '{ ')))).toThrow(/canonical form/);
    expect(() => decodeEntry(Buffer.from(text.replace('"seq":3', '"seq":3.0')))).toThrow(/canonical form/);
    expect(() => decodeEntry(Buffer.from(text.slice(0, -1)))).toThrow(/not UTF-8 JSON/);
    expect(() =>
      decodeEntry(Buffer.concat([bytes.subarray(0, 10), Buffer.from([0xff]), bytes.subarray(10)])),
    ).toThrow(/not UTF-8 JSON/);
    expect(() => decodeEntry(Buffer.alloc(MAX_ENTRY_BYTES + 1, 0x20))).toThrow(/more than/);
    expect(() => decodeEntry(Buffer.from('[]'))).toThrow(/plain object/);
  });
});

// biome-ignore lint/suspicious/noControlCharactersInRegex: filtering control characters out
const UNSAFE = /[\u0000-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/;

describe('the fast entry encoder is exactly RFC 8785', () => {
  const safe = (max: number) =>
    fc.string({ unit: 'grapheme', minLength: 1, maxLength: max }).filter((s) => !UNSAFE.test(s));
  const opt = <T>(a: fc.Arbitrary<T>) => fc.option(a, { nil: undefined });
  const json: fc.Arbitrary<JsonValue> = fc.letrec<{ v: JsonValue }>((tie) => ({
    v: fc.oneof(
      { depthSize: 'small' },
      fc.constant(null),
      fc.boolean(),
      fc.double({ noNaN: true, noDefaultInfinity: true }),
      fc.string({ unit: 'grapheme' }),
      fc.array(tie('v'), { maxLength: 3 }),
      fc.dictionary(fc.string({ unit: 'grapheme', maxLength: 6 }), tie('v'), { maxKeys: 4 }),
    ),
  })).v;
  const entryArb: fc.Arbitrary<AuditEntry> = fc.record({
    seq: fc.nat({ max: Number.MAX_SAFE_INTEGER }),
    id: opt(safe(40)),
    recorded: fc
      .date({ min: new Date(0), max: new Date('9999-12-31T23:59:59.999Z'), noInvalidDate: true })
      .map((d) => d.toISOString()),
    type: fc.constantFrom('auth.login', 'patient.read', 'break-glass', 'alarm.ack', 'device.register'),
    action: fc.constantFrom(...AUDIT_ACTIONS),
    outcome: fc.constantFrom(...AUDIT_OUTCOMES),
    outcomeDesc: opt(safe(60)),
    agent: fc.record({
      userId: opt(safe(20)),
      username: opt(safe(20)),
      role: opt(safe(12)),
      address: opt(safe(40)),
    }),
    source: safe(20),
    entity: opt(
      fc.record({ patientId: opt(safe(20)), resourceType: opt(safe(20)), resourceId: opt(safe(20)) }),
    ),
    purpose: opt(fc.constantFrom('ETREAT', 'TREAT', 'HOPERAT')),
    detail: opt(fc.dictionary(fc.string({ unit: 'grapheme', maxLength: 8 }), json, { maxKeys: 5 })),
  });

  it('matches the generic canonicalizer on random entries and round-trips', () => {
    fc.assert(
      fc.property(entryArb, (e) => {
        const bytes = encodeEntry(e);
        expect(Buffer.from(bytes).toString('utf8')).toBe(canonicalJson(e));
        const back = decodeEntry(bytes);
        expect(Buffer.compare(encodeEntry(back), bytes)).toBe(0);
      }),
      { numRuns: 400 },
    );
  });
});
