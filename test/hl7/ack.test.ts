import { Hl7Message as MedplumMessage } from '@medplum/core';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { type BuildAckOptions, buildAckPayload, buildAckPayloads } from '../../src/hl7/ack.ts';
import { resolveCharset } from '../../src/hl7/charset.ts';
import {
  checkEncoding,
  DEFAULT_ENCODING,
  encodingCharacters,
  type Hl7Encoding,
  isEncoding,
} from '../../src/hl7/encoding.ts';
import { HL7_ERROR_TEXT } from '../../src/hl7/errors.ts';
import type { Hl7Hd, Hl7HeaderInfo } from '../../src/hl7/header.ts';
import {
  ackCodeFor,
  buildAck,
  buildAcks,
  createControlIdGenerator,
  formatHl7Timestamp,
  type Hl7Outcome,
  parseHl7,
  planAcks,
  tryParseHl7,
  versionAtLeast,
} from '../../src/hl7/index.ts';
import { buildMessage, type Hl7FieldInput } from '../../src/hl7/serialize.ts';

const NOW = new Date(Date.UTC(2024, 0, 31, 23, 59, 58, 7));

function incoming(version = '2.5.1', extra = '', type = 'ADT^A01^ADT_A01'): string {
  return `MSH|^~\\&|LAB|NORTH^1.2.3^ISO|CAREWIRE|HOSP|20240131||${type}|CTRL-42|T|${version}${extra}\rPID|1||7\r`;
}

describe('buildAck', () => {
  it('original AA: echoes MSH-10, swaps parties, keeps version and processing id', () => {
    const ack = buildAck(parseHl7(incoming()), { code: 'AA', now: NOW, controlId: 'ACK1' });
    expect(ack.toString()).toBe(
      'MSH|^~\\&|CAREWIRE|HOSP|LAB|NORTH^1.2.3^ISO|20240131235958.007+0000||ACK^A01^ACK|ACK1|T|2.5.1\rMSA|AA|CTRL-42\r',
    );
    expect(ack.segments('ERR')).toHaveLength(0);
  });

  it('uses ACK^<trigger> for versions before 2.3.1 and plain ACK without a trigger', () => {
    expect(buildAck(parseHl7(incoming('2.3', '', 'ADT^O01')), { code: 'AA' }).getRaw('MSH-9')).toBe(
      'ACK^O01',
    );
    expect(buildAck(parseHl7(incoming('2.2', '', 'ADT')), { code: 'AA' }).getRaw('MSH-9')).toBe('ACK');
    expect(buildAck(parseHl7(incoming('2.8')), { code: 'AA' }).getRaw('MSH-9')).toBe('ACK^A01^ACK');
  });

  it('AE carries an ERR with ERL location, table 0357 code, severity and diagnosis (v2.5+)', () => {
    const ack = buildAck(parseHl7(incoming()), {
      code: 'AE',
      errors: [
        {
          code: '101',
          severity: 'E',
          location: { segment: 'PID', sequence: 1, field: 5 },
          message: 'PID-5 patient name is required',
        },
        {
          code: '103',
          severity: 'W',
          location: { segment: 'PID', field: 8, component: 1 },
          message: 'sex X^Y',
        },
      ],
    });
    expect(ack.get('MSA-1')).toBe('AE');
    const errs = ack.segments('ERR');
    expect(errs).toHaveLength(2);
    expect(errs[0]!.getRaw(1)).toBe('');
    expect(errs[0]!.getRaw(2)).toBe('PID^1^5^1');
    expect(errs[0]!.getRaw(3)).toBe('101^Required field missing^HL70357');
    expect(errs[0]!.get(4)).toBe('E');
    expect(errs[0]!.get(7)).toBe('PID-5 patient name is required');
    expect(errs[1]!.getRaw(2)).toBe('PID^1^8^1^1');
    expect(errs[1]!.get('3.1')).toBe('103');
    expect(errs[1]!.get(4)).toBe('W');
    expect(errs[1]!.get(7)).toBe('sex X^Y');
    expect(errs[1]!.getRaw(7)).toBe('sex X\\S\\Y');
    expect(ack.get('MSA-3')).toBe('');
  });

  it('AR for v2.3 also fills ERR-1 (ELD) and MSA-3 for old receivers', () => {
    const ack = buildAck(parseHl7(incoming('2.3', '', 'ORM^O01')), {
      code: 'AR',
      errors: [
        { code: '200', severity: 'E', location: { segment: 'MSH', field: 9 }, message: 'ORM not supported' },
      ],
    });
    const err = ack.segment('ERR')!;
    expect(err.getRaw(1)).toBe('MSH^1^9^200&Unsupported message type&HL70357');
    expect(err.getRaw(3)).toBe('200^Unsupported message type^HL70357');
    expect(ack.get('MSA-3')).toBe('ORM not supported');
  });

  it('a failing code without errors still gets an ERR (207)', () => {
    for (const code of ['AE', 'AR', 'CE', 'CR'] as const) {
      const ack = buildAck(parseHl7(incoming()), { code, text: 'disk full' });
      expect(ack.get('ERR-3')).toBe('207');
      expect(ack.get('ERR-4')).toBe('E');
      expect(ack.get('ERR-7')).toBe('disk full');
      expect(ack.get('MSA-3')).toBe('disk full');
    }
  });

  it('enhanced mode accept acknowledgements CA/CE/CR', () => {
    const msg = parseHl7(incoming('2.5.1', '|||AL|NE'));
    for (const code of ['CA', 'CE', 'CR'] as const) {
      const ack = buildAck(msg, { code });
      expect(ack.get('MSA-1')).toBe(code);
      expect(ack.get('MSA-2')).toBe('CTRL-42');
      expect(ack.segments('ERR')).toHaveLength(code === 'CA' ? 0 : 1);
    }
  });

  it('uses the incoming delimiters and MSH-18, and re-parses (also with @medplum/core)', () => {
    const text = 'MSH#$*@%#LAB#FAC#ME#MYFAC#2024##ADT$A04#C@F@7#P#2.5.1######UNICODE UTF-8\rPID#1##7\r';
    const ack = buildAck(parseHl7(Buffer.from(text)), {
      code: 'AE',
      errors: [{ code: '102', severity: 'E', location: { segment: 'PID', field: 3 }, message: 'Zoë#1' }],
    });
    expect(ack.encoding.field).toBe('#');
    expect(ack.charset.id).toBe('utf-8');
    const back = parseHl7(ack.toBuffer());
    expect(back.get('MSA-2')).toBe('C#7');
    expect(back.get('ERR-7')).toBe('Zoë#1');
    expect(back.header.charset).toBe('UNICODE UTF-8');
    const medplum = MedplumMessage.parse(ack.toString());
    expect(medplum.getSegment('MSA')?.getField(2).toString()).toBe('C@F@7');
    expect(medplum.getSegment('MSH')?.getField(9).toString()).toBe('ACK$A04$ACK');
  });

  it('uses our own identity when the incoming MSH-5/6 are empty', () => {
    const ack = buildAck(parseHl7('MSH|^~\\&|LAB|F|||2024||ADT^A01|1|P|2.5\r'), {
      code: 'AA',
      self: {
        application: 'CAREWIRE',
        facility: { namespaceId: 'H', universalId: '1.2', universalIdType: 'ISO' },
      },
    });
    expect(ack.getRaw('MSH-3')).toBe('CAREWIRE');
    expect(ack.getRaw('MSH-4')).toBe('H^1.2^ISO');
    expect(ack.getRaw('MSH-5')).toBe('LAB');
  });

  it('NAKs input that did not parse, from the loose header or from nothing', () => {
    const r = tryParseHl7('MSH|^~\\\\&|LAB|F|ME|MYF|2024||ORU^R01|99|P|2.6\r');
    expect(r.ok).toBe(false);
    if (r.ok) return;
    const nak = buildAck(r.error.header, { code: 'AR', errors: [r.error.toDetail()] });
    expect(nak.toString()).toMatch(/^MSH\|\^~\\&\|ME\|MYF\|LAB\|F\|\d{14}\.\d{3}\+0000\|\|ACK\^R01\^ACK\|/);
    expect(nak.get('MSA-2')).toBe('99');
    expect(nak.getRaw('ERR-2')).toBe('MSH^1^2^1');
    expect(nak.get('ERR-3')).toBe('102');
    const blind = buildAck(undefined, {
      code: 'AR',
      errors: [{ code: '100', severity: 'E', message: 'no MSH' }],
    });
    expect(blind.get('MSA-2')).toBe('');
    expect(blind.get('MSH-12')).toBe('2.5.1');
    expect(blind.getRaw('ERR-2')).toBe('');
    expect(blind.get('ERR-3')).toBe('100');
  });

  it('generates distinct control ids of at most 20 characters', () => {
    const next = createControlIdGenerator('CAREWIRE-LONG-PREFIX');
    const ids = new Set(Array.from({ length: 1000 }, () => next()));
    expect(ids.size).toBe(1000);
    for (const id of ids) expect(id.length).toBeLessThanOrEqual(20);
    const a = buildAck(parseHl7(incoming()), { code: 'AA' }).header.controlId;
    const b = buildAck(parseHl7(incoming()), { code: 'AA' }).header.controlId;
    expect(a).not.toBe(b);
    expect(formatHl7Timestamp(NOW)).toBe('20240131235958.007+0000');
  });
});

describe('the ACK writer', () => {
  // The reference: the MSH and MSA fields written by the generic serializer (what buildAck did
  // before it wrote MSH and MSA as templates). ERR segments still go through the serializer.
  function viaSerializer(h: Hl7HeaderInfo | undefined, o: BuildAckOptions, enc: Hl7Encoding): string[] {
    const hd = (v: Hl7Hd): Hl7FieldInput => [v.namespaceId, v.universalId, v.universalIdType];
    const empty = (v: Hl7Hd) => v.namespaceId === '' && v.universalId === '' && v.universalIdType === '';
    const version = h && /^2\.\d+(?:\.\d+)*$/.test(h.version) ? h.version : (o.defaultVersion ?? '2.5.1');
    const trigger = h?.triggerEvent ?? '';
    const msh: Hl7FieldInput[] = [
      undefined,
      undefined,
      h && !empty(h.receivingApplication) ? hd(h.receivingApplication) : (o.self?.application as string),
      h && !empty(h.receivingFacility) ? hd(h.receivingFacility) : '',
      h ? hd(h.sendingApplication) : '',
      h ? hd(h.sendingFacility) : '',
      formatHl7Timestamp(o.now!),
      undefined,
      versionAtLeast(version, '2.3.1') ? ['ACK', trigger, 'ACK'] : trigger ? ['ACK', trigger] : 'ACK',
      o.controlId,
      h?.processingId || 'P',
      version,
    ];
    if (h && resolveCharset(h.charset)) msh[17] = h.charset;
    const failed = o.code !== 'AA' && o.code !== 'CA';
    const first = o.errors?.[0]?.message ?? (failed ? (o.text ?? HL7_ERROR_TEXT['207']) : undefined);
    const text =
      o.text ?? (first !== undefined && !versionAtLeast(version, '2.5') ? first.slice(0, 80) : undefined);
    const m = buildMessage(
      [
        { name: 'MSH', fields: msh },
        { name: 'MSA', fields: { 1: o.code, 2: h?.controlId ?? '', 3: text } },
      ],
      { encoding: enc },
    );
    return m.toString().split('\r').slice(0, 2);
  }

  // Encodings whose delimiters include characters a timestamp or HD value holds ('.', '+', '#').
  const ENCODINGS = ['|^~\\&', '|^~\\&#', '|+~\\&', '|.~\\&', '#$*@%', '|^~\\&.'];
  const text = fc.constantFrom(
    '',
    'A',
    'B.C',
    '1.2.3',
    'ISO',
    'x+y',
    'a^b',
    'L&M',
    'p~q',
    'e\\f',
    'h#i',
    'Zoë',
    ' s ',
  );

  it('writes MSH and MSA as the generic serializer does, for any header (property)', () => {
    fc.assert(
      fc.property(
        fc.constantFrom(...ENCODINGS),
        fc.array(fc.array(text, { maxLength: 3 }), { minLength: 4, maxLength: 4 }),
        fc.record({
          trigger: fc.constantFrom('', 'R01', 'A0.1'),
          control: fc.constantFrom('ID1', '', 'I|D', 'C^7'),
          processing: fc.constantFrom('P', '', 'T^A'),
          version: fc.constantFrom('2.3', '2.3.1', '2.4', '2.5.1', '2.7', '2.8', '', 'x'),
          charset: fc.constantFrom('', 'UNICODE UTF-8', '8859/1', 'KLINGON'),
        }),
        fc.record({
          code: fc.constantFrom('AA', 'AE', 'AR', 'CA', 'CE', 'CR'),
          errors: fc.constantFrom(
            [],
            [{ code: '102', severity: 'E', message: 'bad^value', location: { segment: 'PID', field: 3 } }],
          ),
          text: fc.constantFrom(undefined, 'a^b.c'),
          defaultVersion: fc.constantFrom(undefined, '', '2.4'),
        }),
        fc.boolean(),
        (delims, hds, h, a, asHeader) => {
          const enc = checkEncoding(delims[0]!, delims.slice(1)) as Hl7Encoding;
          // The incoming message, written by the serializer so its values are escaped for its encoding.
          const msh: Hl7FieldInput[] = [undefined, undefined, ...hds, '20240101', undefined];
          msh.push(['ORU', h.trigger], h.control, h.processing, h.version);
          if (h.charset) msh[17] = h.charset;
          let wire: string;
          try {
            wire = buildMessage(
              [
                { name: 'MSH', fields: msh },
                { name: 'PID', fields: [1, '', '7'] },
              ],
              { encoding: enc },
            ).toString();
          } catch {
            return; // an MSH-18 the serializer cannot write
          }
          const parsed = tryParseHl7(Buffer.from(wire, 'utf8'));
          // A failed parse still answers, from its loose header or (asHeader) from nothing; a parsed
          // message is given whole or (asHeader) as its header.
          const source = parsed.ok
            ? asHeader
              ? parsed.message.header
              : parsed.message
            : asHeader
              ? undefined
              : parsed.error.header;
          const header = source === undefined ? undefined : 'header' in source ? source.header : source;
          const opts = {
            ...a,
            now: NOW,
            controlId: 'ACK1',
            self: { application: 'CAREWIRE' },
          } as BuildAckOptions;
          const payload = buildAckPayload(source, opts);
          const segments = payload.text.split('\r');
          // The ACK keeps the incoming delimiters when they are usable, else the defaults.
          const usable =
            header && isEncoding(checkEncoding(header.encoding.field, encodingCharacters(header.encoding)));
          expect(segments.slice(0, 2)).toEqual(
            viaSerializer(header, opts, usable ? header.encoding : DEFAULT_ENCODING),
          );
          // buildAck's message gives the same bytes.
          expect(buildAck(source, opts).toBuffer().equals(payload.bytes)).toBe(true);
          const reparsed = tryParseHl7(payload.bytes);
          // Only an ACK without a version (an empty default, for a header that had none) cannot be read back.
          if (!reparsed.ok) {
            expect(reparsed.error.message).toMatch(/MSH-12/);
            return;
          }
          const back = reparsed.message;
          expect(back.segments('ERR').length).toBe(
            a.errors.length > 0 || !['AA', 'CA'].includes(a.code) ? Math.max(1, a.errors.length) : 0,
          );
          expect(back.get('MSA-1')).toBe(a.code);
          expect(back.get('MSH-7')).toBe(formatHl7Timestamp(NOW));
          if (header) expect(back.get('MSA-2')).toBe(header.controlId);
        },
      ),
      { numRuns: 1500 },
    );
  });

  it('payloads follow the plan: accept first, then the application ACK with its own control id', () => {
    const src = parseHl7(incoming('2.5.1', '|||AL|AL'));
    const acks = buildAckPayloads(src, planAcks(src.header, { accept: 'ok', application: 'ok' }), {
      now: NOW,
      controlId: 'K',
    });
    expect(acks.map((a) => parseHl7(a.text).get('MSA-1'))).toEqual(['CA', 'AA']);
    expect(acks.map((a) => parseHl7(a.text).get('MSH-10'))).toEqual(['K', 'KA']);
  });
});

describe('planAcks', () => {
  const h = (acceptAckType: string, applicationAckType: string) => ({ acceptAckType, applicationAckType });
  const all: Hl7Outcome[] = ['ok', 'error', 'reject'];

  it('original mode (MSH-15/16 empty): one AA/AE/AR', () => {
    expect(planAcks(h('', ''), { accept: 'ok', application: 'ok' })).toEqual({
      mode: 'original',
      application: 'AA',
    });
    expect(planAcks(h('', ''), { accept: 'ok', application: 'error' })).toEqual({
      mode: 'original',
      application: 'AE',
    });
    expect(planAcks(h('', ''), { accept: 'reject' })).toEqual({ mode: 'original', application: 'AR' });
    expect(planAcks(h('', ''), { accept: 'ok' })).toEqual({ mode: 'original', application: 'AA' });
    expect(planAcks(undefined, { accept: 'error' })).toEqual({ mode: 'original', application: 'AE' });
  });

  it('enhanced AL/AL sends both, NE/NE sends none', () => {
    expect(planAcks(h('AL', 'AL'), { accept: 'ok', application: 'ok' })).toEqual({
      mode: 'enhanced',
      accept: 'CA',
      application: 'AA',
    });
    for (const accept of all) {
      for (const application of all) {
        expect(planAcks(h('NE', 'NE'), { accept, application })).toEqual({ mode: 'enhanced' });
      }
    }
  });

  it('ER sends only on failure, SU only on success', () => {
    expect(planAcks(h('ER', 'SU'), { accept: 'ok', application: 'ok' })).toEqual({
      mode: 'enhanced',
      application: 'AA',
    });
    expect(planAcks(h('ER', 'SU'), { accept: 'ok', application: 'error' })).toEqual({ mode: 'enhanced' });
    expect(planAcks(h('ER', 'ER'), { accept: 'ok', application: 'error' })).toEqual({
      mode: 'enhanced',
      application: 'AE',
    });
    expect(planAcks(h('ER', 'SU'), { accept: 'error' })).toEqual({ mode: 'enhanced', accept: 'CE' });
    expect(planAcks(h('SU', 'NE'), { accept: 'ok' })).toEqual({ mode: 'enhanced', accept: 'CA' });
    expect(planAcks(h('SU', 'NE'), { accept: 'reject' })).toEqual({ mode: 'enhanced' });
  });

  it('sends the application ack later when processing has not finished', () => {
    expect(planAcks(h('AL', 'AL'), { accept: 'ok' })).toEqual({ mode: 'enhanced', accept: 'CA' });
  });

  it('a message not accepted is not processed: its application outcome is the accept outcome', () => {
    expect(planAcks(h('AL', 'NE'), { accept: 'reject' })).toEqual({ mode: 'enhanced', accept: 'CR' });
    expect(planAcks(h('NE', 'AL'), { accept: 'reject', application: 'ok' })).toEqual({
      mode: 'enhanced',
      application: 'AR',
    });
  });

  it('empty MSH-15 counts as NE and empty MSH-16 as AL; unknown values as AL', () => {
    expect(planAcks(h('', 'ER'), { accept: 'ok', application: 'error' })).toEqual({
      mode: 'enhanced',
      application: 'AE',
    });
    expect(planAcks(h('AL', ''), { accept: 'ok', application: 'ok' })).toEqual({
      mode: 'enhanced',
      accept: 'CA',
      application: 'AA',
    });
    expect(planAcks(h('XX', 'NE'), { accept: 'ok' })).toEqual({ mode: 'enhanced', accept: 'CA' });
  });

  it('reads MSH-15/16 from a parsed message, case-insensitively', () => {
    const msg = parseHl7(incoming('2.5.1', '|||al|er'));
    expect(planAcks(msg.header, { accept: 'ok', application: 'ok' })).toEqual({
      mode: 'enhanced',
      accept: 'CA',
    });
  });

  it('buildAcks builds what the plan asks for with distinct control ids', () => {
    const msg = parseHl7(incoming('2.5.1', '|||AL|AL'));
    const plan = planAcks(msg.header, { accept: 'ok', application: 'error' });
    const acks = buildAcks(msg, plan, {
      controlId: 'Z',
      errors: [{ code: '207', severity: 'E', message: 'x' }],
    });
    expect(acks.accept?.get('MSA-1')).toBe('CA');
    expect(acks.application?.get('MSA-1')).toBe('AE');
    expect(acks.accept?.header.controlId).toBe('Z');
    expect(acks.application?.header.controlId).toBe('ZA');
    expect(acks.application?.get('ERR-3')).toBe('207');
  });

  it('maps outcomes to codes and compares versions', () => {
    expect(all.map((o) => ackCodeFor('application', o))).toEqual(['AA', 'AE', 'AR']);
    expect(all.map((o) => ackCodeFor('accept', o))).toEqual(['CA', 'CE', 'CR']);
    expect(versionAtLeast('2.5.1', '2.5')).toBe(true);
    expect(versionAtLeast('2.4', '2.5')).toBe(false);
    expect(versionAtLeast('2.10', '2.9')).toBe(true);
    expect(versionAtLeast('2.3', '2.3.1')).toBe(false);
  });
});
