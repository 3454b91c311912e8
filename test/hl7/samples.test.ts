import { describe, expect, it } from 'vitest';
import {
  buildAck,
  Hl7ParseError,
  parseHl7,
  planAcks,
  splitMessages,
  tryParseHl7,
} from '../../src/hl7/index.ts';
import { compareWithMedplum } from './medplum.ts';
import { loadSamples, sample, withCr } from './samples.ts';

// What each outside sample must give (see the corpus README): parsed, or a typed error naming the spot.
const EXPECTED: Record<
  string,
  { ok: true; type: string; controlId: string } | { ok: false; kind: string; field?: number }
> = {
  'cdc-dex/COVID19_ELR_01.hl7': { ok: true, type: 'ORU^R01', controlId: '20210128162413.806_P21-0000105078' },
  'cdc-dex/GenV1_Batch_No_headers_twoMSH.txt': { ok: false, kind: 'UNEXPECTED_MSH' },
  'cdc-dex/Lyme_WithBadDelimiters.txt': { ok: false, kind: 'BAD_ENCODING_CHARACTERS', field: 2 },
  'efferent/Sample-ADT.txt': { ok: true, type: 'ADT^O01', controlId: 'MSGID12349876' },
  'efferent/Sample-BrokenCharacterMessage.txt': { ok: true, type: 'ADT^A01', controlId: 'MSG00001' },
  'efferent/Sample-ORM.txt': { ok: true, type: 'ORM^O01', controlId: '3149' },
  'linuxforhealth/ORU-multiline-short-mixed.hl7': { ok: true, type: 'ORU^R01', controlId: 'MSGID00231' },
  'linuxforhealth/ORU-multiline-short.hl7': { ok: true, type: 'ORU^R01', controlId: 'MSGID00231' },
  'linuxforhealth/sample_unix.hl7': { ok: false, kind: 'BAD_ENCODING_CHARACTERS', field: 2 },
  'linuxforhealth/sample_win.hl7': { ok: false, kind: 'BAD_ENCODING_CHARACTERS', field: 2 },
};

const samples = loadSamples();

describe('outside sample corpus', () => {
  it('has every file the expectations name', () => {
    expect(samples.map((s) => s.name).sort()).toEqual(Object.keys(EXPECTED).sort());
  });

  for (const s of samples) {
    for (const variant of ['as stored', 'with CR terminators'] as const) {
      it(`${s.name} ${variant}: parses or fails with a located Hl7ParseError, and gets an ACK`, () => {
        const bytes = variant === 'as stored' ? s.bytes : withCr(s.bytes);
        const want = EXPECTED[s.name]!;
        const r = tryParseHl7(bytes);
        if (want.ok) {
          expect(r.ok).toBe(true);
          if (!r.ok) return;
          const h = r.message.header;
          expect(`${h.messageType}^${h.triggerEvent}`).toBe(want.type);
          expect(h.controlId).toBe(want.controlId);
          const ack = buildAck(r.message, { code: 'AA' });
          expect(ack.get('MSA-1')).toBe('AA');
          expect(ack.get('MSA-2')).toBe(want.controlId);
        } else {
          expect(r.ok).toBe(false);
          if (r.ok) return;
          expect(r.error).toBeInstanceOf(Hl7ParseError);
          expect(r.error.kind).toBe(want.kind);
          expect(r.error.location.segment).toBe('MSH');
          if (want.field) expect(r.error.location.field).toBe(want.field);
          // The NAK still echoes the control id read loosely from the broken header.
          const plan = planAcks(r.error.header, { accept: r.error.outcome });
          const code = plan.application ?? plan.accept;
          expect(code).toMatch(/^(AR|CR)$/);
          const nak = buildAck(r.error.header, { code: code!, errors: [r.error.toDetail()] });
          expect(nak.get('MSA-2')).toBe(r.error.header?.controlId);
          expect(nak.get('MSA-2')).not.toBe('');
          expect(nak.get('ERR-3')).toBe(r.error.errorCode);
          expect(nak.segments('ERR')).toHaveLength(1);
        }
      });
    }
  }

  it('CR-terminated well-formed samples serialise back to the same bytes', () => {
    let checked = 0;
    for (const s of samples) {
      const bytes = withCr(s.bytes);
      const r = tryParseHl7(bytes);
      if (!r.ok || r.message.warnings.length > 0) continue;
      expect(r.message.toBuffer().equals(bytes)).toBe(true);
      checked++;
    }
    expect(checked).toBeGreaterThanOrEqual(4);
  });

  it('records what it tolerated in the stored files', () => {
    const adt = parseHl7(sample('efferent/Sample-ADT.txt'));
    expect(adt.warnings.map((w) => w.kind).sort()).toEqual([
      'BLANK_LINE',
      'LF_TERMINATOR',
      'WHITESPACE_LINE',
    ]);
    expect(adt.allSegments().map((s) => s.name)).toEqual(['MSH', 'PID', 'NK1', 'NK1', 'PV1']);
    expect(() => parseHl7(sample('efferent/Sample-ADT.txt'), { strict: true })).toThrow(
      expect.objectContaining({ kind: 'WHITESPACE_LINE', location: expect.objectContaining({ line: 7 }) }),
    );
    const bom = parseHl7(sample('efferent/Sample-BrokenCharacterMessage.txt'));
    expect(bom.warnings.map((w) => w.kind)).toContain('BOM');
    expect(bom.charset.id).toBe('utf-8');
  });

  it('decodes the escapes of Sample-ORM and Sample-BrokenCharacterMessage', () => {
    const orm = parseHl7(sample('efferent/Sample-ORM.txt'));
    expect(orm.segments('NTE').map((s) => s.get(3))).toEqual([
      'some text\nsome text after new line\nissue Efferent-Health#82',
      'some text\r\nsome text after new line\r\nissue Efferent-Health#81',
    ]);
    expect(orm.get('NTE-3', { formatting: 'keep' })).toBe(
      'some text\\.br\\some text after \\H\\new line\\N\\\\.br\\issue Efferent-Health#82',
    );
    expect(orm.getRaw('NTE[2]-3')).toContain('\\X0D\\\\X0A\\');
    const adt = parseHl7(sample('efferent/Sample-BrokenCharacterMessage.txt'));
    expect(adt.get('PID-3[2].2')).toBe('\\');
    expect(adt.getRaw('PID-3[2].2')).toBe('\\E\\');
    expect(adt.getAll('PID-3.1')).toEqual(['PATID1234', '123456789']);
  });

  it('reads the header helpers of the COVID ELR message', () => {
    const h = parseHl7(sample('cdc-dex/COVID19_ELR_01.hl7')).header;
    expect(h.sendingApplication).toEqual({
      namespaceId: 'OneAbbottSol.STAG',
      universalId: '2.16.840.1.113883.3.8589.4.2.7.2',
      universalIdType: 'ISO',
    });
    expect(h.sendingFacility.namespaceId).toBe('AbbottInformatics');
    expect(h.receivingApplication.namespaceId).toBe('AIMS.INTEGRATION.STG');
    expect(h.messageStructure).toBe('ORU_R01');
    expect(h.processingId).toBe('T');
    expect(h.version).toBe('2.5.1');
    expect(h.acceptAckType).toBe('NE');
    expect(h.applicationAckType).toBe('NE');
    expect(h.timestamp).toBe('20210128162413-0500');
    expect(planAcks(h, { accept: 'ok', application: 'ok' })).toEqual({ mode: 'enhanced' });
  });

  it('splits the two-message file into two parseable messages', () => {
    const parts = splitMessages(sample('cdc-dex/GenV1_Batch_No_headers_twoMSH.txt'));
    expect(parts).toHaveLength(2);
    expect(parts.map((p) => parseHl7(p).header.controlId)).toEqual(['123458', '123457']);
    expect(parseHl7(parts[1]!).segments('OBX')).toHaveLength(30);
  });
});

describe('second opinion: @medplum/core Hl7Message on the corpus', () => {
  for (const s of samples) {
    const r = tryParseHl7(s.bytes);
    if (!r.ok) continue;
    it(`${s.name}: every component and subcomponent agrees`, () => {
      // Medplum needs the text to start with MSH and splits on CR/LF itself.
      const text = s.bytes.toString('utf8').replace(/^\uFEFF/, '');
      expect(compareWithMedplum(r.message, text)).toBeGreaterThan(20);
    });
  }
});
