/**
 * JSON bodies of the TCP alarm-channel frames, as TypeBox schemas compiled once at load time.
 * The same schemas can describe alarms in the HTTP API (OpenAPI) so the two never drift.
 *
 * Unknown properties are allowed and dropped (a newer device may add fields); unknown alarm
 * *kinds* are allowed too, when well-formed and given a category, because refusing an alarm for
 * vocabulary would mean a real alarm never reaches a clinician.
 */
import Type from 'typebox';
import { Compile } from 'typebox/compile';

export const ALARM_PROTOCOL_VERSION = 1;

const Id = Type.String({ minLength: 1, maxLength: 64, pattern: '^[A-Za-z0-9._:-]+$' });
const Millis = Type.Integer({ minimum: 0, maximum: Number.MAX_SAFE_INTEGER });
const Nonce = Type.String({ minLength: 16, maxLength: 128, pattern: '^[A-Za-z0-9_-]+$' });
const Priority = Type.Union([Type.Literal('high'), Type.Literal('medium'), Type.Literal('low')]);
const AlarmEventKind = Type.Union([Type.Literal('raised'), Type.Literal('ended')]);

export const DeviceAlarmSchema = Type.Object({
  /** Unique per device for one alarm condition instance; with `event`, the de-duplication key. */
  alarmId: Id,
  /** `raised` when the device starts the alarm, `ended` when its condition is over. */
  event: AlarmEventKind,
  kind: Type.String({ minLength: 1, maxLength: 48, pattern: '^[a-z0-9]+(-[a-z0-9]+)*$' }),
  category: Type.Union([Type.Literal('physiological'), Type.Literal('technical')]),
  priority: Priority,
  /** When the device detected the condition (ms since epoch, device clock). */
  time: Millis,
  text: Type.String({ maxLength: 1024 }),
  patientId: Type.Optional(Id),
  bed: Type.Optional(Type.String({ minLength: 1, maxLength: 32 })),
  /** Wire code of the vital sign involved (clinical/vital-signs.ts), with its value and the limit crossed. */
  code: Type.Optional(Type.Integer({ minimum: 1, maximum: 65535 })),
  value: Type.Optional(Type.Number()),
  limit: Type.Optional(Type.Number()),
});

export const ChallengeSchema = Type.Object({
  protocol: Type.Integer({ minimum: 1, maximum: 255 }),
  nonce: Nonce,
  serverTime: Millis,
});

export const HelloSchema = Type.Object({
  protocol: Type.Integer({ minimum: 1, maximum: 255 }),
  deviceId: Type.String({ minLength: 1, maxLength: 64 }),
  clientTime: Millis,
  /** base64url HMAC over the challenge (helloMac); may be left out when mutual TLS named the device. */
  mac: Type.Optional(Type.String({ minLength: 43, maxLength: 43, pattern: '^[A-Za-z0-9_-]+$' })),
});

export const WelcomeSchema = Type.Object({
  serverTime: Millis,
  maxFrameBytes: Type.Integer({ minimum: 5 }),
  heartbeatMs: Type.Integer({ minimum: 0 }),
});

export const AckSchema = Type.Object({
  alarmId: Id,
  event: AlarmEventKind,
  /** True when this alarm was stored before: answered as the original was. */
  duplicate: Type.Boolean(),
});

export const NakSchema = Type.Object({
  alarmId: Id,
  event: AlarmEventKind,
  code: Type.String({ minLength: 1, maxLength: 48 }),
  message: Type.String({ maxLength: 1024 }),
  /** True when the device should send the same alarm again later (e.g. server busy). */
  retry: Type.Boolean(),
});

export const PingSchema = Type.Object({ nonce: Type.String({ minLength: 1, maxLength: 64 }) });

export const ErrorSchema = Type.Object({
  code: Type.String({ minLength: 1, maxLength: 48 }),
  message: Type.String({ maxLength: 1024 }),
});

export type DeviceAlarm = Type.Static<typeof DeviceAlarmSchema>;
export type ChallengeBody = Type.Static<typeof ChallengeSchema>;
export type HelloBody = Type.Static<typeof HelloSchema>;
export type WelcomeBody = Type.Static<typeof WelcomeSchema>;
export type AckBody = Type.Static<typeof AckSchema>;
export type NakBody = Type.Static<typeof NakSchema>;
export type PingBody = Type.Static<typeof PingSchema>;
export type ErrorBody = Type.Static<typeof ErrorSchema>;

export const validators = {
  alarm: Compile(DeviceAlarmSchema),
  challenge: Compile(ChallengeSchema),
  hello: Compile(HelloSchema),
  welcome: Compile(WelcomeSchema),
  ack: Compile(AckSchema),
  nak: Compile(NakSchema),
  ping: Compile(PingSchema),
  error: Compile(ErrorSchema),
} as const;

/** Copies only the known fields, so extra properties from the wire never reach the store. */
export function pickAlarm(a: DeviceAlarm): DeviceAlarm {
  const out: DeviceAlarm = {
    alarmId: a.alarmId,
    event: a.event,
    kind: a.kind,
    category: a.category,
    priority: a.priority,
    time: a.time,
    text: a.text,
  };
  if (a.patientId !== undefined) out.patientId = a.patientId;
  if (a.bed !== undefined) out.bed = a.bed;
  if (a.code !== undefined) out.code = a.code;
  if (a.value !== undefined) out.value = a.value;
  if (a.limit !== undefined) out.limit = a.limit;
  return out;
}
