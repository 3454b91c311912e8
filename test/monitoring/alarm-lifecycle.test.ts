import { describe, expect, it } from 'vitest';
import { AlarmEngine, type DeviceAlarmInput } from '../../src/monitoring/alarm-engine.ts';
import { AlarmBook, type AlarmEvent } from '../../src/monitoring/alarm-lifecycle.ts';
import { type News2Input, scoreNews2 } from '../../src/monitoring/news2.ts';

const T0 = 1_763_700_000_000;
const s = (n: number) => T0 + n * 1000;

function engine() {
  let n = 0;
  return new AlarmEngine({ newId: () => `a${++n}` });
}

const kinds = (events: AlarmEvent[]) =>
  events.map((e) => ('alarm' in e ? `${e.type}:${e.alarm.kind}` : e.type));

function only<T extends AlarmEvent['type']>(events: AlarmEvent[], type: T): Extract<AlarmEvent, { type: T }> {
  const hits = events.filter((e) => e.type === type);
  expect(hits, `one ${type} event in ${kinds(events).join(', ')}`).toHaveLength(1);
  return hits[0] as Extract<AlarmEvent, { type: T }>;
}

/**
 * A deep desaturation: the high (latching) spo2-desat alarm raised at s(5). The medium spo2-low
 * rule is switched off for the patient so its own on-delay does not mix into the sequences.
 */
function desat(e: AlarmEngine, patientId = 'p1'): string {
  e.setThresholds(patientId, { 'spo2-low': { enabled: false } });
  e.observe(patientId, { spo2: 84 }, s(0));
  return only(e.observe(patientId, { spo2: 84 }, s(5)), 'raised').alarm.id;
}

const device = (over: Partial<DeviceAlarmInput> = {}): DeviceAlarmInput => ({
  deviceId: 'mon-7',
  alarmId: 'mon-7:1',
  event: 'raised',
  kind: 'lead-off',
  category: 'technical',
  priority: 'low',
  text: 'ECG lead off',
  ...over,
});

describe('latching and acknowledgement', () => {
  it('a high alarm latches after its cause ends, until acknowledged', () => {
    const e = engine();
    const id = desat(e);
    expect(e.get(id)).toMatchObject({ priority: 'high', latching: true, state: 'active' });
    const ended = e.observe('p1', { spo2: 95 }, s(8));
    expect(kinds(ended)).toEqual(['condition-ended:spo2-desat']);
    expect(e.get(id)).toMatchObject({ state: 'active', conditionPresent: false });
    expect(e.tick(s(30))).toEqual([]); // still shown, nothing new

    const ack = e.acknowledge(id, 'nurse.ann', s(40));
    if (!ack.ok) throw new Error('ack failed');
    expect(kinds(ack.events)).toEqual(['acknowledged:spo2-desat', 'resolved:spo2-desat']);
    expect(only(ack.events, 'acknowledged')).toMatchObject({ by: 'nurse.ann', at: s(40) });
    expect(only(ack.events, 'resolved')).toMatchObject({ reason: 'acknowledged', by: 'nurse.ann' });
    expect(ack.alarm).toMatchObject({
      state: 'resolved',
      acknowledgedBy: 'nurse.ann',
      acknowledgedAt: s(40),
      resolvedAt: s(40),
      resolvedBy: 'nurse.ann',
      resolution: 'acknowledged',
    });
    expect(e.get(id)).toBeUndefined();
  });

  it('acknowledged while present: resolves when the cause ends', () => {
    const e = engine();
    const id = desat(e);
    const ack = e.acknowledge(id, 'dr.bo', s(6));
    expect(ack.ok && kinds(ack.events)).toEqual(['acknowledged:spo2-desat']);
    expect(e.get(id)?.state).toBe('acknowledged');
    const r = only(e.observe('p1', { spo2: 96 }, s(9)), 'resolved');
    expect(r).toMatchObject({ reason: 'condition-cleared', by: null });
    expect(r.alarm).toMatchObject({ acknowledgedBy: 'dr.bo', resolvedAt: s(9) });
  });

  it('a medium alarm does not latch: it resolves by itself when the cause ends', () => {
    const e = engine();
    e.observe('p1', { heartRate: 130 }, s(0));
    e.observe('p1', { heartRate: 130 }, s(10));
    expect(kinds(e.observe('p1', { heartRate: 100 }, s(20)))).toEqual(['resolved:hr-high']);
  });

  it('a latched alarm whose cause returns is the same alarm again', () => {
    const e = engine();
    const id = desat(e);
    e.observe('p1', { spo2: 95 }, s(8));
    e.observe('p1', { spo2: 84 }, s(9));
    const back = e.observe('p1', { spo2: 84 }, s(14));
    expect(kinds(back)).toEqual(['condition-returned:spo2-desat']);
    expect(
      e
        .open('p1')
        .filter((a) => a.kind === 'spo2-desat')
        .map((a) => a.id),
    ).toEqual([id]);
  });

  it('acknowledging twice is harmless; unknown ids are reported', () => {
    const e = engine();
    const id = desat(e);
    e.acknowledge(id, 'a', s(6));
    const again = e.acknowledge(id, 'b', s(7));
    expect(again.ok && again.events).toEqual([]);
    expect(e.get(id)?.acknowledgedBy).toBe('a');
    expect(e.acknowledge('nope', 'a', s(8))).toEqual({ ok: false, reason: 'not_found' });
    expect(e.resolve('nope', 'a', s(8))).toEqual({ ok: false, reason: 'not_found' });
  });

  it('resolving by hand cannot hide a condition that is still present', () => {
    const e = engine();
    const id = desat(e);
    const r = e.resolve(id, 'dr.bo', s(6));
    expect(r.ok && r.events[0]).toMatchObject({ type: 'resolved', reason: 'manual', by: 'dr.bo' });
    expect(e.observe('p1', { spo2: 84 }, s(7))).toEqual([]); // fresh on-delay
    const again = only(e.observe('p1', { spo2: 84 }, s(12)), 'raised');
    expect(again.alarm.id).not.toBe(id);
  });
});

describe('de-duplication', () => {
  it('one open alarm per patient and condition, whatever reports it', () => {
    const e = engine();
    expect(kinds(e.deviceAlarm('p1', device(), s(0)))).toEqual(['raised:lead-off']);
    expect(e.deviceAlarm('p1', device({ alarmId: 'mon-7:2' }), s(1))).toEqual([]);
    expect(e.deviceAlarm('p2', device(), s(1))).toHaveLength(1);
    expect(e.open().map((a) => `${a.patientId}:${a.kind}`)).toEqual(['p1:lead-off', 'p2:lead-off']);
  });

  it('a device alarm of the same kind as a rule joins the rule alarm', () => {
    const e = engine();
    desat(e);
    expect(
      e.deviceAlarm('p1', device({ kind: 'spo2-desat', category: 'physiological', priority: 'high' }), s(6)),
    ).toEqual([]);
  });

  it('device alarms end when the device says so; unknown kinds are kept', () => {
    const e = engine();
    const raised = only(
      e.deviceAlarm(
        'p1',
        device({ kind: 'pacer-failure', category: 'physiological', priority: 'medium' }),
        s(0),
      ),
      'raised',
    );
    expect(raised.alarm).toMatchObject({
      kind: 'pacer-failure',
      category: 'physiological',
      deviceId: 'mon-7',
      deviceAlarmId: 'mon-7:1',
    });
    expect(
      kinds(
        e.deviceAlarm(
          'p1',
          device({ kind: 'pacer-failure', event: 'ended', category: 'physiological', priority: 'medium' }),
          s(3),
        ),
      ),
    ).toEqual(['resolved:pacer-failure']);
    expect(e.deviceAlarm('p1', device({ event: 'ended' }), s(4))).toEqual([]); // nothing open: ignored
  });

  it('a higher priority report raises the open alarm, which must be acknowledged again', () => {
    const e = engine();
    const first = only(e.deviceAlarm('p1', device({ kind: 'battery-low', priority: 'low' }), s(0)), 'raised');
    e.acknowledge(first.alarm.id, 'n', s(1));
    const up = only(
      e.deviceAlarm('p1', device({ kind: 'battery-low', priority: 'high' }), s(2)),
      'priority-raised',
    );
    expect(up.from).toBe('low');
    expect(up.alarm).toMatchObject({
      id: first.alarm.id,
      priority: 'high',
      state: 'active',
      latching: true,
      acknowledgedBy: null,
    });
    // Lower priority reports never lower it.
    expect(e.deviceAlarm('p1', device({ kind: 'battery-low', priority: 'medium' }), s(3))).toEqual([]);
    expect(e.get(first.alarm.id)?.priority).toBe('high');
  });
});

describe('escalation', () => {
  it('a high alarm unacknowledged for 60 s escalates exactly once', () => {
    const e = engine();
    const id = desat(e); // raised at s(5)
    expect(e.nextDeadline()).toBe(s(65));
    expect(e.tick(s(64.999))).toEqual([]);
    const esc = only(e.tick(s(65)), 'escalated');
    expect(esc).toMatchObject({ at: s(65), unacknowledgedMs: 60_000 });
    expect(esc.alarm).toMatchObject({ id, escalatedAt: s(65) });
    expect(e.tick(s(200))).toEqual([]);
    expect(e.nextDeadline()).toBeNull();
  });

  it('escalation is reported by any call that passes the deadline, before that call’s own events', () => {
    const e = engine();
    desat(e);
    const ev = e.observe('p1', { spo2: 97 }, s(70));
    expect(kinds(ev)).toEqual(['escalated:spo2-desat', 'condition-ended:spo2-desat']);
  });

  it('acknowledging in time prevents escalation; medium alarms never escalate', () => {
    const e = engine();
    const id = desat(e);
    e.acknowledge(id, 'n', s(64));
    expect(e.tick(s(120))).toEqual([]);
    e.observe('p2', { heartRate: 130 }, s(120));
    e.observe('p2', { heartRate: 130 }, s(130));
    expect(e.tick(s(400))).toEqual([]);
  });

  it('a priority raised to high starts its own escalation clock', () => {
    const e = engine();
    e.deviceAlarm('p1', device({ kind: 'battery-low', priority: 'medium' }), s(0));
    e.deviceAlarm('p1', device({ kind: 'battery-low', priority: 'high' }), s(100));
    expect(e.tick(s(159))).toEqual([]);
    expect(kinds(e.tick(s(160)))).toEqual(['escalated:battery-low']);
  });
});

describe('audio pause', () => {
  it('silences the patient’s alarms for 2 minutes, then they sound again', () => {
    const e = engine();
    e.observe('p1', { heartRate: 130 }, s(0));
    e.observe('p1', { heartRate: 130 }, s(10)); // hr-high, medium
    expect(e.sounding('p1', s(10)).map((a) => a.kind)).toEqual(['hr-high']);
    const p = only(e.pause('p1', 'nurse.ann', s(20)), 'audio-paused');
    expect(p).toMatchObject({ until: s(140), ceiling: 'medium', by: 'nurse.ann' });
    expect(e.sounding('p1', s(21))).toEqual([]);
    expect(e.pauseOf('p1', s(21))?.until).toBe(s(140));
    expect(e.nextDeadline()).toBe(s(140));
    expect(e.tick(s(139.999))).toEqual([]);
    expect(only(e.tick(s(140)), 'audio-resumed')).toMatchObject({
      reason: 'expired',
      by: null,
      patientId: 'p1',
    });
    expect(e.sounding('p1', s(140)).map((a) => a.kind)).toEqual(['hr-high']);
  });

  it('a new alarm of higher priority still sounds during a pause; one of equal priority does not', () => {
    const e = engine();
    e.deviceAlarm('p1', device({ kind: 'hr-high', category: 'physiological', priority: 'medium' }), s(0));
    e.pause('p1', 'n', s(1));
    const medium = only(
      e.deviceAlarm('p1', device({ kind: 'rr-high', category: 'physiological', priority: 'medium' }), s(2)),
      'raised',
    );
    expect(medium.audible).toBe(false);
    const high = only(
      e.deviceAlarm('p1', device({ kind: 'asystole', category: 'physiological', priority: 'high' }), s(3)),
      'raised',
    );
    expect(high.audible).toBe(true);
    expect(e.sounding('p1', s(4)).map((a) => a.kind)).toEqual(['asystole']);
    // Another patient is not affected by p1's pause.
    expect(
      only(
        e.deviceAlarm('p2', device({ kind: 'rr-high', category: 'physiological', priority: 'medium' }), s(5)),
        'raised',
      ).audible,
    ).toBe(true);
  });

  it('a pause taken for one high alarm never silences a new high alarm (asystole)', () => {
    const e = engine();
    desat(e); // high, sounding
    expect(only(e.pause('p1', 'n', s(6)), 'audio-paused').ceiling).toBe('high');
    expect(e.sounding('p1', s(7))).toEqual([]);
    const asystole = only(
      e.deviceAlarm('p1', device({ kind: 'asystole', category: 'physiological', priority: 'high' }), s(8)),
      'raised',
    );
    expect(asystole.audible).toBe(true);
    expect(e.sounding('p1', s(9)).map((a) => a.kind)).toEqual(['asystole']);
    expect(
      only(
        e.deviceAlarm(
          'p1',
          device({ kind: 'rr-high', category: 'physiological', priority: 'medium' }),
          s(10),
        ),
        'raised',
      ).audible,
    ).toBe(false);
  });

  it('a pause taken while only a low alarm sounds lets new medium alarms through', () => {
    const e = engine();
    e.deviceAlarm('p1', device({ priority: 'low' }), s(0));
    expect(only(e.pause('p1', 'n', s(1)), 'audio-paused').ceiling).toBe('low');
    expect(
      only(e.deviceAlarm('p1', device({ kind: 'battery-low', priority: 'medium' }), s(2)), 'raised').audible,
    ).toBe(true);
  });

  it('a pre-emptive pause (nothing sounding) silences low and medium but never high', () => {
    const e = engine();
    expect(only(e.pause('p1', 'n', s(0)), 'audio-paused').ceiling).toBe('medium');
    expect(only(e.deviceAlarm('p1', device({ priority: 'low' }), s(1)), 'raised').audible).toBe(false);
    expect(
      only(e.deviceAlarm('p1', device({ kind: 'battery-low', priority: 'medium' }), s(2)), 'raised').audible,
    ).toBe(false);
    expect(
      only(e.deviceAlarm('p1', device({ kind: 'equipment-fault', priority: 'high' }), s(3)), 'raised')
        .audible,
    ).toBe(true);
  });

  it('a priority raised above the ceiling during a pause sounds', () => {
    const e = engine();
    e.deviceAlarm('p1', device({ kind: 'battery-low', priority: 'medium' }), s(0));
    e.pause('p1', 'n', s(1));
    const up = only(
      e.deviceAlarm('p1', device({ kind: 'battery-low', priority: 'high' }), s(2)),
      'priority-raised',
    );
    expect(up.audible).toBe(true);
    expect(e.sounding('p1', s(3)).map((a) => a.kind)).toEqual(['battery-low']);
  });

  it('a pause is not an acknowledgement: escalation still runs', () => {
    const e = engine();
    desat(e); // s(5)
    e.pause('p1', 'n', s(6));
    expect(kinds(e.tick(s(65)))).toEqual(['escalated:spo2-desat']);
  });

  it('can be cancelled early, and is bounded to the pause length', () => {
    const e = engine();
    e.pause('p1', 'n', s(0));
    expect(only(e.resumeAudio('p1', 'm', s(5)), 'audio-resumed')).toMatchObject({
      reason: 'cancelled',
      by: 'm',
    });
    expect(e.resumeAudio('p1', 'm', s(6))).toEqual([]);
    expect(() => e.pause('p1', 'n', s(7), 121_000)).toThrow(RangeError);
    expect(() => e.pause('p1', 'n', s(7), 0)).toThrow(RangeError);
    expect(only(e.pause('p1', 'n', s(7), 30_000), 'audio-paused').until).toBe(s(37));
  });
});

describe('NEWS2 alarms', () => {
  const normal: News2Input = {
    respirationRate: 16,
    spo2: 97,
    onOxygen: false,
    systolicBp: 120,
    pulse: 70,
    consciousness: 'A',
    temperature: 37,
  };
  const medium = scoreNews2({ ...normal, onOxygen: true, respirationRate: 22, pulse: 95 }); // 5
  const single3 = scoreNews2({ ...normal, consciousness: 'C' }); // 3 in one parameter
  const high = scoreNews2({ ...normal, onOxygen: true, respirationRate: 26, pulse: 115 }); // 2 + 3 + 2 = 7
  const low = scoreNews2(normal);

  it('the fixtures score what their names say', () => {
    expect([medium.total, medium.band, single3.band, high.total, high.band, low.total]).toEqual([
      5,
      'medium',
      'low-medium',
      7,
      'high',
      0,
    ]);
  });

  it('entering 5–6 raises a medium alarm; staying there does not raise again', () => {
    const e = engine();
    const r = only(e.observeNews2('p1', medium, s(0)), 'raised');
    expect(r.alarm).toMatchObject({
      kind: 'news2',
      priority: 'medium',
      source: 'news2',
      value: 5,
      latching: false,
    });
    expect(e.observeNews2('p1', medium, s(60))).toEqual([]);
    expect(kinds(e.observeNews2('p1', low, s(120)))).toEqual(['resolved:news2']);
  });

  it('a single 3 raises a medium alarm', () => {
    const e = engine();
    expect(only(e.observeNews2('p1', single3, s(0)), 'raised').alarm.priority).toBe('medium');
  });

  it('≥ 7 raises the open medium alarm to high, which latches and escalates', () => {
    const e = engine();
    const r = only(e.observeNews2('p1', medium, s(0)), 'raised');
    const up = only(e.observeNews2('p1', high, s(10)), 'priority-raised');
    expect(up.alarm).toMatchObject({ id: r.alarm.id, priority: 'high', latching: true });
    expect(kinds(e.observeNews2('p1', low, s(20)))).toEqual(['condition-ended:news2']);
    expect(kinds(e.tick(s(70)))).toEqual(['escalated:news2']);
  });

  it('≥ 7 from nothing raises a high alarm', () => {
    const e = engine();
    expect(only(e.observeNews2('p1', high, s(0)), 'raised').alarm.priority).toBe('high');
  });

  it('after a manual resolve, the alarm returns only on entering a higher level', () => {
    const e = engine();
    const r = only(e.observeNews2('p1', medium, s(0)), 'raised');
    e.resolve(r.alarm.id, 'dr.bo', s(1));
    expect(e.observeNews2('p1', medium, s(2))).toEqual([]);
    expect(only(e.observeNews2('p1', high, s(3)), 'raised').alarm.priority).toBe('high');
  });

  it('an incomplete low score does not clear the alarm (it is only a lower bound)', () => {
    const e = engine();
    e.observeNews2('p1', medium, s(0));
    const partial = scoreNews2({ respirationRate: 16, pulse: 70 });
    expect(partial.complete).toBe(false);
    expect(e.observeNews2('p1', partial, s(1))).toEqual([]);
    expect(e.open('p1').map((a) => a.kind)).toEqual(['news2']);
    expect(kinds(e.observeNews2('p1', low, s(2)))).toEqual(['resolved:news2']);
  });
});

describe('clock handling and housekeeping', () => {
  it('a clock stepping backwards never makes time run back', () => {
    const e = engine();
    desat(e); // raised at s(5)
    e.tick(s(30));
    expect(e.tick(s(0))).toEqual([]);
    expect(kinds(e.tick(s(65)))).toEqual(['escalated:spo2-desat']);
    expect(() => e.tick(Number.NaN)).toThrow(RangeError);
  });

  it('forgetPatient drops all of a patient’s state', () => {
    const e = engine();
    desat(e, 'p1');
    e.pause('p1', 'n', s(6));
    e.setThresholds('p1', { 'spo2-low': { limit: 85 } });
    e.forgetPatient('p1');
    expect(e.open('p1')).toEqual([]);
    expect(e.pauseOf('p1', s(7))).toBeNull();
    expect(e.thresholds('p1').find((r) => r.kind === 'spo2-low')?.limit).toBe(90);
    expect(e.nextDeadline()).toBeNull();
  });

  it('AlarmBook refuses nonsense durations; default ids are UUIDs', () => {
    expect(() => new AlarmBook({ escalateAfterMs: 0 })).toThrow(RangeError);
    const b = new AlarmBook();
    const [ev] = b.conditionOn(
      { patientId: 'p', kind: 'vfib', priority: 'high', source: 'device', text: 'VF' },
      0,
    );
    expect(ev?.type === 'raised' && ev.alarm.id).toMatch(/^[0-9a-f-]{36}$/);
    expect(ev?.type === 'raised' && ev.alarm.category).toBe('physiological');
  });

  it('snapshots are frozen copies', () => {
    const e = engine();
    const id = desat(e);
    const snap = e.get(id)!;
    expect(Object.isFrozen(snap)).toBe(true);
    e.acknowledge(id, 'n', s(6));
    expect(snap.state).toBe('active');
  });
});

describe('alarm ids', () => {
  it('are time-ordered UUIDv7 by default, so new alarms append to the id index', async () => {
    const e = new AlarmEngine();
    const ids: string[] = [];
    for (let i = 0; i < 5; i++) {
      const p = `p${i}`;
      ids.push(only(e.deviceAlarm(p, device({ alarmId: `x${i}` }), s(i)), 'raised').alarm.id);
      // UUIDv7 orders by millisecond; wait one so each id has its own.
      await new Promise((r) => setTimeout(r, 2));
    }
    for (const id of ids)
      expect(id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect([...ids].sort()).toEqual(ids);
    expect(new Set(ids).size).toBe(ids.length);
  });
});
