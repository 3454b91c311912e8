/**
 * The `carewire` command. Each feature registers its sub-commands from its own module, so this
 * file only wires them together.
 */
import { Command, CommanderError } from 'commander';
import { ConfigError } from '../config.ts';
import { registerAudit } from './audit.ts';
import { registerBench } from './bench.ts';
import { registerClient } from './client.ts';
import { registerDevice } from './device.ts';
import { registerFhir } from './fhir.ts';
import { registerHl7 } from './hl7.ts';
import { registerServe } from './serve.ts';
import { registerSimulate } from './simulate.ts';
import { registerUsers } from './users.ts';

const program = new Command('carewire')
  .description('CareWire: open clinical communication hub (HL7 v2, vitals telemetry, alarms, FHIR R4, audit)')
  .showHelpAfterError()
  .exitOverride();

const registrations: Array<(p: Command) => void> = [
  registerServe,
  registerUsers,
  registerBench,
  registerDevice,
  registerSimulate,
  registerAudit,
  registerClient,
  registerFhir,
  registerHl7,
];
for (const register of registrations) register(program);

try {
  await program.parseAsync(process.argv);
} catch (err) {
  if (err instanceof CommanderError) process.exit(err.exitCode);
  if (err instanceof ConfigError) {
    process.stderr.write(`carewire: ${err.message}\n`);
    process.exit(2);
  }
  throw err;
}
