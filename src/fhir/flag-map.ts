/**
 * Alarms as FHIR R4 Flag.
 *
 * Why Flag: an alarm is a time-bound warning about one patient that is shown to the people caring
 * for them until it ends, which is what Flag is for (status active/inactive, period, subject,
 * category, and the standard flag-priority extension whose codes PL/PM/PH match the IEC 60601-1-8
 * low/medium/high priorities one to one). DetectedIssue is about a problem with an action (a drug
 * interaction, a duplicate order) and has no lifecycle a monitor alarm could follow; R4 has no
 * DeviceAlert (that arrives in R6). The alarm lifecycle states CareWire has and Flag lacks
 * (acknowledged, by whom) travel in two small extensions.
 */
import type { Extension, Flag } from '@medplum/fhirtypes';
import type { Selectable } from 'kysely';
import type { AlarmsTable } from '../store/schema.ts';
import { CW, HL7, SID } from './constants.ts';

export type AlarmRow = Selectable<AlarmsTable>;

const PRIORITY_CODE: Readonly<Record<string, { code: string; display: string }>> = {
  high: { code: 'PH', display: 'High priority' },
  medium: { code: 'PM', display: 'Medium priority' },
  low: { code: 'PL', display: 'Low priority' },
};

/** Alarm state → Flag.status: an alarm not yet resolved (active or acknowledged) is an active flag. */
export function flagStatusOf(state: string): Flag['status'] {
  return state === 'resolved' ? 'inactive' : 'active';
}

/** Flag.status search value → alarm states. */
export const ALARM_STATES_FOR: Readonly<Record<string, readonly string[]>> = {
  active: ['active', 'acknowledged'],
  inactive: ['resolved'],
  'entered-in-error': [],
};

export function toFhirFlag(r: AlarmRow): Flag {
  const ext: Extension[] = [];
  const pr = PRIORITY_CODE[r.priority];
  if (pr) {
    ext.push({
      url: HL7.flagPriority,
      valueCodeableConcept: {
        coding: [{ system: HL7.flagPriorityCode, code: pr.code, display: pr.display }],
      },
    });
  }
  ext.push({ url: CW.alarmState, valueCode: r.state });
  if (r.acked_at !== null) {
    const ack: Extension = {
      url: CW.alarmAcknowledged,
      extension: [{ url: 'at', valueDateTime: new Date(Number(r.acked_at)).toISOString() }],
    };
    if (r.acked_by) ack.extension!.push({ url: 'by', valueString: r.acked_by });
    ext.push(ack);
  }
  const period: NonNullable<Flag['period']> = { start: new Date(Number(r.raised_at)).toISOString() };
  if (r.resolved_at !== null) period.end = new Date(Number(r.resolved_at)).toISOString();
  const category = r.category === 'technical' ? 'safety' : 'clinical';
  const flag: Flag = {
    resourceType: 'Flag',
    id: r.id,
    meta: { lastUpdated: new Date(Number(r.updated_at)).toISOString() },
    extension: ext,
    status: flagStatusOf(r.state),
    category: [
      {
        coding: [
          {
            system: HL7.flagCategory,
            code: category,
            display: category === 'safety' ? 'Safety' : 'Clinical',
          },
        ],
        text: r.category,
      },
    ],
    code: { coding: [{ system: CW.alarmKind, code: r.kind }], text: r.text || r.kind },
    subject: { reference: `Patient/${r.patient_id}` },
    period,
  };
  if (r.device_id) {
    flag.author = {
      identifier: { system: SID.device, value: r.device_id },
      display: `device ${r.device_id}`,
    };
  }
  return flag;
}
