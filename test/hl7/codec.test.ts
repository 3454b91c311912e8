import { describe, expect, it } from 'vitest';
import {
  buildMessage,
  DEFAULT_ENCODING,
  encodeField,
  escapeValue,
  Hl7EncodeError,
  type Hl7Encoding,
  Hl7ParseError,
  Hl7PathError,
  parseHl7,
  readHeaderLoosely,
  resolveCharset,
  splitMessages,
  unescapeValue,
} from '../../src/hl7/index.ts';

const ORU = [
  'MSH|^~\\&|MONITOR|ICU^1.2.3^ISO|CAREWIRE|HOSP|20240101120000||ORU^R01^ORU_R01|MSG001|P|2.6|||AL|NE',
  'PID|1||123^^^HOSP^MR~456^^^NHS^NH||Doe^Jane^Q||19800101|F',
  'OBR|1|||85354-9^Blood pressure^LN|||20240101115900',
  'OBX|1|NM|8480-6^Systolic^LN||120|mm[Hg]^mm[Hg]^UCUM|90-140|N|||F',
  'OBX|2|NM|8462-4^Diastolic^LN||80|mm[Hg]|60-90|N|||F|||20240101115930',
  'OBX|3|ST|X^Note^L||a\\F\\b\\S\\c\\T\\d\\R\\e\\E\\f||||||F',
].join('\r');

function expectParseError(
  input: string | Uint8Array,
  kind: string,
  loc: Record<string, unknown>,
): Hl7ParseError {
  try {
    parseHl7(input);
  } catch (e) {
    expect(e).toBeInstanceOf(Hl7ParseError);
    const err = e as Hl7ParseError;
    expect(err.kind).toBe(kind);
    expect(err.location).toMatchObject(loc);
    return err;
  }
  throw new Error('expected an Hl7ParseError');
}

describe('accessors', () => {
  const msg = parseHl7(`${ORU}\r`);

  it('reads fields, components, repetitions and subcomponents with 1-based paths', () => {
    expect(msg.get('PID-5.1')).toBe('Doe');
    expect(msg.get('PID-5.2')).toBe('Jane');
    expect(msg.get('PID-5')).toBe('Doe'); // terser convention: first component
    expect(msg.getRaw('PID-5')).toBe('Doe^Jane^Q');
    expect(msg.get('PID-3[2].1')).toBe('456');
    expect(msg.get('PID-3.1', { repetition: 2 })).toBe('456');
    expect(msg.getRaw('PID-3[2]')).toBe('456^^^NHS^NH');
    expect(msg.getAll('PID-3.4')).toEqual(['HOSP', 'NHS']);
    expect(msg.get('PID.8')).toBe('F');
    expect(msg.get('MSH-4.2')).toBe('1.2.3');
  });

  it('addresses segment occurrences by path or option', () => {
    expect(msg.get('OBX-5')).toBe('120');
    expect(msg.get('OBX[2]-5')).toBe('80');
    expect(msg.get('OBX-5', { occurrence: 2 })).toBe('80');
    expect(msg.get('OBX[9]-5')).toBe('');
    expect(msg.segments('OBX').map((s) => s.get('3.1'))).toEqual(['8480-6', '8462-4', 'X']);
    expect(msg.segment('OBX', 2)?.get('OBX-14')).toBe('20240101115930');
    expect(msg.segment('ZZZ')).toBeUndefined();
  });

  it('numbers MSH fields so that MSH-1 is the field separator', () => {
    expect(msg.get('MSH-1')).toBe('|');
    expect(msg.get('MSH-2')).toBe('^~\\&');
    expect(msg.get('MSH-3')).toBe('MONITOR');
    expect(msg.get('MSH-9.3')).toBe('ORU_R01');
    expect(msg.msh.fieldCount).toBe(16);
    expect(msg.header).toMatchObject({
      messageType: 'ORU',
      triggerEvent: 'R01',
      controlId: 'MSG001',
      version: '2.6',
      processingId: 'P',
      acceptAckType: 'AL',
      applicationAckType: 'NE',
      charset: '',
    });
  });

  it('decodes escapes in get() and keeps them in getRaw()', () => {
    expect(msg.get('OBX[3]-5')).toBe('a|b^c&d~e\\f');
    expect(msg.getRaw('OBX[3]-5')).toBe('a\\F\\b\\S\\c\\T\\d\\R\\e\\E\\f');
  });

  it("returns '' for absent values and [] for absent repetitions", () => {
    expect(msg.get('PID-30')).toBe('');
    expect(msg.get('PID-5.9')).toBe('');
    expect(msg.get('PID-5.1.4')).toBe('');
    expect(msg.get('PID-3[7].1')).toBe('');
    expect(msg.getAll('PID-30')).toEqual([]);
    expect(msg.get('NK1-2')).toBe('');
    expect(msg.getAll('NK1-2')).toEqual([]);
  });

  it('refuses malformed paths with Hl7PathError', () => {
    for (const bad of ['PID', 'PID-0', 'PID-x', 'pid-5', 'PID-5.0', 'PID-3[0]', '5', 'PID-5.1.1.1']) {
      expect(() => msg.get(bad), bad).toThrow(Hl7PathError);
    }
    expect(() => msg.msh.get('PID-3')).toThrow(/this segment is MSH/);
    expect(() => msg.msh.get(0)).toThrow(Hl7PathError);
    expect(msg.msh.get('MSH-10')).toBe('MSG001');
    expect(msg.msh.get(10)).toBe('MSG001');
  });
});

describe('escapes', () => {
  const enc = DEFAULT_ENCODING;

  it('decodes every standard sequence', () => {
    expect(unescapeValue('\\F\\\\S\\\\T\\\\R\\\\E\\', enc)).toBe('|^&~\\');
    expect(unescapeValue('A\\X0D0A\\B', enc)).toBe('A\r\nB');
    expect(unescapeValue('x\\.br\\y', enc)).toBe('x\ny');
    expect(unescapeValue('\\H\\bold\\N\\', enc)).toBe('bold');
    expect(unescapeValue('a\\.sp2\\b\\.sk3\\c\\.in+4\\d', enc)).toBe('a\n\nb   cd');
    expect(unescapeValue('\\H\\bold\\N\\', enc, { formatting: 'keep' })).toBe('\\H\\bold\\N\\');
    expect(unescapeValue('caf\\XC3A9\\', enc, { decodeHex: (b) => Buffer.from(b).toString('utf8') })).toBe(
      'café',
    );
    expect(unescapeValue('caf\\XE9\\', enc)).toBe('café');
  });

  it('keeps unknown, invalid and unterminated sequences as written', () => {
    expect(unescapeValue('\\Cxxyy\\', enc)).toBe('\\Cxxyy\\');
    expect(unescapeValue('\\X0\\', enc)).toBe('\\X0\\');
    expect(unescapeValue('\\P\\', enc)).toBe('\\P\\'); // no truncation character declared
    expect(unescapeValue('end\\r', enc)).toBe('end\\r');
    expect(unescapeValue('\\\\', enc)).toBe('\\\\');
  });

  it('escapes delimiters, the truncation character and line breaks', () => {
    const trunc: Hl7Encoding = { ...DEFAULT_ENCODING, truncation: '#' };
    expect(escapeValue('a|b^c&d~e\\f#g\r\nh', trunc)).toBe(
      'a\\F\\b\\S\\c\\T\\d\\R\\e\\E\\f\\P\\g\\X0D\\\\X0A\\h',
    );
    expect(escapeValue('f#g', enc)).toBe('f#g');
    expect(unescapeValue('f\\P\\g', trunc)).toBe('f#g');
    expect(escapeValue('plain', enc)).toBe('plain');
  });
});

describe('delimiters other than |^~\\&', () => {
  it('parses and decodes with the declared characters', () => {
    const text = 'MSH#$*@%#APP#FAC#RCV#RF#20240101##ADT$A01#C1#P#2.5\rPID#1##a$b*c$d%e#x@F@y@F@z\r';
    const msg = parseHl7(text);
    expect(msg.encoding).toMatchObject({
      field: '#',
      component: '$',
      repetition: '*',
      escape: '@',
      subcomponent: '%',
    });
    expect(msg.get('PID-3.1')).toBe('a');
    expect(msg.get('PID-3[2].2.2')).toBe('e');
    expect(msg.get('PID-4')).toBe('x#y#z');
    expect(msg.header.triggerEvent).toBe('A01');
    expect(msg.toString()).toBe(text);
  });

  it('accepts the v2.7 truncation character as a fifth encoding character', () => {
    const msg = parseHl7('MSH|^~\\&#|A|B|C|D|20240101||ADT^A01^ADT_A01|C1|P|2.7\rNTE|1||50\\P\\ off#\r');
    expect(msg.encoding.truncation).toBe('#');
    expect(msg.get('MSH-2')).toBe('^~\\&#');
    expect(msg.get('NTE-3')).toBe('50# off#');
  });

  it('builds with custom delimiters and reads back the same values', () => {
    const enc: Hl7Encoding = { field: '!', component: '+', repetition: '*', escape: '/', subcomponent: '=' };
    const msg = buildMessage(
      [
        { name: 'MSH', fields: { 9: ['ADT', 'A01'], 10: 'C!1', 11: 'P', 12: '2.5' } },
        { name: 'PID', fields: { 5: { repeat: [['Doe+x', 'Jane'], 'Second'] } } },
      ],
      { encoding: enc },
    );
    expect(msg.toString()).toBe('MSH!+*/=!!!!!!!ADT+A01!C/F/1!P!2.5\rPID!!!!!Doe/S/x+Jane*Second\r');
    const back = parseHl7(msg.toString());
    expect(back.get('MSH-10')).toBe('C!1');
    expect(back.get('PID-5.1')).toBe('Doe+x');
    expect(back.get('PID-5[2]')).toBe('Second');
  });
});

describe('character sets (MSH-18)', () => {
  const msh = (cs: string) => `MSH|^~\\&|A|B|C|D|20240101||ADT^A01|C1|P|2.5||||||${cs}\r`;

  it('decodes 8859/1 bytes and writes them back identically', () => {
    const bytes = Buffer.concat([
      Buffer.from(msh('8859/1')),
      Buffer.from('PID|1||1||M\xfcller^J\xe9r\xf4me\r', 'latin1'),
    ]);
    const msg = parseHl7(bytes);
    expect(msg.charset.id).toBe('latin1');
    expect(msg.get('PID-5.1')).toBe('Müller');
    expect(msg.get('PID-5.2')).toBe('Jérôme');
    expect(msg.toBuffer().equals(bytes)).toBe(true);
  });

  it('decodes UTF-8 and writes it back identically', () => {
    const bytes = Buffer.from(`${msh('UNICODE UTF-8')}PID|1||1||Łukasz^Zoë^李\r`, 'utf8');
    const msg = parseHl7(bytes);
    expect(msg.get('PID-5.1')).toBe('Łukasz');
    expect(msg.get('PID-5.3')).toBe('李');
    expect(msg.toBuffer().equals(bytes)).toBe(true);
    expect(msg.warnings).toEqual([]);
  });

  it('decodes other ISO 8859 parts', () => {
    const bytes = Buffer.concat([
      Buffer.from(msh('8859/2')),
      Buffer.from([0x50, 0x49, 0x44, 0x7c, 0xa9, 0x0d]),
    ]);
    const msg = parseHl7(bytes);
    expect(msg.get('PID-1')).toBe('Š');
    expect(msg.toBuffer().equals(bytes)).toBe(true);
    expect(resolveCharset('ISO IR100')?.id).toBe('latin1');
    expect(resolveCharset('ISO IR192')?.id).toBe('utf-8');
    expect(resolveCharset('8859/15')?.id).toBe('iso-8859-15');
  });

  it('reads 8-bit bytes in an ASCII message leniently, with a warning', () => {
    const utf = parseHl7(Buffer.from(`${msh('ASCII')}PID|1||1||Zoë\r`, 'utf8'));
    expect(utf.get('PID-5')).toBe('Zoë');
    expect(utf.warnings.map((w) => w.kind)).toEqual(['NON_ASCII_IN_ASCII']);
    const latin = parseHl7(Buffer.from(`${msh('')}PID|1||1||Zo\xeb\r`, 'latin1'));
    expect(latin.get('PID-5')).toBe('Zoë');
    expect(latin.charset.id).toBe('latin1');
  });

  it('honours a configured default for messages without MSH-18', () => {
    const msg = parseHl7(Buffer.from(`${msh('')}PID|1||1||\xa9\r`, 'latin1'), { defaultCharset: '8859/5' });
    expect(msg.get('PID-5')).toBe('Љ');
  });

  it('decodes \\X..\\ hex escapes in the message charset', () => {
    const msg = parseHl7(Buffer.from(`${msh('UNICODE UTF-8')}NTE|1||caf\\XC3A9\\\r`, 'utf8'));
    expect(msg.get('NTE-3')).toBe('café');
  });

  it('refuses invalid UTF-8 naming the segment and field', () => {
    const bytes = Buffer.concat([
      Buffer.from(`${msh('UNICODE UTF-8')}PID|1||`),
      Buffer.from([0xc3, 0x28]),
      Buffer.from('\r'),
    ]);
    const err = expectParseError(bytes, 'INVALID_BYTES', { segment: 'PID', sequence: 1, field: 3, line: 2 });
    expect(err.errorCode).toBe('102');
  });

  it('refuses unsupported character sets with table 0357 code 103', () => {
    const err = expectParseError(msh('UNICODE UTF-16'), 'UNSUPPORTED_CHARSET', { segment: 'MSH', field: 18 });
    expect(err.errorCode).toBe('103');
    expect(err.outcome).toBe('reject');
    expectParseError(msh('GB 18030-2000'), 'UNSUPPORTED_CHARSET', { field: 18 });
  });
});

describe('line endings and round trip', () => {
  it('serialises CR-terminated input back to the same text, with or without a final CR', () => {
    expect(parseHl7(ORU).toString()).toBe(ORU);
    expect(parseHl7(`${ORU}\r`).toString()).toBe(`${ORU}\r`);
    expect(parseHl7(`${ORU}\r`).warnings).toEqual([]);
  });

  it('tolerates LF, CRLF, mixed terminators, blank lines and a BOM, normalising to CR', () => {
    const lf = ORU.replace(/\r/g, '\n');
    const crlf = `\uFEFF${ORU.replace(/\r/g, '\r\n')}\r\n\r\n`;
    const mixed = ORU.split('\r')
      .map((s, i) => s + ['\r', '\n', '\r\n', '\n\n'][i % 4])
      .join('');
    for (const text of [lf, crlf, mixed]) {
      const msg = parseHl7(text);
      expect(msg.segmentCount).toBe(6);
      expect(msg.toString().replace(/\r$/, '')).toBe(ORU);
      expect(msg.warnings.length).toBeGreaterThan(0);
    }
  });
});

describe('malformed input gives a located Hl7ParseError', () => {
  it('empty input', () => {
    expectParseError('', 'EMPTY', {});
    expectParseError(Buffer.from('\r\n\r\n'), 'EMPTY', {});
  });

  it('no MSH', () => {
    const err = expectParseError('PID|1||123\r', 'NO_MSH', { segment: 'PID', line: 1 });
    expect(err.message).toMatch(/must start with an MSH segment/);
    expect(err.header).toBeUndefined();
    expect(expectParseError('FHS|^~\\&\rBHS|^~\\&\r', 'NO_MSH', {}).message).toMatch(/batch/);
  });

  it('bad MSH-1 and MSH-2', () => {
    expectParseError('MSH', 'BAD_FIELD_SEPARATOR', { segment: 'MSH', field: 1 });
    expectParseError('MSHA^~\\&A', 'BAD_FIELD_SEPARATOR', { segment: 'MSH', field: 1 });
    expectParseError('MSH|^~\\|A|B', 'BAD_ENCODING_CHARACTERS', { segment: 'MSH', field: 2 });
    expectParseError('MSH|^~\\&#!|A', 'BAD_ENCODING_CHARACTERS', { field: 2 });
    expectParseError('MSH|^^\\&|A', 'BAD_ENCODING_CHARACTERS', { field: 2 });
    expectParseError('MSH|^|\\&|A', 'BAD_ENCODING_CHARACTERS', { field: 2 });
    expectParseError('MSH|^~a&|A', 'BAD_ENCODING_CHARACTERS', { field: 2 });
    const err = expectParseError('MSH|^~ &|A', 'BAD_ENCODING_CHARACTERS', { field: 2 });
    expect(err.reason).toMatch(/escape character " " is not allowed/);
  });

  it('truncated messages: missing required header fields', () => {
    const full = 'MSH|^~\\&|A|B|C|D|20240101||ADT^A01|C1|P|2.5';
    expectParseError(full.slice(0, 27), 'MISSING_HEADER_FIELD', { segment: 'MSH', field: 9 });
    expectParseError('MSH|^~\\&|A|B|C|D|20240101||ADT^A01', 'MISSING_HEADER_FIELD', { field: 10 });
    expectParseError('MSH|^~\\&|A|B|C|D|20240101||ADT^A01|C1', 'MISSING_HEADER_FIELD', { field: 11 });
    expectParseError('MSH|^~\\&|A|B|C|D|20240101||ADT^A01|C1|P', 'MISSING_HEADER_FIELD', { field: 12 });
    const err = expectParseError('MSH|^~\\&|A|B|C|D|20240101||ADT^A01|C1|P|3.0', 'UNSUPPORTED_VERSION', {
      field: 12,
    });
    expect(err.errorCode).toBe('203');
    expect(
      parseHl7('MSH|^~\\&|A|B|C|D|20240101||ADT^A01|C1', { requireHeaderFields: false }).header.controlId,
    ).toBe('C1');
  });

  it('truncated in a segment id, or a bad segment id', () => {
    const head = 'MSH|^~\\&|A|B|C|D|20240101||ADT^A01|C1|P|2.5\r';
    expectParseError(`${head}PID|1\rOB`, 'BAD_SEGMENT_NAME', { segment: 'OB', line: 3 });
    expectParseError(`${head}pid|1\r`, 'BAD_SEGMENT_NAME', { line: 2 });
    expectParseError(`${head}PIDX|1\r`, 'BAD_SEGMENT_NAME', { line: 2 });
    expectParseError(`${head} PID|1\r`, 'BAD_SEGMENT_NAME', { line: 2 });
    const err = expectParseError(`${head}PID|1\rMSH|^~\\&|X\r`, 'UNEXPECTED_MSH', {
      segment: 'MSH',
      line: 3,
    });
    expect(err.header?.controlId).toBe('C1');
  });

  it('binary junk: control characters are located', () => {
    const head = 'MSH|^~\\&|A|B|C|D|20240101||ADT^A01|C1|P|2.5\r';
    const err = expectParseError(`${head}PID|1||12^3\u0000\r`, 'CONTROL_CHARACTER', {
      segment: 'PID',
      sequence: 1,
      field: 3,
      component: 2,
      line: 2,
    });
    expect(err.errorCode).toBe('102');
    expect(err.outcome).toBe('error');
    expectParseError(
      Buffer.from([0x4d, 0x53, 0x48, 0x7c, 0x5e, 0x7e, 0x5c, 0x26, 0x7c, 0x01]),
      'CONTROL_CHARACTER',
      {
        segment: 'MSH',
        field: 3,
      },
    );
  });

  it('attaches a loosely read header so a NAK can be addressed', () => {
    const err = expectParseError(
      'MSH|^~\\\\&|APP|FAC|ME|MYFAC|2024||ADT^A01|X9|P|2.6|||AL|NE',
      'BAD_ENCODING_CHARACTERS',
      {
        field: 2,
      },
    );
    expect(err.header).toMatchObject({
      controlId: 'X9',
      triggerEvent: 'A01',
      acceptAckType: 'AL',
      sendingApplication: { namespaceId: 'APP' },
    });
    expect(readHeaderLoosely('garbage')).toBeUndefined();
    expect(
      readHeaderLoosely(Buffer.from('\u00ef\u00bb\u00bfMSH|^~\\&|A||||2024||ADT^A08|Q|P|2.3', 'latin1'))
        ?.controlId,
    ).toBe('Q');
  });
});

describe('building messages', () => {
  it('escapes values, trims trailing empties and refuses bad input', () => {
    expect(encodeField(['a', '', ''])).toBe('a');
    expect(encodeField(['', 33])).toBe('^33');
    expect(encodeField([['x', 'y', ''], 'b'])).toBe('x&y^b');
    expect(encodeField({ repeat: ['a', ['b', 'c'], ''] })).toBe('a~b^c');
    expect(encodeField('a|b')).toBe('a\\F\\b');
    expect(encodeField({ raw: 'a^b' })).toBe('a^b');
    expect(() => encodeField({ raw: 'a|b' })).toThrow(Hl7EncodeError);
    expect(() => buildMessage([{ name: 'PID', fields: [] }])).toThrow(Hl7EncodeError);
    expect(() =>
      buildMessage([
        { name: 'MSH', fields: {} },
        { name: 'pid', fields: [] },
      ]),
    ).toThrow(Hl7EncodeError);
    expect(() => buildMessage([{ name: 'MSH', fields: { 18: 'EBCDIC' } }])).toThrow(Hl7EncodeError);
  });

  it('writes field arrays from field 1 and MSH from field 3', () => {
    const msg = buildMessage([
      {
        name: 'MSH',
        fields: { 3: 'A', 9: ['ADT', 'A01'], 10: '1', 11: 'P', 12: '2.5', 18: 'UNICODE UTF-8' },
      },
      { name: 'PID', fields: ['1', null, ['9', '', '', 'H']] },
    ]);
    expect(msg.toString()).toBe('MSH|^~\\&|A||||||ADT^A01|1|P|2.5||||||UNICODE UTF-8\rPID|1||9^^^H\r');
    expect(msg.charset.id).toBe('utf-8');
  });
});

describe('splitting batches', () => {
  it('drops FHS/BHS/BTS/FTS envelopes and splits on MSH', () => {
    const m = (id: string) => `MSH|^~\\&|A|B|C|D|2024||ADT^A01|${id}|P|2.5\rPID|1\r`;
    const text = `FHS|^~\\&\rBHS|^~\\&\r${m('1')}${m('2')}BTS|2\rFTS|1\r`;
    const parts = splitMessages(text);
    expect(parts).toEqual([m('1'), m('2')]);
    expect(splitMessages(Buffer.from(text)).map((b) => b.toString())).toEqual(parts);
    expect(splitMessages('nothing here')).toEqual([]);
  });
});
