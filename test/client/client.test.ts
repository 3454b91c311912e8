/**
 * The interactive client, driven through its prompts over pipes against a real HTTPS server with a
 * self-signed certificate: log in, add a reading, show it; auditors search and verify.
 */
import { once } from 'node:events';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApp, type TestApp } from '../helpers/app.ts';
import { runCli, spawnCli, waitFor } from '../helpers/cli.ts';
import { PASSWORD, seedWorld, type World } from '../helpers/fixtures.ts';

describe('carewire client over TLS 1.3', () => {
  let t: TestApp;
  let world: World;
  let ca: string;

  beforeAll(async () => {
    t = await startTestApp('sqlite', { tls: true }, async (s) => {
      world = await seedWorld(s);
    });
    ca = t.app.tlsCertFile!;
  });
  afterAll(() => t.close());

  /** Runs the client, answering each prompt as it appears; returns everything it printed. */
  async function drive(answers: Array<[RegExp, string]>, args: string[] = ['--ca', ca]) {
    const child = spawnCli(['client', '--server', t.url, ...args]);
    let seen = 0;
    for (const [prompt, answer] of answers) {
      await waitFor(
        () => {
          const out = child.output();
          const at = out.slice(seen).search(prompt);
          if (at < 0) return undefined;
          seen += at + 1;
          return true;
        },
        15_000,
        `prompt ${prompt} (output so far: ${child.output().slice(-400)})`,
      );
      child.stdin!.write(`${answer}\n`);
    }
    child.stdin!.end();
    const [code] = (await once(child, 'exit')) as [number | null];
    return { code, out: child.output() };
  }

  it('a patient logs in (password not echoed), adds a temperature, and sees it in their records', async () => {
    const { code, out } = await drive([
      [/Username: /, 'patient'],
      [/Password: /, PASSWORD],
      [/> /, '2'],
      [/Temperature \(°C\): /, '37.8'],
      [/> /, '3'],
      [/Systolic/, '128'],
      [/Diastolic/, '84'],
      [/> /, '1'],
      [/> /, '4'],
      [/> /, 'q'],
    ]);
    expect(code, out).toBe(0);
    expect(out).toMatch(/\(TLS 1\.3\)/);
    expect(out).toMatch(/Signed in as patient \(patient\) over TLSv1\.3\./);
    expect(out).toMatch(/Saved: .*temperature\s+37\.8 Cel/);
    expect(out).toMatch(/Saved: .*blood-pressure\s+128\/84 mm\[Hg\]/);
    // "My records" lists both readings after they were saved.
    expect(out.match(/temperature\s+37\.8 Cel/g)?.length).toBeGreaterThanOrEqual(2);
    expect(out).toMatch(/record\.create/); // who accessed my record: the patient's own writes
    expect(out).not.toContain(PASSWORD);
    expect(out).toMatch(/Signed out\./);
    const stored = await t.services.records.list(
      { userId: world.users.patient, username: 'patient', role: 'patient', patientId: world.patients.own },
      world.patients.own,
      { source: 'test' },
    );
    expect(stored.some((r) => r.kind === 'temperature' && r.value === 37.8)).toBe(true);
  });

  it('refuses a wrong password, and non-numbers, without crashing', async () => {
    const { code, out } = await drive([
      [/Username: /, 'patient'],
      [/Password: /, 'wrong password'],
      [/Username: /, 'patient'],
      [/Password: /, PASSWORD],
      [/> /, '2'],
      [/Temperature/, 'hot'],
      [/> /, '9'],
      [/> /, 'q'],
    ]);
    expect(code).toBe(0);
    expect(out).toMatch(/Sign-in failed/);
    expect(out).toMatch(/Not a number; nothing saved\./);
    expect(out).toMatch(/Choose 1–4 or q\./);
  });

  it('an auditor searches the log and verifies its integrity', async () => {
    await t.services.audit.checkpoint();
    const { code, out } = await drive([
      [/Username: /, 'auditor'],
      [/Password: /, PASSWORD],
      [/> /, '1'],
      [/Patient id/, world.patients.own],
      [/User id/, ''],
      [/Event type/, ''],
      [/> /, '2'],
      [/Saved checkpoint file/, ''],
      [/> /, '4'],
      [/> /, 'q'],
    ]);
    expect(code, out).toBe(0);
    expect(out).toMatch(/#\d+ .* patient [0-9a-f-]{36}/);
    expect(out).toMatch(/OK: the log is intact/);
    expect(out).toMatch(/Latest checkpoint \(\d+ entries/);
  });

  it('does not trust the self-signed certificate without --ca, and says how to', async () => {
    const r = await runCli(['client', '--server', t.url], { input: 'patient\n' });
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/--ca/);
  });
});
