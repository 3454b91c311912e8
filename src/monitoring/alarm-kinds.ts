/**
 * The alarm vocabulary shared by the alarm engine, the TCP alarm channel and the dashboard.
 * Priorities follow IEC 60601-1-8 (high: immediate response, medium: prompt response, low:
 * awareness). Kinds are kebab-case strings because they travel in JSON frames and URLs.
 */

export const ALARM_PRIORITIES = ['low', 'medium', 'high'] as const;
export type AlarmPriority = (typeof ALARM_PRIORITIES)[number];

/** Numeric rank for comparisons: low 1 < medium 2 < high 3. */
export function priorityRank(p: AlarmPriority): number {
  return p === 'high' ? 3 : p === 'medium' ? 2 : 1;
}

export function higherPriority(a: AlarmPriority, b: AlarmPriority): AlarmPriority {
  return priorityRank(a) >= priorityRank(b) ? a : b;
}

/** Alarms about the patient's physiology. */
export const PHYSIOLOGICAL_KINDS = [
  'asystole',
  'vfib',
  'vtach',
  'apnea',
  'spo2-low',
  'spo2-desat',
  'hr-high',
  'hr-low',
  'hr-extreme-high',
  'hr-extreme-low',
  'rr-high',
  'rr-low',
  'nibp-sys-high',
  'nibp-sys-low',
  'temp-high',
  'temp-low',
  'news2',
] as const;

/** Alarms about the equipment: the patient may be fine, but is not being watched. */
export const TECHNICAL_KINDS = [
  'lead-off',
  'sensor-off',
  'signal-poor',
  'battery-low',
  'battery-depleted',
  'equipment-fault',
  'comm-lost',
] as const;

export type PhysiologicalKind = (typeof PHYSIOLOGICAL_KINDS)[number];
export type TechnicalKind = (typeof TECHNICAL_KINDS)[number];
export type AlarmKind = PhysiologicalKind | TechnicalKind;
export type AlarmCategory = 'physiological' | 'technical';

export const ALARM_KINDS: readonly AlarmKind[] = [...PHYSIOLOGICAL_KINDS, ...TECHNICAL_KINDS];

const technical = new Set<string>(TECHNICAL_KINDS);
const all = new Set<string>(ALARM_KINDS);

export function isAlarmKind(s: string): s is AlarmKind {
  return all.has(s);
}

export function alarmCategory(kind: AlarmKind): AlarmCategory {
  return technical.has(kind) ? 'technical' : 'physiological';
}

export function isAlarmPriority(s: string): s is AlarmPriority {
  return s === 'high' || s === 'medium' || s === 'low';
}
