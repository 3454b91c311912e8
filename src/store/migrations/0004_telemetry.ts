/**
 * Telemetry: registered devices (with their HMAC key, encrypted at rest), one row per accepted
 * vitals datagram, per-device sequence high-water marks for replay protection across restarts,
 * device alarm frames (the exactly-once de-duplication log of the alarm channel), alarms (the
 * lifecycle state of each alarm, rebuilt into the engine on start) and per-patient NEWS2 settings.
 *
 * `vital_samples` is the hot table (≥ 50,000 rows/s): no primary key or unique index, one index
 * for the only read pattern (a patient's values over a time range). Duplicates are refused before
 * the insert by the replay window, which resumes from `device_sequences` after a restart; that
 * table is updated in the same transaction as the samples, once per device per batch, which costs
 * far less than a unique index on every row.
 */
import type { Kysely } from 'kysely';
import type { MigrationContext } from './index.ts';

export async function up(db: Kysely<unknown>, { engine, autoId }: MigrationContext): Promise<void> {
  await db.schema
    .createTable('devices')
    .addColumn('id', 'text', (c) => c.primaryKey())
    // AES-256-GCM ciphertext of the HMAC key under the data folder's key-encryption key.
    .addColumn('key', 'text', (c) => c.notNull())
    .addColumn('patient_id', 'text', (c) => c.references('patients.id').onDelete('set null'))
    .addColumn('bed', 'text')
    .addColumn('description', 'text')
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .addColumn('updated_at', 'bigint', (c) => c.notNull())
    .addColumn('disabled', 'integer', (c) => c.notNull().defaultTo(0))
    .execute();
  await db.schema.createIndex('devices_patient').on('devices').column('patient_id').execute();

  await db.schema
    .createTable('vital_samples')
    .addColumn('device_id', 'text', (c) => c.notNull())
    .addColumn('seq', 'bigint', (c) => c.notNull())
    .addColumn('patient_id', 'text')
    // Device clock, ms since the epoch (checked to be within ±30 s of ours on receipt).
    .addColumn('ts', 'bigint', (c) => c.notNull())
    .addColumn('received_at', 'bigint', (c) => c.notNull())
    .addColumn('heart_rate', 'double precision')
    .addColumn('pulse_rate', 'double precision')
    .addColumn('resp_rate', 'double precision')
    .addColumn('spo2', 'double precision')
    .addColumn('temperature', 'double precision')
    .addColumn('systolic_bp', 'double precision')
    .addColumn('diastolic_bp', 'double precision')
    // Codes this build does not know, as JSON {"code": value}; null almost always.
    .addColumn('other', 'text')
    .addColumn('flags', 'integer', (c) => c.notNull().defaultTo(0))
    .execute();
  await db.schema
    .createIndex('vital_samples_patient_ts')
    .on('vital_samples')
    .columns(['patient_id', 'ts'])
    .execute();

  await db.schema
    .createTable('device_sequences')
    .addColumn('device_id', 'text', (c) => c.primaryKey())
    .addColumn('high_seq', 'bigint', (c) => c.notNull())
    .addColumn('updated_at', 'bigint', (c) => c.notNull())
    .execute();

  await db.schema
    .createTable('alarms')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('patient_id', 'text', (c) => c.notNull())
    .addColumn('kind', 'text', (c) => c.notNull())
    .addColumn('category', 'text', (c) => c.notNull())
    .addColumn('priority', 'text', (c) => c.notNull())
    .addColumn('source', 'text', (c) => c.notNull())
    .addColumn('state', 'text', (c) => c.notNull())
    .addColumn('latched', 'integer', (c) => c.notNull())
    .addColumn('condition_present', 'integer', (c) => c.notNull())
    .addColumn('text', 'text', (c) => c.notNull())
    .addColumn('value', 'double precision')
    .addColumn('limit_value', 'double precision')
    .addColumn('raised_at', 'bigint', (c) => c.notNull())
    .addColumn('high_since', 'bigint')
    .addColumn('acked_at', 'bigint')
    .addColumn('acked_by', 'text')
    .addColumn('resolved_at', 'bigint')
    .addColumn('resolved_by', 'text')
    .addColumn('resolution', 'text')
    .addColumn('escalated_at', 'bigint')
    .addColumn('device_id', 'text')
    .addColumn('device_alarm_id', 'text')
    .addColumn('updated_at', 'bigint', (c) => c.notNull())
    .execute();
  // Both engines allow several rows with NULLs in a unique index (rule and NEWS2 alarms).
  await db.schema
    .createIndex('alarms_device_alarm')
    .on('alarms')
    .columns(['device_id', 'device_alarm_id'])
    .unique()
    .execute();
  await db.schema.createIndex('alarms_state').on('alarms').columns(['state', 'raised_at']).execute();
  await db.schema.createIndex('alarms_patient').on('alarms').columns(['patient_id', 'raised_at']).execute();

  await db.schema
    .createTable('alarm_frames')
    .addColumn('seq', autoId, (c) =>
      engine === 'postgres' ? c.primaryKey() : c.primaryKey().autoIncrement(),
    )
    .addColumn('device_id', 'text', (c) => c.notNull())
    .addColumn('alarm_id', 'text', (c) => c.notNull())
    .addColumn('event', 'text', (c) => c.notNull())
    .addColumn('patient_id', 'text')
    // The engine alarm this report raised, updated or ended (null when nothing was open).
    .addColumn('alarm_ref', 'text')
    .addColumn('kind', 'text', (c) => c.notNull())
    .addColumn('priority', 'text', (c) => c.notNull())
    .addColumn('device_time', 'bigint', (c) => c.notNull())
    .addColumn('received_at', 'bigint', (c) => c.notNull())
    .addColumn('body', 'text', (c) => c.notNull())
    .execute();
  await db.schema
    .createIndex('alarm_frames_key')
    .on('alarm_frames')
    .columns(['device_id', 'alarm_id', 'event'])
    .unique()
    .execute();

  await db.schema
    .createTable('news2_settings')
    .addColumn('patient_id', 'text', (c) => c.primaryKey().references('patients.id').onDelete('cascade'))
    .addColumn('spo2_scale', 'integer', (c) => c.notNull())
    .addColumn('updated_at', 'bigint', (c) => c.notNull())
    .addColumn('updated_by', 'text')
    .execute();
}
