/**
 * The TCP alarm channel on a real server: HELLO MAC authentication, ACK only after the commit,
 * duplicates stored once and answered as the original, bounded frames, and the device client's
 * journal carrying unacknowledged alarms across its own restart. Both engines.
 */
import { rmSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AlarmClient } from '../../src/telemetry/alarm-client.ts';
import type { DeviceAlarm } from '../../src/telemetry/alarm-frame.ts';
import { AlarmGateway } from '../../src/telemetry/alarm-gateway.ts';
import { ENGINES, startTestApp, type TestApp, tempDir } from '../helpers/app.ts';
import { RawPeer } from './raw-alarm.ts';

const alarm = (alarmId: string, extra: Partial<DeviceAlarm> = {}): DeviceAlarm => ({
  alarmId,
  event: 'raised',
  kind: 'lead-off',
  category: 'technical',
  priority: 'medium',
  time: Date.now(),
  text: 'ECG lead off',
  ...extra,
});

describe.each(ENGINES)('alarm channel on %s', (engine) => {
  let t: TestApp;
  let port: number;
  let key: Buffer;
  let patientId: string;
  const dir = tempDir('cw-alarm-');

  beforeAll(async () => {
    t = await startTestApp(engine);
    port = t.app.ports.alarm!;
    patientId = (
      await t.services.patients.insert({ mrn: 'AC-1', givenName: 'A', familyName: 'C', ward: 'W', bed: '1' })
    ).id;
    const added = await t.services.devices.add(
      { id: 'mon-a', patient: 'AC-1' },
      { agent: {}, source: 'test' },
    );
    key = Buffer.from(added.key, 'base64url');
  });
  afterAll(async () => {
    await t?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  async function frames(alarmId: string): Promise<number> {
    const r = await t.services.store.db
      .selectFrom('alarm_frames')
      .select((eb) => eb.fn.countAll<number>().as('n'))
      .where('device_id', '=', 'mon-a')
      .where('alarm_id', '=', alarmId)
      .executeTakeFirstOrThrow();
    return Number(r.n);
  }

  it('ACKs an alarm only once it is stored, and answers a duplicate as the original (stored once)', async () => {
    const peer = await RawPeer.connect(port);
    await peer.hello('mon-a', key);
    const a = alarm('dup-1');
    peer.send({ type: 'alarm', alarm: a });
    const first = await peer.frame('ack');
    expect(first).toMatchObject({ alarmId: 'dup-1', event: 'raised', duplicate: false });
    expect(await frames('dup-1')).toBe(1); // stored by the time the ACK arrived
    peer.send({ type: 'alarm', alarm: a });
    peer.send({ type: 'alarm', alarm: a });
    const third = await peer.frame('ack', 3);
    expect(third.duplicate).toBe(true);
    expect((await peer.frame('ack', 2)).duplicate).toBe(true);
    expect(await frames('dup-1')).toBe(1);
    const open = t.services.alarms.engine.open(patientId);
    expect(open.filter((x) => x.kind === 'lead-off')).toHaveLength(1);
    // The `ended` report shares the alarmId, is its own record, and resolves the alarm.
    peer.send({ type: 'alarm', alarm: { ...a, event: 'ended' } });
    expect(await peer.frame('ack', 4)).toMatchObject({ alarmId: 'dup-1', event: 'ended', duplicate: false });
    expect(await frames('dup-1')).toBe(2);
    expect(t.services.alarms.engine.open(patientId).some((x) => x.kind === 'lead-off')).toBe(false);
    const row = await t.services.store.db
      .selectFrom('alarms')
      .selectAll()
      .where('device_alarm_id', '=', 'dup-1')
      .executeTakeFirstOrThrow();
    expect(row.state).toBe('resolved');
    peer.close();
  });

  it('refuses a wrong HELLO MAC, an unknown device and an ALARM before HELLO', async () => {
    const bad = await RawPeer.connect(port);
    await bad.frame('challenge');
    bad.send({ type: 'hello', protocol: 1, deviceId: 'mon-a', clientTime: Date.now(), mac: 'A'.repeat(43) });
    expect(await bad.frame('error')).toMatchObject({ code: 'auth_failed' });
    expect(await bad.closedWithin(3000)).toBe(true);

    const ghost = await RawPeer.connect(port);
    const c = await ghost.frame('challenge');
    const { helloMac } = await import('../../src/telemetry/alarm-frame.ts');
    const k = Buffer.alloc(32, 1);
    ghost.send({
      type: 'hello',
      protocol: 1,
      deviceId: 'ghost',
      clientTime: 1,
      mac: helloMac(k, 'ghost', c.nonce, 1),
    });
    expect(await ghost.frame('error')).toMatchObject({ code: 'auth_failed' });

    const rude = await RawPeer.connect(port);
    await rude.frame('challenge');
    rude.send({ type: 'alarm', alarm: alarm('early-1') });
    expect(await rude.frame('error')).toMatchObject({ code: 'hello_required' });
    expect(await frames('early-1')).toBe(0);
  });

  it('refuses an oversized frame at its length prefix and closes', async () => {
    const peer = await RawPeer.connect(port);
    await peer.hello('mon-a', key);
    const prefix = Buffer.alloc(5);
    prefix.writeUInt32BE(10 * 1024 * 1024, 0);
    prefix[4] = 0x10;
    peer.socket.write(prefix);
    expect(await peer.frame('error')).toMatchObject({ code: 'frame_too_large' });
    expect(await peer.closedWithin(3000)).toBe(true);
  });

  it('keeps unacknowledged alarms across the client’s own restart and delivers them', async () => {
    const journal = path.join(dir, 'mon-a.journal');
    // First run: the server is unreachable (a closed port), so nothing is acknowledged.
    const offline = new AlarmClient({
      host: '127.0.0.1',
      port: 1,
      deviceId: 'mon-a',
      key,
      journal,
      maxBackoffMs: 200,
    });
    offline.start();
    const lost = [
      offline.send(alarm('j-1')),
      offline.send(alarm('j-2', { kind: 'sensor-off', text: 'SpO2 sensor off' })),
    ];
    expect(offline.pending).toBe(2);
    await offline.stop();
    await Promise.allSettled(lost);
    // Second run with the same journal, against the real server.
    const acked: string[] = [];
    const client = new AlarmClient({
      host: '127.0.0.1',
      port,
      deviceId: 'mon-a',
      key,
      journal,
      onAck: (a) => acked.push(a.alarmId),
    });
    expect(client.pending).toBe(2);
    client.start();
    await client.send(alarm('j-3'));
    const end = Date.now() + 5000;
    while (client.pending > 0 && Date.now() < end) await new Promise((r) => setTimeout(r, 20));
    expect(acked.sort()).toEqual(['j-1', 'j-2', 'j-3']);
    expect(await frames('j-1')).toBe(1);
    expect(await frames('j-2')).toBe(1);
    await client.stop();
  });

  it('keeps a device that sends within three heartbeats, and closes one that falls silent', async () => {
    // A gateway of its own with a 250 ms heartbeat (idle after 750 ms: wide enough that a loaded
    // machine's timer delays cannot close the pinging device), on the app's services.
    const gw = new AlarmGateway({
      host: '127.0.0.1',
      port: 0,
      devices: t.services.devices,
      alarms: t.services.alarms,
      audit: t.services.audit,
      heartbeatMs: 250,
    });
    const gwPort = await gw.start();
    try {
      const peer = await RawPeer.connect(gwPort);
      await peer.hello('mon-a', key);
      // 1.6 s of pings 50 ms apart: more than twice the 750 ms idle limit, each frame restarts it.
      let silentAt = 0;
      for (let i = 0; i < 32; i++) {
        peer.send({ type: 'ping', nonce: `n${i}` });
        // The gateway cannot have heard the last ping before it was sent: its idle limit counts
        // from a moment after this one (timed from the pong instead, a late pong on a loaded
        // machine made the silence look shorter than it was).
        silentAt = Date.now();
        await new Promise((r) => setTimeout(r, 50));
      }
      expect(peer.closed).toBe(false);
      expect(await peer.frame('pong', 32)).toMatchObject({ nonce: 'n31' });
      const err = await peer.frame('error', 1, 3000);
      expect(err.code).toBe('idle');
      expect(Date.now() - silentAt).toBeGreaterThanOrEqual(700);
    } finally {
      await gw.stop();
    }
  });
});
