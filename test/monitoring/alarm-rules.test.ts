import { describe, expect, it } from 'vitest';
import { AlarmEngine } from '../../src/monitoring/alarm-engine.ts';
import type { AlarmEvent } from '../../src/monitoring/alarm-lifecycle.ts';
import {
  ADULT_DEFAULT_RULES,
  AlarmConfigError,
  applyOverrides,
  PatientRuleState,
} from '../../src/monitoring/alarm-rules.ts';

const T0 = 1_763_700_000_000;
const s = (n: number) => T0 + n * 1000;

function engine() {
  let n = 0;
  return new AlarmEngine({ newId: () => `a${++n}` });
}

const types = (events: AlarmEvent[]) => events.map((e) => e.type);
const kinds = (events: AlarmEvent[]) =>
  events.map((e) => ('alarm' in e ? `${e.type}:${e.alarm.kind}` : e.type));

describe('on-delay', () => {
  it('raises SpO2 low only after the condition held for 10 s of samples', () => {
    const e = engine();
    expect(e.observe('p1', { spo2: 89 }, s(0))).toEqual([]);
    expect(e.observe('p1', { spo2: 88 }, s(5))).toEqual([]);
    expect(e.observe('p1', { spo2: 89 }, s(9.999))).toEqual([]);
    const ev = e.observe('p1', { spo2: 89 }, s(10));
    expect(kinds(ev)).toEqual(['raised:spo2-low']);
    const raised = ev[0]!;
    if (raised.type !== 'raised') throw new Error('expected raised');
    expect(raised.alarm).toMatchObject({
      patientId: 'p1',
      priority: 'medium',
      state: 'active',
      source: 'rule',
      value: 89,
      limit: 90,
      raisedAt: s(10),
      latching: false,
    });
    expect(raised.audible).toBe(true);
  });

  it('a sample back in range restarts the on-delay', () => {
    const e = engine();
    e.observe('p1', { spo2: 89 }, s(0));
    e.observe('p1', { spo2: 90 }, s(9)); // 90 is not below the limit of 90
    expect(e.observe('p1', { spo2: 89 }, s(10))).toEqual([]);
    expect(e.observe('p1', { spo2: 89 }, s(19))).toEqual([]);
    expect(kinds(e.observe('p1', { spo2: 89 }, s(20)))).toEqual(['raised:spo2-low']);
  });

  it('tick confirms a pending condition between samples, unless the samples stopped', () => {
    const e = engine();
    e.observe('p1', { spo2: 89 }, s(0));
    e.observe('p1', { spo2: 89 }, s(8));
    expect(e.nextDeadline()).toBe(s(10));
    expect(kinds(e.tick(s(10)))).toEqual(['raised:spo2-low']);

    const f = engine();
    f.observe('p2', { spo2: 89 }, s(0));
    expect(f.tick(s(10.001))).toEqual([]); // last sample 10.001 s ago: silence is not persistence
    expect(f.nextDeadline()).toBeNull();
    expect(f.observe('p2', { spo2: 89 }, s(11))).toEqual([]); // on-delay starts again
  });

  it('NIBP has no on-delay: one reading raises', () => {
    const e = engine();
    expect(kinds(e.observe('p1', { systolicBp: 85 }, s(0)))).toEqual(['raised:nibp-sys-low']);
  });

  it('both SpO2 levels raise at a deep desaturation, each after its own delay', () => {
    const e = engine();
    e.observe('p1', { spo2: 80 }, s(0));
    expect(kinds(e.observe('p1', { spo2: 80 }, s(5)))).toEqual(['raised:spo2-desat']);
    expect(kinds(e.observe('p1', { spo2: 80 }, s(10)))).toEqual(['raised:spo2-low']);
  });
});

describe('hysteresis', () => {
  it('a low alarm clears only at limit + margin', () => {
    const e = engine();
    e.observe('p1', { spo2: 85.5 }, s(0));
    e.observe('p1', { spo2: 85.5 }, s(10));
    expect(e.open('p1').map((a) => a.kind)).toEqual(['spo2-low']);
    expect(e.observe('p1', { spo2: 90 }, s(11))).toEqual([]);
    expect(e.observe('p1', { spo2: 91.9 }, s(12))).toEqual([]);
    const ev = e.observe('p1', { spo2: 92 }, s(13));
    expect(ev).toHaveLength(1);
    expect(ev[0]).toMatchObject({ type: 'resolved', reason: 'condition-cleared', by: null, at: s(13) });
    expect(e.open('p1')).toEqual([]);
  });

  it('a high alarm clears only at limit − margin', () => {
    const e = engine();
    e.observe('p1', { heartRate: 125 }, s(0));
    expect(kinds(e.observe('p1', { heartRate: 121 }, s(10)))).toEqual(['raised:hr-high']);
    expect(e.observe('p1', { heartRate: 119 }, s(11))).toEqual([]);
    expect(e.observe('p1', { heartRate: 116 }, s(12))).toEqual([]);
    expect(kinds(e.observe('p1', { heartRate: 115 }, s(13)))).toEqual(['resolved:hr-high']);
  });

  it('a value hovering at the limit does not make the alarm flap', () => {
    const e = engine();
    const events: AlarmEvent[] = [];
    for (let i = 0; i <= 60; i++) events.push(...e.observe('p1', { heartRate: i % 2 ? 119 : 122 }, s(i)));
    expect(types(events)).toEqual([]); // never 10 s continuously above 120

    const f = engine();
    f.observe('p1', { heartRate: 130 }, s(0));
    f.observe('p1', { heartRate: 130 }, s(10));
    const later: AlarmEvent[] = [];
    for (let i = 11; i <= 60; i++) later.push(...f.observe('p1', { heartRate: i % 2 ? 119 : 122 }, s(i)));
    expect(later).toEqual([]); // stays raised, no clear/raise churn
  });
});

describe('heart-rate source and bad samples', () => {
  it('prefers ECG heart rate over oximeter pulse, falls back to pulse', () => {
    const e = engine();
    e.observe('p1', { heartRate: 80, pulseRate: 130 }, s(0));
    expect(e.observe('p1', { heartRate: 80, pulseRate: 130 }, s(10))).toEqual([]);
    e.observe('p2', { pulseRate: 130 }, s(10));
    expect(kinds(e.observe('p2', { pulseRate: 130 }, s(20)))).toEqual(['raised:hr-high']);
  });

  it('ignores non-finite values instead of alarming or clearing on them', () => {
    const e = engine();
    e.observe('p1', { spo2: 80 }, s(0));
    e.observe('p1', { spo2: Number.NaN }, s(2));
    expect(kinds(e.observe('p1', { spo2: 80 }, s(5)))).toEqual(['raised:spo2-desat']);
    expect(e.observe('p1', { spo2: Number.POSITIVE_INFINITY }, s(6))).toEqual([]);
  });
});

describe('per-patient thresholds', () => {
  it('overrides apply to one patient only', () => {
    const e = engine();
    e.setThresholds('copd', { 'spo2-low': { limit: 88, onDelayMs: 0 }, 'spo2-desat': { limit: 82 } });
    expect(e.observe('copd', { spo2: 89 }, s(0))).toEqual([]);
    expect(kinds(e.observe('copd', { spo2: 87 }, s(1)))).toEqual(['raised:spo2-low']);
    expect(e.observe('other', { spo2: 87 }, s(1))).toEqual([]); // default 10 s on-delay
    expect(e.thresholds('copd').find((r) => r.kind === 'spo2-low')?.limit).toBe(88);
    expect(e.thresholds('other').find((r) => r.kind === 'spo2-low')?.limit).toBe(90);
  });

  it('a disabled rule never raises', () => {
    const e = engine();
    e.setThresholds('p1', { 'nibp-sys-low': { enabled: false } });
    expect(e.observe('p1', { systolicBp: 70 }, s(0))).toEqual([]);
  });

  it('refuses bad overrides with a clear error', () => {
    const bad: Array<Parameters<typeof applyOverrides>[1]> = [
      { vfib: { limit: 1 } },
      { 'spo2-low': { limit: Number.NaN } },
      { 'spo2-low': { hysteresis: -1 } },
      { 'spo2-low': { onDelayMs: 120_001 } },
      { 'spo2-low': { onDelayMs: 1.5 } },
      { 'spo2-low': { priority: 'urgent' as 'high' } },
      { 'spo2-low': { enabled: 'yes' as unknown as boolean } },
    ];
    for (const o of bad)
      expect(() => applyOverrides(ADULT_DEFAULT_RULES, o), JSON.stringify(o)).toThrow(AlarmConfigError);
    expect(() => engine().setThresholds('p1', { 'spo2-low': { hysteresis: -2 } })).toThrow(AlarmConfigError);
  });
});

describe('PatientRuleState', () => {
  it('reports phases and can be reset', () => {
    const st = new PatientRuleState();
    st.evaluate(ADULT_DEFAULT_RULES, { spo2: 89 }, 0);
    expect(st.phaseOf('spo2-low')).toBe('pending');
    st.evaluate(ADULT_DEFAULT_RULES, { spo2: 89 }, 10_000);
    expect(st.phaseOf('spo2-low')).toBe('alarming');
    st.reset('spo2-low');
    expect(st.phaseOf('spo2-low')).toBe('normal');
  });
});
