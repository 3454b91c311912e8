import { describe, expect, it } from 'vitest';
import { LOINC } from '../../src/clinical/observations.ts';
import { OBSERVATION_WIDTH, orderedUuid, pushObservationParams } from '../../src/hl7/store-ops.ts';

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
