/**
 * Durability: a sender process streams 5,000 messages; the server process is killed with SIGKILL
 * mid-way and restarted on the same data folder; the sender resends what was not acknowledged.
 * The store then holds every message exactly once, and every acknowledged one (SQLite, the
 * embedded store whose fsync-before-ACK this proves).
 */
import { spawn } from 'node:child_process';
import { existsSync, rmSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { openStore } from '../../src/store/db.ts';
import { tempDir } from '../helpers/app.ts';
import { spawnCli, waitFor } from '../helpers/cli.ts';

const COUNT = 5000;
const SENDER = path.resolve(import.meta.dirname, 'fixtures/kill-sender.ts');

function serve(dataDir: string) {
  rmSync(path.join(dataDir, 'ports.json'), { force: true });
  const args = ['serve', '--data', dataDir, '--port', '0', '--hl7-port', '0'];
  return spawnCli([...args, '--telemetry-port', '0', '--alarm-port', '0', '--log-level', 'warn']);
}

describe('kill -9 of the server mid-stream', () => {
  it('loses no acknowledged message and stores each message exactly once', async () => {
    const dataDir = tempDir('cw-hl7-kill-');
    let server = serve(dataDir);
    await waitFor(
      () => (existsSync(path.join(dataDir, 'ports.json')) ? true : undefined),
      30_000,
      'server start',
    );
    const sender = spawn(process.execPath, [SENDER, dataDir, String(COUNT)], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    sender.stdout.on('data', (d) => {
      out += d;
    });
    sender.stderr.on('data', (d) => {
      err += d;
    });
    const exited = new Promise<number | null>((r) => sender.once('exit', r));
    // Kill once a good part is acknowledged, while more are in flight.
    await waitFor(() => (/acked (1[5-9]|[2-4]\d)\d\d\n/.test(out) ? true : undefined), 60_000, 'progress');
    server.kill('SIGKILL');
    await new Promise((r) => server.once('exit', r));
    const ackedBeforeKill = Math.max(...[...out.matchAll(/acked (\d+)/g)].map((m) => Number(m[1])));
    server = serve(dataDir);
    const code = await exited;
    expect(code, err).toBe(0);
    const result = JSON.parse(out.trim().split('\n').at(-1)!) as { acked: string[]; reconnects: number };
    server.kill('SIGTERM');
    await new Promise((r) => server.once('exit', r));
    expect(result.reconnects).toBeGreaterThanOrEqual(1);
    expect(result.acked.length).toBe(COUNT);
    expect(ackedBeforeKill).toBeLessThan(COUNT);

    const store = await openStore({ dataDir });
    try {
      const rows = await store.db.selectFrom('hl7_messages').select(['control_id', 'ack_code']).execute();
      const ids = rows.map((r) => r.control_id);
      expect(new Set(ids).size).toBe(ids.length); // exactly once
      expect(ids.length).toBe(COUNT);
      const stored = new Set(ids);
      for (const id of result.acked) expect(stored.has(id)).toBe(true);
      expect(rows.every((r) => r.ack_code === 'AA')).toBe(true);
      // Each message's three lab values exactly once too.
      const obs = await store.db
        .selectFrom('observations')
        .select((eb) => eb.fn.countAll<number>().as('n'))
        .where('source', '=', 'hl7')
        .executeTakeFirstOrThrow();
      expect(Number(obs.n)).toBe(COUNT * 3);
    } finally {
      await store.close();
      rmSync(dataDir, { recursive: true, force: true });
    }
  }, 180_000);
});
