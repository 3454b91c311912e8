/**
 * CPU pinning for local runs. On a small machine the scheduler likes to move the client, the
 * server and their wake-ups between cores; pinning each side to its own core keeps the round
 * trip from paying for migrations, and pinning sockperf the same way keeps the comparison fair.
 * Uses util-linux `taskset`; where it (or a second core) is missing, nothing is pinned.
 */
import { spawnSync } from 'node:child_process';
import os from 'node:os';

export interface CpuPlan {
  client: number;
  server: number;
}

let tasksetFound: boolean | undefined;

export function hasTaskset(): boolean {
  if (tasksetFound === undefined) {
    const r = spawnSync('taskset', ['-V'], { stdio: 'ignore' });
    tasksetFound = r.status === 0;
  }
  return tasksetFound;
}

/**
 * How a local run places its two processes:
 * - `off` (default): wherever the scheduler puts them. On a busy machine this is what keeps the
 *   run short: a pinned process must wait for its own core even when the other one is free
 *   (measured with load 10 on 2 cores: 89 s pinned `split` against 34 s unpinned for the same run);
 * - `split`: client on core 0, server on core 1, like two hosts: every message wakes the other
 *   core, as a NIC interrupt would on a real network;
 * - `same`: both on core 0: no cross-core wake-ups, so what remains is mostly each side's own
 *   per-message work (the sharpest Node vs C comparison on a quiet machine).
 */
export const PIN_MODES = ['off', 'split', 'same'] as const;
export type PinMode = (typeof PIN_MODES)[number];

/** The cores for a pin mode, or null when pinning is off or unavailable (not Linux, no taskset). */
export function localCpuPlan(mode: PinMode): CpuPlan | null {
  if (mode === 'off' || process.platform !== 'linux' || !hasTaskset()) return null;
  if (mode === 'same') return { client: 0, server: 0 };
  if (os.availableParallelism() < 2) return null;
  return { client: 0, server: 1 };
}

/** Pins an already running process (e.g. this one) to one core. Returns whether it worked. */
export function pinProcess(pid: number, cpu: number): boolean {
  if (!hasTaskset()) return false;
  // -a: all threads, so libuv's and V8's helper threads follow the main thread.
  const r = spawnSync('taskset', ['-a', '-p', '-c', String(cpu), String(pid)], { stdio: 'ignore' });
  return r.status === 0;
}

/** The command and args that start `cmd args` pinned to `cpu` (or unpinned when cpu is null). */
export function pinnedCommand(cpu: number | null, cmd: string, args: string[]): [string, string[]] {
  if (cpu === null || !hasTaskset()) return [cmd, args];
  return ['taskset', ['-c', String(cpu), cmd, ...args]];
}
