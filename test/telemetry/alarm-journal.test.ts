import { appendFileSync, readFileSync, rmSync } from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { DeviceAlarm } from '../../src/telemetry/alarm-frame.ts';
import { AlarmJournal } from '../../src/telemetry/alarm-journal.ts';
import { tempDir } from '../helpers/app.ts';

const a = (alarmId: string, event: 'raised' | 'ended' = 'raised'): DeviceAlarm => ({
  alarmId,
  event,
  kind: 'lead-off',
  category: 'technical',
  priority: 'medium',
  time: 1,
  text: 'x',
});

describe('AlarmJournal', () => {
  const dir = tempDir('cw-journal-');
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('replays pending alarms in order, forgets settled ones, and ignores a torn last line', () => {
    const file = path.join(dir, 'j1');
    const j = new AlarmJournal(file, 'none');
    j.add(a('1'));
    j.add(a('2'));
    j.add(a('2', 'ended'));
    j.add(a('3'));
    expect(j.settle(a('2'))).toBe(true);
    expect(j.settle(a('2'))).toBe(false);
    j.close();
    appendFileSync(file, '+ {"alarmId":"4","ev'); // crash mid-write
    const again = new AlarmJournal(file, 'none');
    expect(again.pending().map((x) => `${x.alarmId}/${x.event}`)).toEqual([
      '1/raised',
      '2/ended',
      '3/raised',
    ]);
    again.close();
  });

  it('compacts to the pending entries only', () => {
    const file = path.join(dir, 'j2');
    const j = new AlarmJournal(file, 'none');
    for (let i = 0; i < 50; i++) j.add(a(`x${i}`));
    for (let i = 0; i < 49; i++) j.settle(a(`x${i}`));
    j.compact();
    j.close();
    const lines = readFileSync(file, 'utf8').trim().split('\n');
    expect(lines).toHaveLength(1);
    expect(new AlarmJournal(file, 'none').pending().map((x) => x.alarmId)).toEqual(['x49']);
  });
});
