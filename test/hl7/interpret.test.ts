/**
 * Units of ORU observations: a vital sign mapped from MDC to LOINC takes its standard unit only
 * when the device sent that unit (or none); a value in another unit keeps it, so it is never
 * relabelled (16 kPa must not become 16 mm[Hg]). Common text spellings become UCUM.
 */
import { describe, expect, it } from 'vitest';
import { interpretMessage } from '../../src/hl7/interpret.ts';
import { parseHl7 } from '../../src/hl7/parse.ts';

function observations(...obx: string[]) {
  const text = [
    'MSH|^~\\&|MON|ICU|CW|CW|20260301090000+0000||ORU^R01^ORU_R01|U-1|P|2.6',
    'PID|1||U-2^^^HOSP^MR',
    'OBR|1|U-1||182777000^monitoring of patient^SCT|||20260301090000+0000',
    ...obx,
  ].join('\r');
  const r = interpretMessage(parseHl7(text), Date.parse('2026-03-01T09:00:00Z'));
  if (r.kind !== 'oru') throw new Error(`expected an ORU, got ${r.kind}`);
  return r.observations.map((o) => ({ code: o.code, mdc: o.mdcCode, value: o.valueNum, unit: o.unit }));
}

describe('ORU units', () => {
  it('keeps a vital sign in the unit the device measured it in', () => {
    expect(
      observations(
        'OBX|1|NM|150021^MDC_PRESS_BLD_NONINV_SYS^MDC||16|266144^MDC_DIM_KILO_PASCAL^MDC|||||F',
        'OBX|2|NM|150364^MDC_TEMP_BODY^MDC||98.6|^MDC_DIM_FAHR^MDC|||||F',
        'OBX|3|NM|150022^MDC_PRESS_BLD_NONINV_DIA^MDC||79|266016^MDC_DIM_MMHG^MDC|||||F',
        'OBX|4|NM|147842^MDC_ECG_HEART_RATE^MDC||72||||||F',
        // A unit code the table does not know, without text: kept as sent, not relabelled.
        'OBX|5|NM|150021^MDC_PRESS_BLD_NONINV_SYS^MDC||16|265987^^MDC|||||F',
      ),
    ).toEqual([
      { code: '8480-6', mdc: '150021', value: 16, unit: 'kPa' },
      { code: '8310-5', mdc: '150364', value: 98.6, unit: '[degF]' },
      { code: '8462-4', mdc: '150022', value: 79, unit: 'mm[Hg]' },
      // No unit sent: the sign's standard one.
      { code: '8867-4', mdc: '147842', value: 72, unit: '/min' },
      { code: '8480-6', mdc: '150021', value: 16, unit: '265987' },
    ]);
  });

  it('writes common text spellings as UCUM and leaves other units as sent', () => {
    expect(
      observations(
        'OBX|1|NM|8480-6^Systolic^LN||120|mmHg|||||F',
        'OBX|2|NM|8867-4^Heart rate^LN||70|bpm|||||F',
        'OBX|3|NM|2823-3^Potassium^LN||4.1|mmol/L^mmol/L^UCUM|||||F',
        'OBX|4|NM|188736^MDC_MASS_BODY_ACTUAL^MDC||71.5|263875^MDC_DIM_KILO_G^MDC|||||F',
      ).map((o) => o.unit),
    ).toEqual(['mm[Hg]', '/min', 'mmol/L', 'kg']);
  });
});
