/**
 * Running the real `carewire` command from a benchmark: the arguments every benchmark server
 * shares (all listeners on free ports, quiet logs) and waiting for it to be up.
 */
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';

export const BIN = path.resolve(import.meta.dirname, '../../bin/carewire.js');

/** The V8 flags a server runs with (bin/carewire.js says why); package.json's scripts pass the same. */
export const SERVER_NODE_FLAGS = ['--max-semi-space-size=16'] as const;

/**
 * Node arguments for `carewire serve` on DATA with every listener on a free port, so a benchmark
 * never collides with a running server.
 */
export function serveArgs(data: string, extra: readonly string[] = []): string[] {
  return [
    ...SERVER_NODE_FLAGS,
    BIN,
    'serve',
    '--data',
    data,
    '--port',
    '0',
    '--hl7-port',
    '0',
    '--telemetry-port',
    '0',
    '--alarm-port',
    '0',
    '--log-level',
    'warn',
    ...extra,
  ];
}

/** Waits until the server has written DATA/ports.json and returns the ports in it. */
export async function waitForPorts(data: string, timeoutMs = 30_000): Promise<Record<string, number>> {
  const file = path.join(data, 'ports.json');
  for (const end = Date.now() + timeoutMs; !existsSync(file) && Date.now() < end; ) {
    await new Promise((r) => setTimeout(r, 50));
  }
  if (!existsSync(file)) throw new Error(`carewire serve on ${data} did not start within ${timeoutMs} ms`);
  return JSON.parse(readFileSync(file, 'utf8')) as Record<string, number>;
}
