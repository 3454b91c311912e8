/** `carewire device add|list|remove` on a data folder: the key is printed once and stored sealed. */
import { readFileSync, rmSync } from 'node:fs';
import path from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { afterAll, describe, expect, it } from 'vitest';
import { openDeviceKey } from '../../src/telemetry/device-keys.ts';
import { tempDir } from '../helpers/app.ts';
import { runCli } from '../helpers/cli.ts';

describe('carewire device', () => {
  const data = tempDir('cw-devcli-');
  afterAll(() => rmSync(data, { recursive: true, force: true }));

  it('adds (printing the key once), lists, refuses duplicates and bad ids, and removes', async () => {
    const add = await runCli(['device', 'add', 'bed-7.mon', '--bed', 'B7', '--json', '--data', data]);
    expect(add.code, add.stderr).toBe(0);
    const { device, key } = JSON.parse(add.stdout) as { device: { id: string; bed: string }; key: string };
    expect(device).toMatchObject({ id: 'bed-7.mon', bed: 'B7' });
    expect(Buffer.from(key, 'base64url')).toHaveLength(32);

    // Stored sealed under the data folder's key-encryption key, bound to the device id.
    const db = new DatabaseSync(path.join(data, 'carewire.db'));
    const row = db.prepare('select key from devices where id = ?').get('bed-7.mon') as { key: string };
    db.close();
    expect(row.key).not.toContain(key);
    const kek = Buffer.from(readFileSync(path.join(data, 'keys', 'device-kek.key'), 'utf8'), 'base64url');
    expect(openDeviceKey(kek, 'bed-7.mon', row.key).toString('base64url')).toBe(key);
    expect(() => openDeviceKey(kek, 'other-device', row.key)).toThrow(/does not decrypt/);

    const list = await runCli(['device', 'list', '--data', data]);
    expect(list.stdout).toContain('bed-7.mon');
    expect(list.stdout).not.toContain(key);
    const dup = await runCli(['device', 'add', 'bed-7.mon', '--data', data]);
    expect(dup.code).toBe(1);
    expect(dup.stderr).toContain('already registered');
    const bad = await runCli(['device', 'add', 'bad id!', '--data', data]);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toContain('device id');
    const noPatient = await runCli(['device', 'add', 'x1', '--patient', 'MRN-404', '--data', data]);
    expect(noPatient.code).toBe(1);
    expect(noPatient.stderr).toContain('not found');
    expect((await runCli(['device', 'remove', 'bed-7.mon', '--data', data])).code).toBe(0);
    const again = await runCli(['device', 'remove', 'bed-7.mon', '--data', data]);
    expect(again.code).toBe(1);
    expect(again.stderr).toContain('not registered');
  });
});
