/**
 * Simulated devices that `carewire demo` starts beside the server (HL7 sender, vitals monitors,
 * alarm channel). Each feature adds a starter to DEMO_DEVICES; the demo stops them before the
 * server on Ctrl+C, so the last messages are still acknowledged.
 */
import type { RunningApp } from '../app.ts';
import type { DemoAccount } from '../cli/demo-seed.ts';

export interface DemoDevice {
  /** One line for the demo banner, e.g. "HL7 sender → 127.0.0.1:2575, 3 messages/s". */
  readonly description: string;
  stop(): Promise<void>;
}

export type DemoDeviceStarter = (app: RunningApp, accounts: readonly DemoAccount[]) => Promise<DemoDevice>;

export const DEMO_DEVICES: DemoDeviceStarter[] = [
  async (app, accounts) => (await import('../hl7/demo-sender.ts')).hl7DemoDevice(app, accounts),
  async (app) => (await import('./demo-monitors.ts')).startDemoMonitors(app),
];

export async function startDemoDevices(
  app: RunningApp,
  accounts: readonly DemoAccount[],
): Promise<DemoDevice[]> {
  const started: DemoDevice[] = [];
  for (const start of DEMO_DEVICES) started.push(await start(app, accounts));
  return started;
}
