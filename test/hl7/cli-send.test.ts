/** `carewire hl7 send`: files and batches, exit codes on AE/AR/timeout, retries, and --demo. */
import { mkdtempSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../helpers/cli.ts';
import { type Hl7App, startHl7App, storedRows } from './gateway-helpers.ts';

const MSG = (id: string, body = 'PID|1||S-1^^^H^MR||Send^Sam') =>
  `MSH|^~\\&|SENDER|LAB|CW|CW|20260101120000||ADT^A08^ADT_A01|${id}|P|2.5.1\n${body}\n`;

describe('carewire hl7 send', () => {
  let t: Hl7App;
  let dir: string;
  beforeAll(async () => {
    t = await startHl7App('sqlite');
    dir = mkdtempSync(path.join(tmpdir(), 'cw-hl7-send-'));
    // LF line endings (as files usually are), two messages in a FHS/BHS batch plus one plain.
    writeFileSync(
      path.join(dir, 'batch.hl7'),
      `FHS|^~\\&|SENDER\nBHS|^~\\&|SENDER\n${MSG('CLI-1')}${MSG('CLI-2')}BTS|2\nFTS|1\n`,
    );
    writeFileSync(path.join(dir, 'one.hl7'), MSG('CLI-3'));
    writeFileSync(
      path.join(dir, 'bad.hl7'),
      MSG('CLI-4', 'PID|1||S-1^^^H^MR||Send^Sam||notadate').replace('ADT^A08', 'ADT^A01'),
    );
  });
  afterAll(async () => {
    await t.close();
  });
  /** `carewire hl7 send` of files in `dir` to the test server. */
  const sendFiles = (...files: string[]) =>
    runCli(['hl7', 'send', '--port', String(t.port), ...files.map((f) => path.join(dir, f))]);

  it('sends every message of every file, splits batches, exits 0 when all are AA', async () => {
    const r = await sendFiles('batch.hl7', 'one.hl7');
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain('sent 3 messages from 2 files: 3 AA');
    const rows = await storedRows(t.services);
    expect(rows.map((x) => x.control_id)).toEqual(['CLI-1', 'CLI-2', 'CLI-3']);
    // Sent with CR terminators, the standard's wire form.
    expect(rows[0]!.raw).toBe(MSG('CLI-1').replaceAll('\n', '\r'));
  });

  it('counts an error ACK that comes for an error-only message (MSH-15/16 NE/ER) as a failure', async () => {
    const errorOnly = (m: string) => m.replace('|P|2.5.1\n', '|P|2.5.1|||NE|ER\n');
    writeFileSync(path.join(dir, 'er-good.hl7'), errorOnly(MSG('ER-1')));
    writeFileSync(
      path.join(dir, 'er-bad.hl7'),
      errorOnly(MSG('ER-2', 'PID|1||S-1^^^H^MR||Send^Sam||notadate').replace('ADT^A08', 'ADT^A01')),
    );
    const good = await sendFiles('er-good.hl7');
    expect(good.code, good.stderr).toBe(0);
    expect(good.stdout).toContain('sent 1 message from 1 file: 1 NONE');
    const bad = await sendFiles('er-good.hl7', 'er-bad.hl7');
    expect(bad.code).toBe(1);
    expect(bad.stdout).toMatch(/sent 2 messages from 2 files: (1 NONE, 1 AE|1 AE, 1 NONE)/);
    expect(bad.stderr).toMatch(/MSH-10 ER-2: AE \(error-only ACK\)/);
  });

  it('exits 1 and names the problem when a message is answered AE', async () => {
    const r = await sendFiles('one.hl7', 'bad.hl7');
    expect(r.code).toBe(1);
    expect(r.stdout).toContain('1 AA, 1 AE');
    expect(r.stderr).toMatch(
      /bad\.hl7 \(MSH-10 CLI-4\): AE 102 PID-7 date of birth "notadate" is not a valid date/,
    );
  });

  it('exits 1 after retrying with back-off when no ACK comes, and when nothing listens', async () => {
    const silent = net.createServer(() => {}); // accepts and never answers
    await new Promise<void>((r) => silent.listen(0, '127.0.0.1', r));
    const port = (silent.address() as net.AddressInfo).port;
    let connections = 0;
    silent.on('connection', () => connections++);
    try {
      const r = await runCli([
        'hl7',
        'send',
        '--port',
        String(port),
        '--timeout',
        '200',
        '--retries',
        '2',
        path.join(dir, 'one.hl7'),
      ]);
      expect(r.code).toBe(1);
      expect(r.stdout).toContain('1 TIMEOUT');
      expect(r.stderr).toContain('no ACK for CLI-3 within 200 ms');
      expect(connections).toBe(3); // first try and two resends, each on a fresh connection
    } finally {
      silent.close();
    }
    const closed = await runCli([
      'hl7',
      'send',
      '--port',
      String(port),
      '--retries',
      '0',
      path.join(dir, 'one.hl7'),
    ]);
    expect(closed.code).toBe(1);
    expect(closed.stdout).toContain('1 FAILED');
  });

  it('refuses to run without files, and --demo sends the three demo messages', async () => {
    const none = await runCli(['hl7', 'send', '--port', String(t.port)]);
    expect(none.code).toBe(2);
    const r = await runCli([
      'hl7',
      'send',
      '--port',
      String(t.port),
      '--demo',
      '--count',
      '3',
      '--interval',
      '10',
    ]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(
      /ADT\^A01 MRN-1001: AA\nORU\^R01 vitals MRN-1001: AA\nORU\^R01 lab MRN-1001: AA\n/,
    );
    const types = (await storedRows(t.services))
      .filter((x) => x.control_id.startsWith('DEMO-'))
      .map((x) => x.message_type);
    expect(types).toEqual(['ADT', 'ORU', 'ORU']);
  });
});
