/**
 * `carewire device add|list|remove`: the device registry on the local store, for the operator of
 * the machine (who can read the data folder, and so the key-encryption key, anyway). `add` prints
 * the generated key once; it is stored only encrypted. Each change is audited with source `cli`.
 * A running server picks a new device up on its first datagram or connection (registry reload).
 */
import type { Command } from 'commander';
import { withServices } from './local-services.ts';
import { addConfigOptions } from './options.ts';

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
