/**
 * `carewire device add|list|remove`: the device registry on the local store, for the operator of
 * the machine (who can read the data folder, and so the key-encryption key, anyway). `add` prints
 * the generated key once; it is stored only encrypted. Each change is audited with source `cli`.
 * A running server picks a new device up on its first datagram or connection (registry reload).
 */
import type { Command } from 'commander';
import { loadConfig } from '../config.ts';
import { AppError } from '../errors.ts';
import type { Services } from '../services.ts';
import { addConfigOptions } from './options.ts';

async function withServices<T>(flags: Record<string, unknown>, fn: (s: Services) => Promise<T>): Promise<T> {
  const config = loadConfig(flags);
  const [{ createServices }, { openStore }, { createBus }] = await Promise.all([
    import('../services.ts'),
    import('../store/db.ts'),
    import('../bus/bus.ts'),
  ]);
  const store = await openStore({ dataDir: config.dataDir, databaseUrl: config.databaseUrl });
  const services = await createServices(config, store, await createBus(config.redisUrl));
  try {
    return await fn(services);
  } catch (err) {
    if (err instanceof AppError) {
      process.stderr.write(`carewire: ${err.message}\n`);
      process.exitCode = 1;
      return undefined as T;
    }
    throw err;
  } finally {
    await services.close();
    await store.close();
  }
}

const who = () => ({
  agent: { username: process.env.USER ?? 'operator', role: 'operator', address: 'local' },
  source: 'cli',
});

export function registerDevice(program: Command): void {
  const device = program
    .command('device')
    .description('manage telemetry devices (monitors) in the local store');

  addConfigOptions(
    device
      .command('add <id>')
      .description('register a device and print its key (shown once: configure the device with it)')
      .option('--patient <id-or-mrn>', 'the patient the device monitors')
      .option('--bed <bed>', "bed label (default: the patient's bed)")
      .option('--description <text>', 'free text, e.g. the model')
      .option('--json', 'print {device, key} as JSON'),
  ).action(async (id: string, flags: Record<string, unknown>) => {
    await withServices(flags, async (s) => {
      const { device: d, key } = await s.devices.add(
        {
          id,
          patient: flags.patient as string | undefined,
          bed: flags.bed as string | undefined,
          description: flags.description as string | undefined,
        },
        who(),
      );
      if (flags.json) process.stdout.write(`${JSON.stringify({ device: d, key })}\n`);
      else
        process.stdout.write(
          `registered device ${d.id}${d.patientId ? ` for patient ${d.patientId}` : ''}${d.bed ? ` (bed ${d.bed})` : ''}\n` +
            `key: ${key}\n(store it in the device now: it is not shown again)\n`,
        );
    });
  });

  addConfigOptions(device.command('list').description('list registered devices')).action(
    async (flags: Record<string, unknown>) => {
      await withServices(flags, async (s) => {
        const list = await s.devices.list();
        const w = Math.max(9, ...list.map((d) => d.id.length));
        process.stdout.write(`${'DEVICE'.padEnd(w)}  PATIENT                               BED     STATE\n`);
        for (const d of list) {
          process.stdout.write(
            `${d.id.padEnd(w)}  ${(d.patientId ?? '-').padEnd(36)}  ${(d.bed ?? '-').padEnd(6)}  ${d.disabled ? 'disabled' : 'enabled'}\n`,
          );
        }
      });
    },
  );

  addConfigOptions(
    device.command('remove <id>').description('remove a device (its stored data stays)'),
  ).action(async (id: string, flags: Record<string, unknown>) => {
    await withServices(flags, async (s) => {
      await s.devices.remove(id, who());
      process.stdout.write(`removed device ${id}\n`);
    });
  });
}
