/**
 * Fewer pages per alarm commit. Every alarm frame is ACKed only after its commit, and the commit's
 * cost grows with the WAL pages it writes and fsyncs: one per b-tree leaf it touches. With frames
 * from many devices in one batch, an index keyed by device touches one leaf per device.
 * `alarms_device_alarm` (device_id, device_alarm_id) was such an index, and no query reads it (the
 * frame log's own key, `alarm_frames_key`, answers "seen this frame?"). Measured with strace on
 * `npm run bench -- telemetry` (alarms alone, batches of ~15 frames from 10 devices): ~40 WAL
 * frames per commit before, ~30 after.
 */
import type { Kysely } from 'kysely';
import type { MigrationContext } from './index.ts';

export async function up(db: Kysely<unknown>, _ctx: MigrationContext): Promise<void> {
  await db.schema.dropIndex('alarms_device_alarm').execute();
}
