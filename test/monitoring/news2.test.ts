import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  type News2Input,
  roundClinical,
  roundClinicalExact,
  scoreNews2,
} from '../../src/monitoring/news2.ts';

// The NEWS2 chart rows exactly as printed in the clinical reference (clinical.md, RCP 2017).
// The test parses this text itself, so the implementation's own tables are checked against the
// source rather than against a copy of themselves.
const CHART = `
| respiration rate (/min) | ≤ 8 | | 9–11 | 12–20 | | 21–24 | ≥ 25 |
| SpO2 scale 1 (%) | ≤ 91 | 92–93 | 94–95 | ≥ 96 | | | |
| SpO2 scale 2 (%) | ≤ 83 | 84–85 | 86–87 | 88–92, or ≥ 93 on air | 93–94 on oxygen | 95–96 on oxygen | ≥ 97 on oxygen |
| air or oxygen | | oxygen | | air | | | |
| systolic BP (mmHg) | ≤ 90 | 91–100 | 101–110 | 111–219 | | | ≥ 220 |
| pulse (/min) | ≤ 40 | | 41–50 | 51–90 | 91–110 | 111–130 | ≥ 131 |
| consciousness | | | | alert | | | new confusion, voice, pain or unresponsive (C, V, P, U) |
| temperature (°C) | ≤ 35.0 | | 35.1–36.0 | 36.1–38.0 | 38.1–39.0 | ≥ 39.1 | |
`;
const COLUMN_SCORES = [3, 2, 1, 0, 1, 2, 3];

interface Range {
  min: number;
  max: number;
  only?: 'air' | 'oxygen';
  score: number;
}

function parseRow(label: string): Range[] {
  const line = CHART.split('\n').find((l) => l.startsWith(`| ${label} |`));
  if (!line) throw new Error(`row ${label} not in chart`);
  const cells = line
    .split('|')
    .slice(2, -1)
    .map((c) => c.trim());
  expect(cells).toHaveLength(7);
  const out: Range[] = [];
  cells.forEach((cell, i) => {
    if (cell === '') return;
    for (const alt of cell.split(', or ')) {
      const m = /^(?:(≤|≥) ([\d.]+)|([\d.]+)–([\d.]+))(?: on (air|oxygen))?$/.exec(alt);
      if (!m) throw new Error(`cannot parse '${alt}'`);
      const r: Range =
        m[1] === '≤'
          ? { min: Number.NEGATIVE_INFINITY, max: Number(m[2]), score: COLUMN_SCORES[i]! }
          : m[1] === '≥'
            ? { min: Number(m[2]), max: Number.POSITIVE_INFINITY, score: COLUMN_SCORES[i]! }
            : { min: Number(m[3]), max: Number(m[4]), score: COLUMN_SCORES[i]! };
      if (m[5]) r.only = m[5] as 'air' | 'oxygen';
      out.push(r);
    }
  });
  return out;
}

function expectedScore(ranges: Range[], v: number, oxygen?: boolean): number {
  const hits = ranges.filter(
    (r) => v >= r.min && v <= r.max && (r.only === undefined || r.only === (oxygen ? 'oxygen' : 'air')),
  );
  // The chart must tile the values: exactly one band per value.
  expect(hits, `value ${v}`).toHaveLength(1);
  return hits[0]!.score;
}

function grid(from: number, to: number, step: number): number[] {
  const out: number[] = [];
  for (let i = Math.round(from / step); i <= Math.round(to / step); i++) out.push(roundClinical(i * step, 1));
  return out;
}

describe('NEWS2 parameter bands, every value of the chart', () => {
  const numeric: Array<
    [string, keyof News2Input, 'respirationRate' | 'systolicBp' | 'pulse' | 'temperature', number[]]
  > = [
    ['respiration rate (/min)', 'respirationRate', 'respirationRate', grid(0, 60, 1)],
    ['systolic BP (mmHg)', 'systolicBp', 'systolicBp', grid(40, 300, 1)],
    ['pulse (/min)', 'pulse', 'pulse', grid(0, 250, 1)],
    ['temperature (°C)', 'temperature', 'temperature', grid(30, 44, 0.1)],
  ];
  for (const [label, input, param, values] of numeric) {
    it(label, () => {
      const ranges = parseRow(label);
      for (const v of values) {
        const r = scoreNews2({ [input]: v });
        expect(r.subScores[param], `${label} ${v}`).toBe(expectedScore(ranges, v));
      }
    });
  }

  it('SpO2 scale 1, on air and on oxygen', () => {
    const ranges = parseRow('SpO2 scale 1 (%)');
    for (const onOxygen of [false, true]) {
      for (const v of grid(50, 100, 1)) {
        const r = scoreNews2({ spo2: v, spo2Scale: 1, onOxygen });
        expect(r.subScores.spo2, `SpO2 ${v} oxygen=${onOxygen}`).toBe(expectedScore(ranges, v));
        expect(r.subScores.airOrOxygen).toBe(onOxygen ? 2 : 0);
      }
    }
  });

  it('SpO2 scale 2, on air and on oxygen', () => {
    const ranges = parseRow('SpO2 scale 2 (%)');
    for (const onOxygen of [false, true]) {
      for (const v of grid(50, 100, 1)) {
        const r = scoreNews2({ spo2: v, spo2Scale: 2, onOxygen });
        expect(r.subScores.spo2, `SpO2 ${v} oxygen=${onOxygen}`).toBe(expectedScore(ranges, v, onOxygen));
      }
    }
  });

  const wordCells = (label: string) =>
    CHART.split('\n')
      .find((l) => l.startsWith(`| ${label} |`))!
      .split('|')
      .slice(2, -1)
      .map((c) => c.trim());

  it('air or oxygen', () => {
    const cells = wordCells('air or oxygen');
    expect(scoreNews2({ onOxygen: true }).subScores.airOrOxygen).toBe(COLUMN_SCORES[cells.indexOf('oxygen')]);
    expect(scoreNews2({ onOxygen: false }).subScores.airOrOxygen).toBe(COLUMN_SCORES[cells.indexOf('air')]);
  });

  it('consciousness (ACVPU)', () => {
    const cells = wordCells('consciousness');
    expect(scoreNews2({ consciousness: 'A' }).subScores.consciousness).toBe(
      COLUMN_SCORES[cells.indexOf('alert')],
    );
    const cvpuColumn = cells.findIndex((c) => c.includes('(C, V, P, U)'));
    for (const c of ['C', 'V', 'P', 'U'] as const) {
      expect(scoreNews2({ consciousness: c }).subScores.consciousness).toBe(COLUMN_SCORES[cvpuColumn]);
    }
  });
});

describe('rounding before scoring', () => {
  it('rounds respiration and pulse to whole numbers, halves up', () => {
    expect(scoreNews2({ respirationRate: 20.4 }).subScores.respirationRate).toBe(0);
    expect(scoreNews2({ respirationRate: 20.5 }).subScores.respirationRate).toBe(2);
    expect(scoreNews2({ pulse: 90.49 }).subScores.pulse).toBe(0);
    expect(scoreNews2({ pulse: 90.5 }).subScores.pulse).toBe(1);
    expect(scoreNews2({ pulse: 90.5 }).scoredValues.pulse).toBe(91);
  });

  it('rounds temperature to one decimal without binary noise', () => {
    expect(scoreNews2({ temperature: 36.05 }).subScores.temperature).toBe(0); // 36.1
    expect(scoreNews2({ temperature: 36.04 }).subScores.temperature).toBe(1); // 36.0
    expect(scoreNews2({ temperature: 35.04 }).subScores.temperature).toBe(3); // 35.0
    expect(scoreNews2({ temperature: 35.05 }).subScores.temperature).toBe(1); // 35.1
    expect(scoreNews2({ temperature: 39.05 }).subScores.temperature).toBe(2); // 39.1
    expect(roundClinical(38.05, 1)).toBe(38.1);
  });

  it('rounds as the exact form does, on the fast path and near every half', () => {
    const value = fc.oneof(
      fc.double({ min: 0, max: 400, noNaN: true }),
      // Values a hair either side of a half at 0 and 1 decimals, where binary noise lives (vitals
      // are never negative: scoring refuses them before rounding).
      fc
        .tuple(fc.integer({ min: 0, max: 4000 }), fc.constantFrom(0, 1), fc.integer({ min: -3, max: 3 }))
        .map(([n, d, e]) => (n + 0.5) / 10 ** d + e * 1e-13),
    );
    fc.assert(
      fc.property(value, fc.constantFrom(0, 1), (x, d) => {
        expect(roundClinical(x, d)).toBe(roundClinicalExact(x, d));
      }),
      { numRuns: 20_000 },
    );
  });
});

const full: News2Input = {
  respirationRate: 16,
  spo2: 97,
  spo2Scale: 1,
  onOxygen: false,
  systolicBp: 120,
  pulse: 70,
  consciousness: 'A',
  temperature: 37,
};

describe('total, band, response and alarm', () => {
  it('all normal: 0, routine monitoring, no alarm', () => {
    const r = scoreNews2(full);
    expect(r).toMatchObject({
      complete: true,
      total: 0,
      band: 'none',
      risk: 'low',
      alarm: null,
      missing: [],
    });
    expect(r.response).toBe('routine monitoring');
  });

  it('1–4 without a 3 is low', () => {
    const r = scoreNews2({ ...full, pulse: 95, temperature: 38.5, respirationRate: 22 }); // 1 + 1 + 2
    expect(r).toMatchObject({ total: 4, band: 'low', risk: 'low', alarm: null, singleParameterThree: false });
    expect(r.response).toBe('ward nurse assessment');
  });

  it('a single 3 is low-medium and asks for a medium alarm', () => {
    const r = scoreNews2({ ...full, consciousness: 'V' });
    expect(r).toMatchObject({ total: 3, band: 'low-medium', risk: 'low-medium', alarm: 'medium' });
    expect(r.response).toBe('urgent ward-based response');
  });

  it('5 and 6 are medium; 7 is high; a 3 inside a total ≥ 5 follows the total', () => {
    expect(scoreNews2({ ...full, onOxygen: true, respirationRate: 22, pulse: 95 })).toMatchObject({
      total: 5,
      band: 'medium',
      alarm: 'medium',
    });
    expect(scoreNews2({ ...full, onOxygen: true, respirationRate: 22, pulse: 115 })).toMatchObject({
      total: 6,
      band: 'medium',
    });
    expect(
      scoreNews2({ ...full, onOxygen: true, respirationRate: 22, pulse: 115, temperature: 38.5 }),
    ).toMatchObject({
      total: 7,
      band: 'high',
      risk: 'high',
      alarm: 'high',
    });
    expect(scoreNews2({ ...full, consciousness: 'U', respirationRate: 22 })).toMatchObject({
      total: 5,
      band: 'medium',
    });
    expect(scoreNews2({ ...full, consciousness: 'U', respirationRate: 26, spo2: 90 })).toMatchObject({
      total: 9,
      band: 'high',
    });
  });

  it('band agrees with the response table for any combination (property)', () => {
    const arb = fc.record({
      respirationRate: fc.integer({ min: 0, max: 60 }),
      spo2: fc.integer({ min: 60, max: 100 }),
      spo2Scale: fc.constantFrom(1 as const, 2 as const),
      onOxygen: fc.boolean(),
      systolicBp: fc.integer({ min: 50, max: 260 }),
      pulse: fc.integer({ min: 20, max: 200 }),
      consciousness: fc.constantFrom('A' as const, 'C' as const, 'V' as const, 'P' as const, 'U' as const),
      temperature: fc.integer({ min: 330, max: 420 }).map((t) => t / 10),
    });
    fc.assert(
      fc.property(arb, (input) => {
        const r = scoreNews2(input);
        const scores = Object.values(r.subScores);
        expect(scores).toHaveLength(7);
        const total = scores.reduce<number>((a, b) => a + b, 0);
        expect(r.total).toBe(total);
        expect(total).toBeLessThanOrEqual(20);
        const three = scores.includes(3);
        const band =
          total >= 7 ? 'high' : total >= 5 ? 'medium' : three ? 'low-medium' : total === 0 ? 'none' : 'low';
        expect(r.band).toBe(band);
        expect(r.alarm).toBe(
          band === 'high' ? 'high' : band === 'medium' || band === 'low-medium' ? 'medium' : null,
        );
      }),
      { numRuns: 1000 },
    );
  });
});

describe('missing and invalid inputs', () => {
  it('nothing given: incomplete, every parameter missing, not scored as normal', () => {
    const r = scoreNews2({});
    expect(r.complete).toBe(false);
    expect(r.missing).toEqual([
      'respirationRate',
      'spo2',
      'airOrOxygen',
      'systolicBp',
      'pulse',
      'consciousness',
      'temperature',
    ]);
    expect(r.subScores).toEqual({});
  });

  it('a missing parameter leaves the score incomplete; null counts as missing', () => {
    const r = scoreNews2({ ...full, temperature: null, consciousness: undefined });
    expect(r).toMatchObject({ complete: false, missing: ['consciousness', 'temperature'], total: 0 });
  });

  it('an incomplete score is a lower bound: enough points still raise the alarm', () => {
    const r = scoreNews2({ respirationRate: 26, pulse: 135, consciousness: 'P' });
    expect(r).toMatchObject({ complete: false, total: 9, band: 'high', alarm: 'high' });
  });

  it('impossible values are reported as invalid, not scored', () => {
    const r = scoreNews2({
      ...full,
      spo2: 101,
      respirationRate: -1,
      pulse: Number.NaN,
      temperature: 60,
      consciousness: 'X' as 'A',
    });
    expect(r.complete).toBe(false);
    expect([...r.invalid].sort()).toEqual([
      'consciousness',
      'pulse',
      'respirationRate',
      'spo2',
      'temperature',
    ]);
    expect(r.subScores.spo2).toBeUndefined();
  });

  it('scale 2 above 92 % cannot be scored without knowing air or oxygen', () => {
    const r = scoreNews2({ spo2: 95, spo2Scale: 2 });
    expect(r.subScores.spo2).toBeUndefined();
    expect(r.missing).toContain('spo2');
    expect(scoreNews2({ spo2: 85, spo2Scale: 2 }).subScores.spo2).toBe(2);
  });

  it('an unknown SpO2 scale is invalid rather than silently scale 1', () => {
    const r = scoreNews2({ spo2: 90, spo2Scale: 3 as 1 });
    expect(r.invalid).toContain('spo2');
    expect(r.subScores.spo2).toBeUndefined();
  });
});
