/**
 * Guaranteed delivery through a crash: the device client sends 2,000 alarms while the server (a
 * child process) is killed with SIGKILL part-way and started again. Every alarm the client saw
 * ACKed before the kill is in the store right after it, and after the restart every alarm is
 * stored exactly once. Both engines.
 */
import { existsSync, readFileSync, rmSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { createBus } from '../../src/bus/bus.ts';
import { loadConfig } from '../../src/config.ts';
import { createServices } from '../../src/services.ts';
import { openStore } from '../../src/store/db.ts';
import { AlarmClient } from '../../src/telemetry/alarm-client.ts';
import { ENGINES, tempDir } from '../helpers/app.ts';
import { spawnCli, waitFor } from '../helpers/cli.ts';
import { createPgSchema, type PgSchema } from '../helpers/pg.ts';

const TOTAL = 2000;

/**
 * A free port below the kernel's ephemeral range. The alarm port must stay the same across the
 * restart (the client keeps it), and while the server is down an ephemeral port can be handed to
 * any other socket: a parallel test's listener, or this client's own reconnect (a TCP self-connect).
 */
async function fixedFreePort(): Promise<number> {
  let low = 32768;
  try {
    low = Number(readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/)[0]);
  } catch {
    // Not Linux: the IANA dynamic range starts at 49152; 32768 is below it and Linux's default.
  }
  const floor = 1024;
  if (!(low - floor >= 1000))
    throw new Error(`too few ports below the ephemeral range (it starts at ${low})`);
  for (let attempt = 0; attempt < 100; attempt++) {
    const port = floor + Math.floor(Math.random() * (low - floor));
    const s = net.createServer();
    const ok = await new Promise<boolean>((r) => {
      s.once('error', () => r(false));
      s.listen(port, '127.0.0.1', () => r(true));
    });
    if (ok) {
      await new Promise<void>((r) => s.close(() => r()));
      return port;
    }
  }
  throw new Error('no free port below the ephemeral range after 100 tries');
}

describe.each(ENGINES)('alarm delivery across kill -9 of the server on %s', (engine) => {
  const data = tempDir('cw-crash-');
  let schema: PgSchema | undefined;
  const children: Array<ReturnType<typeof spawnCli>> = [];
  afterAll(async () => {
    for (const c of children) if (c.exitCode === null) c.kill('SIGKILL');
    await schema?.drop();
    rmSync(data, { recursive: true, force: true });
  });

  it('stores every alarm exactly once and loses none that was ACKed', { timeout: 180_000 }, async () => {
    if (engine === 'postgres') schema = await createPgSchema();
    const dbUrl = schema?.url;
    const config = loadConfig({ data, logLevel: 'silent', databaseUrl: dbUrl }, {});
    const openServices = async () => {
      const store = await openStore({ dataDir: data, databaseUrl: dbUrl });
      const services = await createServices(config, store, await createBus(undefined));
      return {
        services,
        close: async () => {
          await services.close();
          await store.close();
        },
      };
    };
    let key: Buffer;
    {
      const s = await openServices();
      await s.services.patients.insert({
        mrn: 'K-1',
        givenName: 'Kill',
        familyName: 'Nine',
        ward: 'W',
        bed: '1',
      });
      key = Buffer.from(
        (await s.services.devices.add({ id: 'mon-k', patient: 'K-1' }, { agent: {}, source: 'test' })).key,
        'base64url',
      );
      await s.close();
    }
    const alarmPort = await fixedFreePort();
    const start = async () => {
      rmSync(path.join(data, 'ports.json'), { force: true });
      const args = [
        'serve',
        '--data',
        data,
        '--port',
        '0',
        '--telemetry-port',
        '0',
        '--hl7-port',
        '0',
        '--alarm-port',
        String(alarmPort),
        '--log-level',
        'info',
      ];
      if (dbUrl) args.push('--database-url', dbUrl);
      const child = spawnCli(args);
      children.push(child);
      const started = await waitFor(
        () => {
          // A server that could not start fails the test at once, with its output.
          if (child.exitCode !== null || child.signalCode !== null) {
            throw new Error(`server exited (${child.exitCode ?? child.signalCode}): ${child.output()}`);
          }
          return existsSync(path.join(data, 'ports.json')) ? true : undefined;
        },
        45_000,
        'server start',
      ).catch((err: Error) => err);
      // One that hangs fails it with what it logged and where its threads stand.
      if (started instanceof Error)
        throw new Error(`${started.message}\n${child.output()}\n${await child.stacks()}`);
      expect(JSON.parse(readFileSync(path.join(data, 'ports.json'), 'utf8')).alarm).toBe(alarmPort);
      return child;
    };
    const storedIds = async (): Promise<string[]> => {
      const s = await openServices();
      const rows = await s.services.store.db
        .selectFrom('alarm_frames')
        .select('alarm_id')
        .where('device_id', '=', 'mon-k')
        .execute();
      await s.close();
      return rows.map((r) => r.alarm_id);
    };

    let server = await start();
    const acked = new Set<string>();
    const client = new AlarmClient({
      host: '127.0.0.1',
      port: alarmPort,
      deviceId: 'mon-k',
      key,
      journal: path.join(data, 'client.journal'),
      journalSync: 'none',
      minBackoffMs: 50,
      maxBackoffMs: 500,
      onAck: (a) => acked.add(a.alarmId),
    });
    client.start();
    const sends: Array<Promise<unknown>> = [];
    for (let i = 0; i < TOTAL; i++) {
      sends.push(
        client
          .send({
            alarmId: `k-${i}`,
            event: 'raised',
            kind: i % 2 ? 'lead-off' : 'sensor-off',
            category: 'technical',
            priority: 'medium',
            time: Date.now(),
            text: `alarm ${i}`,
          })
          .catch(() => undefined),
      );
    }
    await waitFor(() => (acked.size >= 400 ? true : undefined), 30_000, 'first ACKs');
    server.kill('SIGKILL');
    await new Promise((r) => server.once('exit', r));
    const ackedBeforeKill = [...acked];
    expect(ackedBeforeKill.length).toBeLessThan(TOTAL); // the kill really interrupted the stream
    const afterKill = new Set(await storedIds());
    expect(ackedBeforeKill.filter((id) => !afterKill.has(id))).toEqual([]);

    server = await start();
    await waitFor(() => (acked.size === TOTAL ? true : undefined), 60_000, `all ACKs (${acked.size})`);
    await Promise.all(sends);
    expect(client.pending).toBe(0);
    await client.stop();
    server.kill('SIGTERM');
    await new Promise((r) => server.once('exit', r));
    const ids = await storedIds();
    expect(ids.length).toBe(TOTAL);
    expect(new Set(ids).size).toBe(TOTAL);
  });
});
