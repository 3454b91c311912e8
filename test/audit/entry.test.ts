import { describe, expect, it } from 'vitest';
import {
  type AuditEntry,
  AuditEntryError,
  CanonicalJsonError,
  canonicalJson,
  decodeEntry,
  encodeEntry,
  entryLeafHash,
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
