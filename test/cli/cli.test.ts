/** The `carewire` command as a user runs it: demo start-up, graceful stop, config errors, accounts. */

import { once } from 'node:events';
import { existsSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { call, login, tempDir } from '../helpers/app.ts';
import { runCli, spawnCli, waitFor } from '../helpers/cli.ts';

describe('carewire demo', () => {
  it('starts on an empty data folder within 10 s, writes the accounts file (0600), and stops cleanly on SIGTERM', async () => {
    const data = tempDir();
    const started = Date.now();
    const child = spawnCli([
      'demo',
      '--data',
      data,
      '--port',
      '0',
      '--telemetry-port',
      '0',
      '--alarm-port',
      '0',
      '--hl7-port',
      '0',
    ]);
    try {
      const portsFile = path.join(data, 'ports.json');
      const ports = await waitFor(
        () =>
          existsSync(portsFile)
            ? (JSON.parse(readFileSync(portsFile, 'utf8')) as { http: number })
            : undefined,
        10_000,
        'ports.json',
      );
      const url = `http://127.0.0.1:${ports.http}`;
      await waitFor(
        async () =>
          (await fetch(`${url}/readyz`).catch(() => undefined))?.status === 200 ? true : undefined,
        10_000,
        'readyz',
      );
      expect(Date.now() - started).toBeLessThan(10_000);
      const accountsFile = path.join(data, 'demo-accounts.json');
      expect(statSync(accountsFile).mode & 0o777).toBe(0o600);
      const accounts = JSON.parse(readFileSync(accountsFile, 'utf8')) as {
        username: string;
        password: string;
        role: string;
      }[];
      expect(accounts.map((a) => a.role).sort()).toEqual([
        'admin',
        'auditor',
        'clinician',
        'clinician',
        'patient',
      ]);
      await waitFor(() => (child.output().includes('Press Ctrl+C') ? true : undefined), 5_000, 'banner');
      for (const a of accounts) expect(child.output()).toContain(a.password);
      const clinician = accounts.find((a) => a.username === 'clinician')!;
      const session = await login(url, clinician.username, clinician.password);
      expect(session.status).toBe(200);
      const patients = await call(url, 'GET', '/api/patients', { token: session.body.accessToken });
      expect(patients.body.length).toBe(4);
      child.kill('SIGTERM');
      const [code] = await once(child, 'exit');
      expect(code).toBe(0);
    } finally {
      if (child.exitCode === null) child.kill('SIGKILL');
    }

    // A second start reuses the data: same accounts, no duplicates.
    const again = spawnCli([
      'demo',
      '--data',
      data,
      '--port',
      '0',
      '--hl7-port',
      '0',
      '--telemetry-port',
      '0',
      '--alarm-port',
      '0',
    ]);
    try {
      await waitFor(
        () => (again.output().includes('Press Ctrl+C') ? true : undefined),
        10_000,
        'second banner',
      );
      const accounts = JSON.parse(readFileSync(path.join(data, 'demo-accounts.json'), 'utf8')) as {
        password: string;
      }[];
      expect(again.output()).toContain(accounts[0]!.password);
      again.kill('SIGINT');
      const [code] = await once(again, 'exit');
      expect(code).toBe(0);
    } finally {
      if (again.exitCode === null) again.kill('SIGKILL');
    }
  });
});

describe('carewire start-up checks', () => {
  it('refuses a non-loopback address without TLS', async () => {
    const r = await runCli(['serve', '--data', tempDir(), '--host', '0.0.0.0', '--port', '0']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/refusing to listen on 0\.0\.0\.0.*without TLS/);
  });

  it('names a bad setting, from a flag or a variable', async () => {
    const flag = await runCli(['serve', '--data', tempDir(), '--port', 'eighty']);
    expect(flag.code).toBe(2);
    expect(flag.stderr).toMatch(/--port \/ CAREWIRE_PORT/);
    const env = await runCli(['serve', '--data', tempDir()], { env: { CAREWIRE_HL7_PORT: '99999' } });
    expect(env.code).toBe(2);
    expect(env.stderr).toMatch(/CAREWIRE_HL7_PORT/);
  });

  it('prints --help for every command', async () => {
    for (const args of [['--help'], ['serve', '--help'], ['demo', '--help'], ['user', 'add', '--help']]) {
      const r = await runCli(args);
      expect(r.code).toBe(0);
      expect(r.stdout).toMatch(/Usage: carewire/);
    }
    const serve = await runCli(['serve', '--help']);
    expect(serve.stdout).toContain('CAREWIRE_DATA');
    expect(serve.stdout).toContain('--telemetry-port');
  });
});

describe('carewire user', () => {
  it('adds, lists and changes passwords; refuses a weak password and an unknown role', async () => {
    const data = tempDir();
    const add = await runCli(
      ['user', 'add', 'nurse1', '--role', 'clinician', '--password-stdin', '--data', data],
      {
        input: 'a long enough password\n',
      },
    );
    expect(add.code).toBe(0);
    expect(add.stdout).toMatch(/created clinician nurse1/);
    const gen = await runCli(['user', 'add', 'aud1', '--role', 'auditor', '--data', data]);
    expect(gen.stdout).toMatch(/password: \S{16}/);
    const weak = await runCli([
      'user',
      'add',
      'weak',
      '--role',
      'auditor',
      '--password',
      'short',
      '--data',
      data,
    ]);
    expect(weak.code).toBe(1);
    expect(weak.stderr).toMatch(/at least 10 characters/);
    const role = await runCli(['user', 'add', 'x1', '--role', 'root', '--data', data]);
    expect(role.code).toBe(1);
    expect(role.stderr).toMatch(/role must be one of/);
    const list = await runCli(['user', 'list', '--data', data]);
    expect(list.stdout).toMatch(/nurse1\s+clinician/);
    expect(list.stdout).toMatch(/aud1\s+auditor/);
    const pw = await runCli(['user', 'passwd', 'nurse1', '--data', data]);
    expect(pw.code).toBe(0);
    expect(pw.stdout).toMatch(/password changed for nurse1\npassword: \S+/);
  });
});
