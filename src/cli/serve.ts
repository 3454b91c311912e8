/**
 * `carewire serve` (production start) and `carewire demo` (start with demo data and accounts).
 * The server modules load only when a command runs, so `--help` and other commands start fast.
 */
import type { Command } from 'commander';
import type { RunningApp } from '../app.ts';
import { envName, loadConfig } from '../config.ts';
import type { DemoAccount } from './demo-seed.ts';
import { addConfigOptions } from './options.ts';

function stopOnSignals(app: RunningApp, before: () => Promise<void> = async () => {}): void {
  let stopping = false;
  const onSignal = (sig: NodeJS.Signals) => {
    if (stopping) {
      process.stderr.write(`carewire: ${sig} again, exiting without waiting\n`);
      process.exit(1);
    }
    stopping = true;
    process.stderr.write(`carewire: ${sig} received, stopping…\n`);
    before()
      .then(() => app.stop())
      .then(
        () => process.exit(0),
        (err: unknown) => {
          process.stderr.write(`carewire: error while stopping: ${String(err)}\n`);
          process.exit(1);
        },
      );
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
}

function printPorts(app: RunningApp): void {
  const lines = [
    `  web app and API  ${app.url}/`,
    `  API docs         ${app.url}/docs`,
    `  health           ${app.url}/healthz`,
  ];
  process.stdout.write(
    `${lines.join('\n')}\n  ports            ${JSON.stringify(app.ports)} (also in ${app.config.dataDir}/ports.json)\n`,
  );
  if (app.tlsCertFile) process.stdout.write(`  TLS certificate  ${app.tlsCertFile}\n`);
}

export function registerServe(program: Command): void {
  addConfigOptions(
    program
      .command('serve')
      .description('start CareWire (HTTP API and web app; gateways as configured)')
      .action(async (flags: Record<string, unknown>) => {
        const config = loadConfig(flags);
        const { startApp } = await import('../app.ts');
        const app = await startApp(config);
        stopOnSignals(app);
        process.stdout.write('CareWire is running.\n');
        printPorts(app);
      }),
  );

  addConfigOptions(
    program
      .command('demo')
      .description('start CareWire with demo patients and one account per role (random passwords, printed)')
      .action(async (flags: Record<string, unknown>) => {
        // The demo prints a readable banner; JSON logs only from warnings up unless asked.
        if (flags.logLevel === undefined && process.env[envName('log-level')] === undefined)
          flags.logLevel = 'warn';
        const config = loadConfig(flags);
        const [{ startApp }, { demoAccountsFile, seedDemo }] = await Promise.all([
          import('../app.ts'),
          import('./demo-seed.ts'),
        ]);
        let accounts: DemoAccount[] = [];
        const app = await startApp(config, {
          beforeListen: async (services) => {
            accounts = await seedDemo(services, config.dataDir);
          },
        });
        const { startDemoDevices } = await import('../simulate/demo-devices.ts');
        const devices = await startDemoDevices(app, accounts);
        stopOnSignals(app, async () => {
          await Promise.allSettled(devices.map((d) => d.stop()));
        });
        const width = Math.max(...accounts.map((a) => a.username.length), 8);
        process.stdout.write(
          [
            '',
            'CareWire demo is running.',
            '',
            `  Open ${app.url}/ and log in with one of these accounts:`,
            '',
            ...accounts.map(
              (a) => `    ${a.username.padEnd(width)}  ${a.password}  (${a.role}: ${a.displayName})`,
            ),
            '',
            `  Accounts are saved in ${demoAccountsFile(config.dataDir)} (readable only by you).`,
            `  Data folder: ${config.dataDir}  (delete it to start afresh)`,
            '',
          ].join('\n'),
        );
        printPorts(app);
        for (const d of devices) process.stdout.write(`  simulator        ${d.description}\n`);
        process.stdout.write('\nPress Ctrl+C to stop.\n');
      }),
  );
}
