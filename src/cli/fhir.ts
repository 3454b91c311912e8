/**
 * `carewire fhir push`: an operator tool that reads the local store (--data / --database-url) and
 * sends patients and observations to a FHIR R4 server as transaction Bundles. Each pushed patient
 * is audited (source `cli`): data leaving CareWire is a disclosure.
 */
import type { Command } from 'commander';
import { loadConfig } from '../config.ts';
import { addConfigOptions } from './options.ts';

interface PushFlags {
  server: string;
  token?: string;
  patient?: string;
  all?: boolean;
  since?: string;
  chunk: string;
  progress: boolean;
  [k: string]: unknown;
}

/** `--since`: an ISO date-time, or a duration back from now such as 30m, 24h or 7d. */
export function parseSince(raw: string, now = Date.now()): number {
  const m = /^(\d{1,6})([smhd])$/.exec(raw);
  if (m)
    return now - Number(m[1]) * { s: 1e3, m: 60e3, h: 3600e3, d: 86400e3 }[m[2] as 's' | 'm' | 'h' | 'd'];
  const t = Date.parse(raw);
  if (!/^\d{4}-\d{2}-\d{2}/.test(raw) || !Number.isFinite(t)) {
    throw new Error(
      `--since ${raw}: give an ISO date-time (2024-03-05T10:00:00Z) or a duration (30m, 24h, 7d)`,
    );
  }
  return t;
}

function bar(done: number, total: number, bundles: number): string {
  const frac = total > 0 ? Math.min(1, done / total) : 1;
  const w = 30;
  const filled = Math.round(frac * w);
  return `[${'#'.repeat(filled)}${'.'.repeat(w - filled)}] ${String(Math.floor(frac * 100)).padStart(3)}% ${done}/${total} rows, ${bundles} bundles`;
}

export function registerFhir(program: Command): void {
  const fhir = program.command('fhir').description('FHIR R4: push CareWire data to a FHIR server');
  addConfigOptions(
    fhir
      .command('push')
      .description(
        'send patients and observations from the local store to a FHIR server (transaction Bundles, conditional creates: a rerun creates no duplicates)',
      )
      .requiredOption('--server <url>', 'FHIR base URL, e.g. http://127.0.0.1:8080/fhir/R4')
      .option('--token <token>', 'Bearer token for the server [CAREWIRE_FHIR_TOKEN]')
      .option('--patient <id>', 'one patient (CareWire id or MRN)')
      .option('--all', 'every patient')
      .option('--since <time>', 'only observations stored since (ISO date-time, or 30m / 24h / 7d)')
      .option('--chunk <n>', 'entries per Bundle (2-1000)', '500')
      .option('--no-progress', 'no progress bar'),
  ).action(async (flags: PushFlags, cmd: Command) => {
    if (!flags.all === !flags.patient)
      cmd.error('carewire fhir push: give exactly one of --patient ID or --all', { exitCode: 2 });
    let since: number | undefined;
    try {
      since = flags.since ? parseSince(flags.since) : undefined;
      if (!URL.canParse(flags.server) || !/^https?:$/.test(new URL(flags.server).protocol))
        throw new Error(`--server ${flags.server}: an http(s) URL`);
      if (!/^\d+$/.test(flags.chunk) || Number(flags.chunk) < 2 || Number(flags.chunk) > 1000)
        throw new Error('--chunk: 2 to 1000');
    } catch (err) {
      cmd.error(`carewire fhir push: ${(err as Error).message}`, { exitCode: 2 });
    }
    const config = loadConfig(flags);
    const [{ openStore }, { createServices }, { createBus }, { FhirClient }, { pushToFhir }, { FhirReader }] =
      await Promise.all([
        import('../store/db.ts'),
        import('../services.ts'),
        import('../bus/bus.ts'),
        import('../fhir/client.ts'),
        import('../fhir/push.ts'),
        import('../fhir/reader.ts'),
      ]);
    const store = await openStore({ dataDir: config.dataDir, databaseUrl: config.databaseUrl });
    const services = await createServices(config, store, await createBus(undefined));
    const reader = new FhirReader(store);
    const err = process.stderr;
    const tty = flags.progress && err.isTTY;
    let lastLine = 0;
    try {
      const client = new FhirClient({
        baseUrl: flags.server,
        token: flags.token ?? process.env.CAREWIRE_FHIR_TOKEN,
        onRetry: ({ attempt, delayMs, reason }) =>
          err.write(
            `${tty ? '\n' : ''}retrying after ${reason} in ${(delayMs / 1000).toFixed(1)} s (attempt ${attempt + 1})\n`,
          ),
      });
      const report = await pushToFhir(reader, {
        client,
        patient: flags.patient,
        all: flags.all,
        since,
        chunk: Number(flags.chunk),
        onProgress: ({ rowsDone, rowsTotal, bundles }) => {
          if (!flags.progress) return;
          if (tty) err.write(`\r${bar(rowsDone, rowsTotal, bundles)}`);
          else if (Date.now() - lastLine > 1000 || rowsDone === rowsTotal) {
            lastLine = Date.now();
            err.write(`${bar(rowsDone, rowsTotal, bundles)}\n`);
          }
        },
      });
      if (tty) err.write('\n');
      const agent = { username: process.env.USER ?? 'operator', role: 'operator', address: 'local' };
      for (const patientId of report.patientIds) {
        // Not awaited one by one: group commit writes them together; all are awaited below.
        void services.audit.append({
          type: 'fhir.push',
          action: 'R',
          outcome: report.errors.length ? 4 : 0,
          agent,
          source: 'cli',
          patientId,
          entity: { type: 'Patient', id: patientId },
          detail: {
            server: new URL(flags.server).origin,
            since: since === undefined ? undefined : new Date(since).toISOString(),
          },
        });
      }
      await services.audit.flush();
      process.stdout.write(
        `pushed ${report.bundles} bundles: patients ${report.patients.created} created, ${report.patients.existing} already there; ` +
          `observations ${report.observations.created} created, ${report.observations.existing} already there\n`,
      );
      for (const e of report.errors)
        process.stderr.write(`bundle ${e.bundle} refused (HTTP ${e.status}): ${e.message}\n`);
      if (report.errors.length) process.exitCode = 1;
    } catch (e) {
      if (tty) err.write('\n');
      process.stderr.write(`carewire fhir push: ${(e as Error).message}\n`);
      process.exitCode = 1;
    } finally {
      reader.close();
      await services.close();
      await store.close();
    }
  });
}
