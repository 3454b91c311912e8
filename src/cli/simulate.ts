/**
 * `carewire simulate`: bedside monitors for N simulated patients, sending vitals over UDP and
 * technical alarms over the TCP alarm channel, with deterioration scenarios and packet loss, and a
 * status line while it runs. Devices are provisioned idempotently either in the local store (the
 * default: the server's data folder, whose ports.json gives the ports) or through the admin API of
 * a server given with --server.
 */
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { type Command, Option } from 'commander';
import { loadConfig } from '../config.ts';
import { addConfigOptions } from './options.ts';

export function registerSimulate(program: Command): void {
  addConfigOptions(
    program
      .command('simulate')
      .description('simulate bedside monitors: UDP vitals, TCP alarms, deterioration scenarios')
      .requiredOption('--patients <n>', 'number of simulated patients (one monitor each)')
      .option('--rate <hz>', 'vitals datagrams per second per monitor', '1')
      .option('--scenario <list>', 'deterioration scenarios, e.g. sepsis:2,hemorrhage:1,hypoxia:1')
      .option('--loss <fraction>', 'fraction of datagrams to drop on purpose (0..1)', '0')
      .option('--ramp <seconds>', 'time a scenario takes to reach full severity', '180')
      .option('--server <url>', 'register devices through this server’s admin API instead of the local store')
      .option('--admin-user <name>', 'admin account for --server', 'admin')
      .addOption(
        new Option('--admin-password <password>', 'admin password for --server').env(
          'CAREWIRE_ADMIN_PASSWORD',
        ),
      )
      .option('--duration <seconds>', 'stop after this long (default: run until Ctrl+C)')
      .option('--no-alarms', 'send vitals only'),
  ).action(async (flags: Record<string, unknown>) => {
    const config = loadConfig(flags);
    const n = Number(flags.patients);
    const rate = Number(flags.rate);
    const loss = Number(flags.loss);
    const ramp = Number(flags.ramp);
    const bad = (m: string) => {
      process.stderr.write(`carewire simulate: ${m}\n`);
      process.exit(2);
    };
    if (!Number.isInteger(n) || n < 1 || n > 100_000) bad('--patients must be 1..100000');
    if (!(rate > 0 && rate <= 100)) bad('--rate must be in (0, 100]');
    if (!(loss >= 0 && loss < 1)) bad('--loss must be in [0, 1)');
    if (!(ramp > 0)) bad('--ramp must be positive');
    const [{ parseScenarios }, { simSpecs, provisionLocal, provisionRemote }, { Simulator, formatStatus }] =
      await Promise.all([
        import('../simulate/patient-model.ts'),
        import('../simulate/provision.ts'),
        import('../simulate/simulator.ts'),
      ]);
    let specs: ReturnType<typeof simSpecs> = [];
    try {
      specs = simSpecs(n, parseScenarios(flags.scenario as string | undefined));
    } catch (err) {
      bad((err as Error).message);
    }
    const keyFile = path.join(config.dataDir, 'simulator-devices.json');
    let host = config.host;
    let telemetryPort = config.telemetryPort;
    let alarmPort = config.alarmPort;
    let devices: Awaited<ReturnType<typeof provisionLocal>>;
    if (flags.server) {
      const url = new URL(String(flags.server));
      host = url.hostname.replace(/^\[|\]$/g, '');
      const password = flags.adminPassword as string | undefined;
      if (!password) bad('--server needs --admin-password or CAREWIRE_ADMIN_PASSWORD');
      const { mkdirSync } = await import('node:fs');
      mkdirSync(config.dataDir, { recursive: true, mode: 0o700 });
      devices = await provisionRemote(
        url.toString(),
        { username: String(flags.adminUser), password: password! },
        specs,
        keyFile,
      );
    } else {
      const portsFile = path.join(config.dataDir, 'ports.json');
      if (existsSync(portsFile)) {
        // The running server's actual ports, unless given on the command line.
        const ports = JSON.parse(readFileSync(portsFile, 'utf8')) as Record<string, number>;
        if (flags.telemetryPort === undefined && ports.telemetry) telemetryPort = ports.telemetry;
        if (flags.alarmPort === undefined && ports.alarm) alarmPort = ports.alarm;
      }
      const [{ createServices }, { openStore }, { createBus }] = await Promise.all([
        import('../services.ts'),
        import('../store/db.ts'),
        import('../bus/bus.ts'),
      ]);
      const store = await openStore({ dataDir: config.dataDir, databaseUrl: config.databaseUrl });
      const services = await createServices(config, store, await createBus(config.redisUrl));
      try {
        devices = await provisionLocal(services, specs, keyFile);
      } finally {
        await services.close();
        await store.close();
      }
    }
    const tlsCa = config.tls ? tlsCaFor(config) : undefined;
    const sim = new Simulator({
      devices,
      host,
      telemetryPort,
      alarmPort,
      rateHz: rate,
      loss,
      rampMs: ramp * 1000,
      journalDir: path.join(config.dataDir, 'simulator-journal'),
      tls: tlsCa ? { ca: tlsCa } : undefined,
      noAlarms: flags.alarms === false,
    });
    sim.start();
    process.stdout.write(
      `simulating ${n} monitors → vitals udp://${host}:${telemetryPort}, alarms tcp://${host}:${alarmPort} (${rate} Hz, loss ${loss})\n`,
    );
    const tty = process.stdout.isTTY;
    const status = setInterval(
      () => {
        const line = formatStatus(sim.status());
        process.stdout.write(tty ? `\r${line.padEnd(process.stdout.columns - 1 || 100)}` : `${line}\n`);
      },
      tty ? 1000 : 5000,
    );
    const stop = async () => {
      clearInterval(status);
      await sim.stop();
      process.stdout.write(`\n${formatStatus(sim.status())}\nstopped\n`);
      process.exit(0);
    };
    process.on('SIGINT', () => void stop());
    process.on('SIGTERM', () => void stop());
    if (flags.duration !== undefined) setTimeout(() => void stop(), Number(flags.duration) * 1000);
  });
}

/** The server's self-signed certificate, to pin when the alarm channel uses TLS. */
function tlsCaFor(config: { tlsCert: string | undefined; dataDir: string }): string | undefined {
  const file = config.tlsCert ?? path.join(config.dataDir, 'tls', 'cert.pem');
  return existsSync(file) ? readFileSync(file, 'utf8') : undefined;
}
