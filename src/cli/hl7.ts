/**
 * `carewire hl7 send` (send files of HL7 messages, or be a demo device) and `carewire hl7 export`
 * (a patient's observations as `patient_<id>.json`). Modules load inside the actions.
 */
import type { Command } from 'commander';
import { loadConfig } from '../config.ts';
import { addConfigOptions } from './options.ts';

interface SendFlags {
  host: string;
  port: string;
  tls?: boolean;
  ca?: string;
  cert?: string;
  key?: string;
  timeout: string;
  retries: string;
  keepLineEndings?: boolean;
  demo?: boolean;
  interval: string;
  count?: string;
  quiet?: boolean;
}

function positiveInt(name: string, v: string, min = 0): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n < min) throw new Error(`--${name} must be a whole number ≥ ${min}, got ${v}`);
  return n;
}

function progressBar(done: number, total: number, width = 30): string {
  const filled = total === 0 ? width : Math.round((done / total) * width);
  return `[${'#'.repeat(filled)}${'-'.repeat(width - filled)}] ${done}/${total} files`;
}

/** How long `hl7 send` listens for late error ACKs before it closes (at most its ACK timeout). */
const ERROR_ONLY_GRACE_MS = 1000;

async function send(files: string[], f: SendFlags): Promise<number> {
  const { readFileSync } = await import('node:fs');
  const { splitMessages } = await import('../hl7/batch.ts');
  const { Hl7Sender, isSuccess } = await import('../hl7/sender.ts');
  const port = positiveInt('port', f.port, 1);
  const timeoutMs = positiveInt('timeout', f.timeout, 1);
  const retries = positiveInt('retries', f.retries);
  const tls =
    f.tls || f.ca || f.cert
      ? {
          ...(f.ca ? { ca: readFileSync(f.ca, 'utf8') } : {}),
          ...(f.cert ? { cert: readFileSync(f.cert, 'utf8') } : {}),
          ...(f.key ? { key: readFileSync(f.key, 'utf8') } : {}),
        }
      : undefined;
  const out = (s: string) => {
    if (!f.quiet) process.stdout.write(s);
  };

  if (f.demo) {
    const { startDemoSender } = await import('../hl7/demo-sender.ts');
    let failures = 0;
    const sender = startDemoSender({
      host: f.host,
      port,
      tls,
      timeoutMs,
      intervalMs: positiveInt('interval', f.interval, 1),
      count: f.count === undefined ? undefined : positiveInt('count', f.count, 1),
      onResult: (what, o) => {
        if (!isSuccess(o.code)) failures++;
        out(`${what}: ${o.code}${o.errors.length ? ` ${o.errors.join('; ')}` : ''}\n`);
      },
    });
    const onSignal = () => void sender.stop();
    process.once('SIGINT', onSignal);
    process.once('SIGTERM', onSignal);
    await sender.done;
    out(`sent ${sender.sent} demo messages, ${failures} not accepted\n`);
    return failures > 0 ? 1 : 0;
  }

  if (files.length === 0) {
    process.stderr.write('carewire hl7 send: give one or more files, or --demo\n');
    return 2;
  }
  const sender = new Hl7Sender({ host: f.host, port, tls, timeoutMs, retries });
  const counts = new Map<string, number>();
  let total = 0;
  const showBar = files.length > 1 && process.stderr.isTTY === true && !f.quiet;
  try {
    for (const [fileNo, file] of files.entries()) {
      let bytes: Buffer;
      try {
        bytes = readFileSync(file);
      } catch (err) {
        process.stderr.write(`${file}: cannot read: ${(err as Error).message}\n`);
        counts.set('UNREADABLE', (counts.get('UNREADABLE') ?? 0) + 1);
        continue;
      }
      const messages = splitMessages(bytes);
      if (messages.length === 0) {
        process.stderr.write(`${file}: no MSH segment, nothing sent\n`);
        counts.set('EMPTY', (counts.get('EMPTY') ?? 0) + 1);
      }
      for (const [i, m] of messages.entries()) {
        // The standard's terminator is CR; files usually hold LF or CRLF.
        const payload = f.keepLineEndings
          ? m
          : Buffer.from(m.toString('latin1').replace(/\r\n|\n/g, '\r'), 'latin1');
        const o = await sender.send(payload);
        total++;
        counts.set(o.code, (counts.get(o.code) ?? 0) + 1);
        if (!isSuccess(o.code)) {
          const where = messages.length > 1 ? `${file} #${i + 1}` : file;
          const id = o.result?.controlId ? ` (MSH-10 ${o.result.controlId})` : '';
          process.stderr.write(`${showBar ? '\n' : ''}${where}${id}: ${o.code} ${o.errors.join('; ')}\n`);
        }
      }
      if (showBar) process.stderr.write(`\r${progressBar(fileNo + 1, files.length)}`);
    }
  } finally {
    if (showBar) process.stderr.write('\n');
    // Messages sent asking for error ACKs only (MSH-15/16 ER) were counted NONE; an error that
    // comes for one within the grace period makes it a failure.
    await sender.close(Math.min(timeoutMs, ERROR_ONLY_GRACE_MS));
  }
  for (const late of sender.lateErrors) {
    counts.set('NONE', (counts.get('NONE') ?? 1) - 1);
    counts.set(late.code, (counts.get(late.code) ?? 0) + 1);
    process.stderr.write(
      `MSH-10 ${late.controlId}: ${late.code} (error-only ACK) ${late.errors.join('; ')}\n`,
    );
  }
  for (const [k, v] of counts) if (v === 0) counts.delete(k);
  const summary = [...counts.entries()].map(([k, v]) => `${v} ${k}`).join(', ');
  out(
    `sent ${total} message${total === 1 ? '' : 's'} from ${files.length} file${files.length === 1 ? '' : 's'}: ${summary || 'nothing'}\n`,
  );
  const failed = [...counts.entries()].some(([k, v]) => v > 0 && !isSuccess(k));
  return failed ? 1 : 0;
}

async function exportPatient(flags: Record<string, unknown>): Promise<number> {
  const config = loadConfig(flags);
  const [{ mkdirSync, writeFileSync }, path, { openStore }, { fromRow }, { toPatient }, ex, { AuditLog }] =
    await Promise.all([
      import('node:fs'),
      import('node:path'),
      import('../store/db.ts'),
      import('../clinical/observations.ts'),
      import('../clinical/patients.ts'),
      import('../hl7/export.ts'),
      import('../audit/log.ts'),
    ]);
  const id = String(flags.patient);
  const store = await openStore({ dataDir: config.dataDir, databaseUrl: config.databaseUrl });
  const audit = new AuditLog(store, { maxDelayMs: 1, maxItems: 16 });
  try {
    const row =
      (await store.db.selectFrom('patients').selectAll().where('id', '=', id).executeTakeFirst()) ??
      (await store.db.selectFrom('patients').selectAll().where('mrn', '=', id).executeTakeFirst());
    if (!row) {
      process.stderr.write(`carewire hl7 export: no patient with id or MRN ${id}\n`);
      return 1;
    }
    const obs = await store.db
      .selectFrom('observations_searchable')
      .selectAll()
      .where('patient_id', '=', row.id)
      .orderBy('effective_at', 'desc')
      .orderBy('seq', 'desc')
      .execute();
    const doc = ex.patientExport(toPatient(row), obs.map(fromRow));
    const dir = path.resolve(String(flags.out ?? '.'));
    mkdirSync(dir, { recursive: true });
    const file = path.join(dir, ex.exportFileName(id));
    writeFileSync(file, `${JSON.stringify(doc, null, 2)}\n`, { mode: 0o600 });
    // The operator reads the store directly (as `user` does); the export of clinical data is audited.
    await audit.append({
      type: 'hl7.export',
      action: 'R',
      outcome: 0,
      agent: { username: process.env.USER ?? 'operator', role: 'operator', address: 'local' },
      source: 'cli',
      patientId: row.id,
      entity: { type: 'Patient', id: row.id },
      detail: { file, records: doc.records.length },
    });
    process.stdout.write(`${file} (${doc.records.length} records)\n`);
    return 0;
  } finally {
    await audit.close();
    await store.close();
  }
}

export function registerHl7(program: Command): void {
  const hl7 = program.command('hl7').description('HL7 v2 over MLLP: send messages, export patient data');

  hl7
    .command('send [files...]')
    .description(
      'send HL7 messages (a file may hold several, or FHS/BHS batches) and wait for each ACK; ' +
        'exits 1 on any AE/AR/timeout',
    )
    .option('--host <host>', 'server address', '127.0.0.1')
    .option('--port <port>', 'server MLLP port', '2575')
    .option('--tls', 'connect with TLS')
    .option('--ca <file>', 'PEM CA (or self-signed certificate) to trust (implies --tls)')
    .option('--cert <file>', 'PEM client certificate for mutual TLS (implies --tls)')
    .option('--key <file>', 'PEM private key of --cert')
    .option('--timeout <ms>', 'wait for each ACK', '10000')
    .option('--retries <n>', 'resends after a timeout or lost connection (with back-off)', '3')
    .option('--keep-line-endings', 'send LF/CRLF as in the file instead of CR segment terminators')
    .option(
      '--demo',
      'act as a device: cycle ADT^A01, PCD-01 vitals ORU^R01 and lab ORU^R01 for the demo patients',
    )
    .option('--interval <ms>', 'with --demo: time between messages', '1000')
    .option('--count <n>', 'with --demo: stop after n messages')
    .option('--quiet', 'print nothing but errors')
    .action(async (files: string[], flags: SendFlags) => {
      try {
        process.exitCode = await send(files, flags);
      } catch (err) {
        process.stderr.write(`carewire hl7 send: ${(err as Error).message}\n`);
        process.exitCode = 2;
      }
    });

  addConfigOptions(
    hl7
      .command('export')
      .description("write a patient's observations, newest first, to patient_<id>.json")
      .requiredOption('--patient <id>', 'patient id or MRN')
      .option('--out <dir>', 'folder to write into', '.')
      .action(async (flags: Record<string, unknown>) => {
        process.exitCode = await exportPatient(flags);
      }),
  );
}
