/**
 * HL7 v2 gateway: every received message stored raw with the acknowledgement it was answered with,
 * and the registry columns ADT messages fill (identifiers, admission and discharge times).
 *
 * `dedup_key` (MSH-3 + MSH-10) is unique so a message retransmitted by its sender is stored once,
 * also when two nodes receive it at the same moment. Messages that could not be parsed far enough to
 * be accepted have no key (NULL never conflicts), so a corrected resend with the same MSH-10 is
 * processed. `id` is the integer row key (SQLite's rowid, so the hot insert maintains no extra
 * index for it) and gives arrival order.
 */
import type { Kysely } from 'kysely';
import type { MigrationContext } from './index.ts';

export async function up(db: Kysely<unknown>, { engine, autoId }: MigrationContext): Promise<void> {
  await db.schema
    .createTable('hl7_messages')
    .addColumn('id', autoId, (c) => (engine === 'postgres' ? c.primaryKey() : c.primaryKey().autoIncrement()))
    .addColumn('dedup_key', 'text', (c) => c.unique())
    .addColumn('control_id', 'text', (c) => c.notNull())
    .addColumn('sending_app', 'text', (c) => c.notNull())
    .addColumn('sending_facility', 'text', (c) => c.notNull())
    .addColumn('message_type', 'text', (c) => c.notNull())
    .addColumn('trigger_event', 'text', (c) => c.notNull())
    .addColumn('version', 'text', (c) => c.notNull())
    .addColumn('received_at', 'bigint', (c) => c.notNull())
    .addColumn('raw', 'text', (c) => c.notNull())
    .addColumn('ack', 'text', (c) => c.notNull())
    .addColumn('ack_code', 'text', (c) => c.notNull())
    .addColumn('patient_id', 'text')
    .addColumn('error', 'text')
    .execute();
  await db.schema.createIndex('hl7_messages_received').on('hl7_messages').column('received_at').execute();
  await db.schema
    .createIndex('hl7_messages_patient')
    .on('hl7_messages')
    .columns(['patient_id', 'id'])
    .execute();
  await db.schema.alterTable('patients').addColumn('identifiers', 'text').execute();
  await db.schema.alterTable('patients').addColumn('admitted_at', 'bigint').execute();
  await db.schema.alterTable('patients').addColumn('discharged_at', 'bigint').execute();
}
