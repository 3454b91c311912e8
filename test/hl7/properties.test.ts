import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  buildAck,
  buildMessage,
  frame,
  type Hl7ComponentInput,
  type Hl7Encoding,
  Hl7ParseError,
  type Hl7SegmentInput,
  MllpDeframer,
  parseHl7,
  tryParseHl7,
} from '../../src/hl7/index.ts';
import { compareWithMedplum } from './medplum.ts';
import { loadSamples, withCr } from './samples.ts';

// ---------- generators ----------

const PUNCT = [...'|^~\\&#$*@%!+=/:;?'];

/** Five distinct punctuation characters, optionally a sixth for the v2.7 truncation character. */
const encodingArb = (withTruncation: boolean): fc.Arbitrary<Hl7Encoding> =>
  fc.shuffledSubarray(PUNCT, { minLength: 6, maxLength: 6 }).chain((c) =>
    fc.boolean().map((useDefault) => {
      if (useDefault && !withTruncation)
        return { field: '|', component: '^', repetition: '~', escape: '\\', subcomponent: '&' };
      const enc: Hl7Encoding = {
        field: c[0]!,
        component: c[1]!,
        repetition: c[2]!,
        escape: c[3]!,
        subcomponent: c[4]!,
      };
      return withTruncation ? { ...enc, truncation: c[5]! } : enc;
    }),
  );

// Values mix letters, every delimiter, escape-like text, line breaks, TAB and non-ASCII characters.
const valueArb = fc.string({
  unit: fc.constantFrom(
    ...'aZ09 .-',
    ...PUNCT,
    '\r',
    '\n',
    '\t',
    'é',
    'ß',
    'Ł',
    '李',
    '😀',
    '\\.br\\',
    '\\X41\\',
    '\\H\\',
  ),
  maxLength: 12,
});

/** Field -> repetitions -> components -> subcomponent values. */
type Field = string[][][];

const fieldArb: fc.Arbitrary<Field> = fc.array(
  fc.array(fc.array(valueArb, { minLength: 1, maxLength: 3 }), { minLength: 1, maxLength: 4 }),
  { minLength: 1, maxLength: 3 },
);

interface Generated {
  enc: Hl7Encoding;
  segments: { name: string; fields: Field[] }[];
}

const messageArb = (withTruncation = false): fc.Arbitrary<Generated> =>
  fc.record({
    enc: encodingArb(withTruncation),
    segments: fc.array(
      fc.record({
        name: fc.constantFrom('PID', 'OBX', 'NTE', 'ZX1', 'PV1', 'ERR'),
        fields: fc.array(fieldArb, { maxLength: 8 }),
      }),
      { maxLength: 5 },
    ),
  });

function toInput(g: Generated, charset: string): Hl7SegmentInput[] {
  return [
    {
      name: 'MSH',
      fields: { 3: 'GEN', 9: ['ORU', 'R01', 'ORU_R01'], 10: 'C1', 11: 'P', 12: '2.7', 18: charset },
    },
    ...g.segments.map((s) => ({
      name: s.name,
      fields: s.fields.map((f) => ({ repeat: f.map((rep) => rep.map((comp): Hl7ComponentInput => comp)) })),
    })),
  ];
}

// ---------- properties ----------

describe('property: generated messages', () => {
  it('values written with buildMessage read back identically, bytes round-trip, @medplum/core agrees', () => {
    fc.assert(
      fc.property(messageArb(), fc.constantFrom('', 'UNICODE UTF-8'), (g, charset) => {
        const built = buildMessage(toInput(g, charset), { encoding: g.enc });
        const text = built.toString();
        const bytes = built.toBuffer();
        const parsed = parseHl7(bytes);
        expect(parsed.toString()).toBe(text);
        expect(parsed.toBuffer().equals(bytes)).toBe(true);
        // Without MSH-18, non-ASCII text is written as UTF-8 and read back as such with a warning.
        expect(parsed.warnings.filter((w) => w.kind !== 'NON_ASCII_IN_ASCII')).toEqual([]);
        if (charset !== '') expect(parsed.warnings).toEqual([]);
        g.segments.forEach((s, i) => {
          const seg = parsed.allSegments()[i + 1]!;
          expect(seg.name).toBe(s.name);
          s.fields.forEach((f, fi) => {
            f.forEach((rep, ri) => {
              rep.forEach((comp, ci) => {
                comp.forEach((sub, si) => {
                  expect(seg.get(`${fi + 1}[${ri + 1}].${ci + 1}.${si + 1}`)).toBe(sub);
                });
              });
            });
          });
        });
        compareWithMedplum(parsed, text);
      }),
      { numRuns: 300 },
    );
  });

  it('the v2.7 truncation character is escaped and read back', () => {
    fc.assert(
      fc.property(messageArb(true), (g) => {
        const parsed = parseHl7(buildMessage(toInput(g, ''), { encoding: g.enc }).toString());
        expect(parsed.encoding.truncation).toBe(g.enc.truncation);
        g.segments.forEach((s, i) => {
          s.fields.forEach((f, fi) => {
            expect(parsed.allSegments()[i + 1]!.get(`${fi + 1}[1].1.1`)).toBe(f[0]![0]![0]);
          });
        });
      }),
      { numRuns: 150 },
    );
  });

  it('line-ending variants parse to the same segments', () => {
    fc.assert(
      fc.property(messageArb(), fc.constantFrom('\n', '\r\n', '\r\r', '\n\n'), (g, eol) => {
        const text = buildMessage(toInput(g, ''), { encoding: g.enc }).toString();
        const variant = parseHl7(text.replace(/\r/g, eol));
        expect(variant.allSegments().map((s) => s.raw)).toEqual(
          parseHl7(text)
            .allSegments()
            .map((s) => s.raw),
        );
      }),
      { numRuns: 150 },
    );
  });
});

describe('property: MLLP deframing', () => {
  // Payload bytes never contain VT or FS (frame() refuses them); junk between frames has no VT.
  const payloadArb = fc
    .uint8Array({ maxLength: 200 })
    .map((u) => Buffer.from(u.map((b) => (b === 0x0b || b === 0x1c ? 0x41 : b))));
  const junkArb = fc
    .uint8Array({ maxLength: 6 })
    .map((u) => Buffer.from(u.map((b) => (b === 0x0b ? 0x0a : b))));

  it('random split points and coalescing give exactly the frames sent, in order', () => {
    fc.assert(
      fc.property(
        fc.array(fc.tuple(junkArb, payloadArb), { minLength: 1, maxLength: 12 }),
        fc.array(fc.nat(), { maxLength: 20 }),
        (items, cutSeeds) => {
          const stream = Buffer.concat(items.flatMap(([junk, p]) => [junk, frame(p)]));
          const cuts = [...new Set(cutSeeds.map((c) => c % (stream.length + 1)))].sort((a, b) => a - b);
          const d = new MllpDeframer();
          const out: Buffer[] = [];
          let prev = 0;
          for (const c of [...cuts, stream.length]) {
            out.push(...d.push(stream.subarray(prev, c)));
            prev = c;
          }
          expect(out.map((b) => b.toString('hex'))).toEqual(items.map(([, p]) => p.toString('hex')));
          expect(d.skippedBytes).toBe(items.reduce((n, [junk]) => n + junk.length, 0));
          expect(d.inFrame).toBe(false);
          expect(d.error).toBeUndefined();
        },
      ),
      { numRuns: 500 },
    );
  });

  it('arbitrary byte streams never throw and never exceed the frame limit', () => {
    fc.assert(
      fc.property(fc.array(fc.uint8Array({ maxLength: 64 }), { maxLength: 10 }), (chunks) => {
        const d = new MllpDeframer({ maxFrameSize: 32 });
        for (const c of chunks) {
          for (const f of d.push(c)) expect(f.length).toBeLessThanOrEqual(32);
          expect(d.bufferedBytes).toBeLessThanOrEqual(33);
        }
      }),
      { numRuns: 500 },
    );
  });
});

describe('fuzz: the parser only ever throws Hl7ParseError, and every ACK it leads to parses', () => {
  function check(input: Uint8Array | string): void {
    const r = tryParseHl7(input);
    const ack = r.ok
      ? buildAck(r.message, { code: 'AA' })
      : buildAck(r.error.header, { code: 'AR', errors: [r.error.toDetail()] });
    if (!r.ok) {
      expect(r.error).toBeInstanceOf(Hl7ParseError);
      expect(r.error.kind).not.toBe('INTERNAL');
    }
    const back = parseHl7(ack.toBuffer());
    expect(back.get('MSA-1')).toBe(r.ok ? 'AA' : 'AR');
    if (r.ok) expect(back.get('MSA-2')).toBe(r.message.header.controlId);
  }

  it('random bytes', () => {
    fc.assert(fc.property(fc.uint8Array({ maxLength: 400 }), check), { numRuns: 2000 });
  });

  it('random bytes after a plausible MSH start', () => {
    const prefix = Buffer.from('MSH|');
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), (u) => check(Buffer.concat([prefix, u]))),
      { numRuns: 2000 },
    );
  });

  it('random strings, including lone surrogates and control characters', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary', maxLength: 300 }), (s) => check(`MSH${s}`)),
      { numRuns: 500 },
    );
  });

  const corpus = loadSamples().flatMap((s) => [s.bytes, withCr(s.bytes)]);
  const mutation = fc.record({
    sample: fc.nat({ max: corpus.length - 1 }),
    edits: fc.array(
      fc.record({
        at: fc.nat(),
        del: fc.nat({ max: 8 }),
        insert: fc
          .uint8Array({ maxLength: 4 })
          .chain((u) =>
            fc.constantFrom(
              Buffer.from(u),
              Buffer.from('|'),
              Buffer.from('^~\\&'),
              Buffer.from('\r'),
              Buffer.from('\\X'),
            ),
          ),
      }),
      { minLength: 1, maxLength: 5 },
    ),
  });

  it('mutated sample messages', () => {
    fc.assert(
      fc.property(mutation, ({ sample, edits }) => {
        let b = corpus[sample]!;
        for (const e of edits) {
          const at = e.at % (b.length + 1);
          b = Buffer.concat([b.subarray(0, at), e.insert, b.subarray(Math.min(b.length, at + e.del))]);
        }
        check(b);
      }),
      { numRuns: 1000 },
    );
  });
});
