/**
 * Observations: discrete clinical values from HL7 ORU, manual records and (summarised) devices.
 * One row per value; a blood-pressure panel is its systolic and diastolic rows sharing `panel`
 * (85354-9) and time. LOINC is the primary code; a device's MDC code is kept beside it.
 */
import type { Kysely } from 'kysely';
import type { MigrationContext } from './index.ts';

export async function up(db: Kysely<unknown>, { engine, autoId }: MigrationContext): Promise<void> {
  await db.schema
    .createTable('observations')
    .addColumn('seq', autoId, (c) =>
      engine === 'postgres' ? c.primaryKey() : c.primaryKey().autoIncrement(),
    )
    .addColumn('id', 'text', (c) => c.notNull().unique())
    .addColumn('patient_id', 'text', (c) => c.notNull().references('patients.id').onDelete('cascade'))
    .addColumn('code', 'text', (c) => c.notNull())
    .addColumn('code_system', 'text', (c) => c.notNull())
    .addColumn('display', 'text')
    .addColumn('mdc_code', 'text')
    .addColumn('value_num', 'double precision')
    .addColumn('value_text', 'text')
    .addColumn('unit', 'text')
    .addColumn('ref_range', 'text')
    .addColumn('abnormal_flags', 'text')
    .addColumn('status', 'text', (c) => c.notNull())
    .addColumn('category', 'text')
    .addColumn('panel', 'text')
    .addColumn('effective_at', 'bigint', (c) => c.notNull())
    .addColumn('recorded_at', 'bigint', (c) => c.notNull())
    .addColumn('source', 'text', (c) => c.notNull())
    .addColumn('source_ref', 'text')
    .execute();
  await db.schema
    .createIndex('observations_patient_code_time')
    .on('observations')
    .columns(['patient_id', 'code', 'effective_at'])
    .execute();
  await db.schema
    .createIndex('observations_patient_time')
    .on('observations')
    .columns(['patient_id', 'effective_at'])
    .execute();
}
