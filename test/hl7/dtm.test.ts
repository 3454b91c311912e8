/**
 * HL7 times: with an offset they are exact; without one they are the senders' local time in the
 * configured IANA zone, summer time included, with the two edge hours of a change of clocks
 * resolved one way (a skipped hour takes the earlier offset, a repeated one its first occurrence).
 */
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config.ts';
import { isTimeZone, parseHl7Time } from '../../src/hl7/dtm.ts';

const iso = (text: string, zone?: string) => {
  const t = parseHl7Time(text, zone);
  return t === undefined ? undefined : new Date(t).toISOString();
};

describe('HL7 times', () => {
  it('reads a time without an offset in the given zone, with summer time', () => {
    expect(iso('20260302094500')).toBe('2026-03-02T09:45:00.000Z');
    expect(iso('20260302094500', 'Europe/Berlin')).toBe('2026-03-02T08:45:00.000Z');
    expect(iso('20260702094500', 'Europe/Berlin')).toBe('2026-07-02T07:45:00.000Z');
    expect(iso('20260302094512.345', 'Asia/Kolkata')).toBe('2026-03-02T04:15:12.345Z');
    expect(iso('2026', 'Asia/Kolkata')).toBe('2025-12-31T18:30:00.000Z');
  });

  it('resolves the hour clocks skip and the hour they repeat', () => {
    // 02:30 does not exist on 29 March 2026 in Berlin: read with the earlier offset (CET).
    expect(iso('20260329023000', 'Europe/Berlin')).toBe('2026-03-29T01:30:00.000Z');
    // 02:30 happens twice on 25 October 2026: the first (CEST).
    expect(iso('20261025023000', 'Europe/Berlin')).toBe('2026-10-25T00:30:00.000Z');
    expect(iso('20260308023000', 'America/New_York')).toBe('2026-03-08T07:30:00.000Z');
    expect(iso('20261101013000', 'America/New_York')).toBe('2026-11-01T05:30:00.000Z');
  });

  it('an explicit offset wins over the zone; bad values are not times', () => {
    expect(iso('20260302094500+0100', 'America/New_York')).toBe('2026-03-02T08:45:00.000Z');
    expect(iso('20260231000000', 'Europe/Berlin')).toBeUndefined();
    expect(iso('2026030209450', 'Europe/Berlin')).toBeUndefined();
    expect(iso('20260302094500+1500', 'UTC')).toBeUndefined();
  });

  it('the zone is checked when the configuration loads', () => {
    expect(isTimeZone('Europe/Berlin')).toBe(true);
    expect(isTimeZone('Mars/Olympus_Mons')).toBe(false);
    expect(loadConfig({ data: '/tmp/x', hl7Timezone: 'Asia/Kolkata' }, {}).hl7Timezone).toBe('Asia/Kolkata');
    expect(loadConfig({ data: '/tmp/x' }, { CAREWIRE_HL7_TIMEZONE: 'UTC' }).hl7Timezone).toBe('UTC');
    expect(() => loadConfig({ data: '/tmp/x' }, { CAREWIRE_HL7_TIMEZONE: 'Mars/Olympus_Mons' })).toThrow(
      /--hl7-timezone \/ CAREWIRE_HL7_TIMEZONE: not an IANA time zone/,
    );
  });
});
