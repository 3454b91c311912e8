/**
 * The Socket.IO protocol between the server and the web app: event names and payloads. The web
 * app imports these types (type-only), so both sides change together.
 *
 * Offsets: every stream carries the store's own positions, so a client that reconnects (or finds
 * a restarted server) asks for what it missed and the server answers from the store:
 *  - alarms: the alarm row's time of last change (`updated_at`, ms); events carry it as `offset`.
 *    Alarm payloads are whole snapshots, so a replay that overlaps what the client saw is harmless.
 *  - vitals: per patient, the device timestamp (`ts`) of the last `vital_samples` row seen.
 *  - NEWS2: a state, not a stream; every subscription answers each patient's current score.
 */
import type { AlarmSnapshot } from '../monitoring/alarm-lifecycle.ts';

export const EVENTS = {
  /** client → server, with an ack: join the rooms of a scope and replay what was missed. */
  subscribe: 'subscribe',
  /** server → client: coalesced vitals (at most 4 per second per patient). */
  vitals: 'vitals',
  /** server → client: an alarm lifecycle event (raised, acknowledged, resolved …), at once. */
  alarm: 'alarm',
  /** server → client: a patient's NEWS2 changed. */
  news2: 'news2',
  /** server → client: a high alarm left unacknowledged was escalated. */
  escalation: 'escalation',
  /** server → client: a device alarm for a device with no patient assigned. */
  deviceAlarm: 'device-alarm',
  /** server → client: a request was refused (access policy, rate, bad input). */
  denied: 'denied',
  /** server → client: the access token expired or the session ended; refresh and reconnect. */
  sessionExpired: 'session-expired',
} as const;

/** What a client may subscribe to. `station`: every patient the user may see (the central station). */
export type SubscribeScope =
  | { scope: 'station' }
  | { scope: 'patient'; patientId: string }
  | { scope: 'ward'; ward: string };

export interface SubscribeRequest {
  sub: SubscribeScope;
  /** Offsets of what the client already has; absent on a first subscription. */
  since?: {
    /** Highest alarm `offset` seen. */
    alarms?: number;
    /** Per patient: the `ts` of the last vitals sample seen. */
    vitals?: Record<string, number>;
  };
  /** False: no vitals history in the answer (the client loads trends itself or needs none). */
  vitalsHistory?: boolean;
}

export interface PatientInfo {
  id: string;
  name: string;
  mrn: string;
  ward: string | null;
  bed: string | null;
}

/** Vital values by sign, as in `src/clinical/vital-signs.ts` (`heartRate`, `spo2` …). */
export type Values = Partial<
  Record<
    'heartRate' | 'pulseRate' | 'respiratoryRate' | 'spo2' | 'temperature' | 'systolicBp' | 'diastolicBp',
    number
  >
>;

export interface VitalsSample {
  ts: number;
  values: Values;
}

export interface VitalsUpdate {
  patientId: string;
  /** Oldest first; live updates carry one sample, replays up to a few hundred. */
  samples: VitalsSample[];
  /** True when a replay had more samples than it carries (the oldest were left out). */
  truncated?: boolean;
}

export interface VitalsEvent {
  updates: VitalsUpdate[];
}

export interface AlarmEventPayload {
  type: string;
  at: number;
  /** The stream offset: replay from here with `since.alarms`. */
  offset: number;
  alarm: AlarmSnapshot;
}

export interface News2Payload {
  patientId: string;
  at: number;
  total: number;
  complete: boolean;
  missing: string[];
  subScores: Record<string, number>;
  band: string;
  risk: string;
  response: string;
  singleParameterThree: boolean;
}

export interface EscalationPayload {
  at: number;
  ward: string | null;
  bed: string | null;
  patientId: string;
  alarm: AlarmSnapshot;
  unacknowledgedMs: number;
}

export interface DeniedPayload {
  code: 'forbidden' | 'bad-request' | 'rate-limited' | 'not-found' | 'internal';
  message: string;
}

export type SubscribeAck =
  | {
      ok: true;
      patients: PatientInfo[];
      /** Open alarms (first subscription) or every alarm changed since `since.alarms`. */
      alarms: AlarmSnapshot[];
      /** The offset to send next time (the highest row change time the server knows of). */
      alarmOffset: number;
      /** True when more alarms changed than one answer carries: reload the list over HTTP. */
      alarmsTruncated: boolean;
      vitals: VitalsUpdate[];
      news2: News2Payload[];
      /** The server's clock, for data-age display. */
      now: number;
    }
  | { ok: false; error: DeniedPayload };
