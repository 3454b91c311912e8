/**
 * The UDP vitals gateway on a real server and socket: accepted datagrams are stored once and
 * published; forged, unknown and replayed datagrams are stored never and counted by reason; loss
 * accounting is exact when the sender drops known datagrams. Runs on both engines.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ENGINES, startTestApp, type TestApp } from '../helpers/app.ts';
import { waitFor } from '../helpers/cli.ts';
import { datagram, metric, sendAll } from './helpers.ts';

async function count(t: TestApp, deviceId?: string): Promise<number> {
  let q = t.services.store.db.selectFrom('vital_samples').select((eb) => eb.fn.countAll<number>().as('n'));
  if (deviceId) q = q.where('device_id', '=', deviceId);
  return Number((await q.executeTakeFirstOrThrow()).n);
}

async function metrics(t: TestApp): Promise<string> {
  return (await fetch(`${t.url}/metrics`)).text();
}

describe.each(ENGINES)('UDP telemetry gateway on %s', (engine) => {
  let t: TestApp;
  let port: number;
  let key: Buffer;
  let patientId: string;
  const published: Array<{ samples: Array<{ deviceId: string; seq: number }> }> = [];

  beforeAll(async () => {
    t = await startTestApp(engine);
    port = t.app.ports.telemetry!;
    const p = await t.services.patients.insert({
      mrn: 'U-1',
      givenName: 'Udp',
      familyName: 'Test',
      ward: 'W1',
      bed: '1',
    });
    patientId = p.id;
    const who = { agent: { username: 'test' }, source: 'test' };
    const added = await t.services.devices.add({ id: 'mon-1', patient: 'U-1' }, who);
    key = Buffer.from(added.key, 'base64url');
    await t.services.devices.add({ id: 'mon-loss' }, who).then((d) => {
      lossKey = Buffer.from(d.key, 'base64url');
    });
    await t.services.bus.subscribe('vitals', (m: (typeof published)[number]) => {
      published.push(m);
    });
  });
  let lossKey: Buffer;
  afterAll(async () => t?.close());

  it('stores each accepted datagram once, linked to the patient, and publishes it', async () => {
    const bufs = [1, 2, 3, 4, 5].map((seq) =>
      datagram('mon-1', key, seq, { heartRate: 70 + seq, spo2: 96, temperature: 36.6 }),
    );
    await sendAll(port, bufs);
    await waitFor(async () => ((await count(t, 'mon-1')) === 5 ? true : undefined), 5000, '5 samples');
    const rows = await t.services.store.db
      .selectFrom('vital_samples')
      .selectAll()
      .where('device_id', '=', 'mon-1')
      .orderBy('seq')
      .execute();
    expect(
      rows.map((r) => [
        Number(r.seq),
        r.patient_id,
        Number(r.heart_rate),
        Number(r.spo2),
        Number(r.temperature),
      ]),
    ).toEqual([1, 2, 3, 4, 5].map((s) => [s, patientId, 70 + s, 96, 36.6]));
    expect(rows.every((r) => r.pulse_rate === null)).toBe(true);
    await waitFor(
      () =>
        published.flatMap((m) => m.samples).filter((s) => s.deviceId === 'mon-1').length === 5
          ? true
          : undefined,
      3000,
      'bus publication',
    );
  });

  it('stores no forged, unknown or replayed datagram, and counts each by reason', async () => {
    const before = await count(t);
    const forged = datagram('mon-1', key, 6);
    forged[forged.length - 1]! ^= 0x01;
    const otherKey = Buffer.alloc(32, 7);
    const unknown = datagram('ghost-9', otherKey, 1);
    const replayed = datagram('mon-1', key, 3); // seq 3 was accepted above
    const wrongKey = datagram('mon-1', otherKey, 7); // right id, wrong key: bad tag
    const garbage = Buffer.from('not a datagram at all, just bytes on the wire');
    await sendAll(port, [forged, unknown, replayed, wrongKey, garbage]);
    const text = await waitFor(
      async () => {
        const m = await metrics(t);
        return metric(m, 'carewire_telemetry_datagrams_total', { outcome: 'rejected' }) >= 5 ? m : undefined;
      },
      5000,
      'rejections counted',
    );
    expect(metric(text, 'carewire_telemetry_rejected_total', { reason: 'bad_tag' })).toBe(2);
    expect(metric(text, 'carewire_telemetry_rejected_total', { reason: 'unknown_device' })).toBe(1);
    expect(metric(text, 'carewire_telemetry_rejected_total', { reason: 'duplicate' })).toBe(1);
    expect(metric(text, 'carewire_telemetry_rejected_total', { reason: 'bad_magic' })).toBe(1);
    await t.services.vitals.flush();
    expect(await count(t)).toBe(before);
    // The sequence after the forged one is still accepted: a forgery never moves the window.
    await sendAll(port, [datagram('mon-1', key, 6)]);
    await waitFor(async () => ((await count(t, 'mon-1')) === 6 ? true : undefined), 5000, 'seq 6 stored');
  });

  it('accounts loss exactly when the sender drops known datagrams', async () => {
    const dropped = new Set([3, 4, 10, 11, 12, 50, 99, 150, 151, 199]);
    const sent = [];
    for (let seq = 1; seq <= 200; seq++) if (!dropped.has(seq)) sent.push(datagram('mon-loss', lossKey, seq));
    await sendAll(port, sent);
    await waitFor(
      async () => ((await count(t, 'mon-loss')) === sent.length ? true : undefined),
      8000,
      'all stored',
    );
    const text = await metrics(t);
    expect(metric(text, 'carewire_telemetry_sequence_total', { kind: 'lost' })).toBe(dropped.size);
    // A late datagram inside the window fills a gap: it is reordered, no longer lost.
    await sendAll(port, [datagram('mon-loss', lossKey, 150)]);
    await waitFor(
      async () => ((await count(t, 'mon-loss')) === sent.length + 1 ? true : undefined),
      5000,
      'late one',
    );
    const after = await metrics(t);
    expect(metric(after, 'carewire_telemetry_sequence_total', { kind: 'lost' })).toBe(dropped.size - 1);
    expect(metric(after, 'carewire_telemetry_sequence_total', { kind: 'reordered' })).toBe(1);
  });

  it('keeps refusing replays after a restart (high-water marks resume the window)', async () => {
    const marks = await t.services.store.db
      .selectFrom('device_sequences')
      .selectAll()
      .where('device_id', '=', 'mon-1')
      .executeTakeFirstOrThrow();
    expect(Number(marks.high_seq)).toBe(6);
  });
});
