/** Runs the real `carewire` command as a child process on Node 24 (the one running the tests). */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

export const BIN = path.resolve(import.meta.dirname, '../../bin/carewire.js');

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

export function runCli(
  args: string[],
  opts: { env?: NodeJS.ProcessEnv; input?: string; timeoutMs?: number } = {},
): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, ...args], {
      env: { ...cleanEnv(), ...opts.env },
      stdio: 'pipe',
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => {
      stdout += d;
    });
    child.stderr.on('data', (d) => {
      stderr += d;
    });
    const timer = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs ?? 30_000);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
    child.stdin.end(opts.input ?? '');
  });
}

/** The environment without CAREWIRE_* settings from the developer's shell. */
export function cleanEnv(): NodeJS.ProcessEnv {
  return Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('CAREWIRE_')));
}

/**
 * A long-running `carewire` child. Its output is gathered; `stacks()` asks it (SIGUSR2, Node's
 * diagnostic report) where its threads stand, for a test that gave up waiting on a child that
 * neither answered nor exited.
 */
export function spawnCli(
  args: string[],
  env: NodeJS.ProcessEnv = {},
): ChildProcess & { output: () => string; stacks: () => Promise<string> } {
  const reports = mkdtempSync(path.join(os.tmpdir(), 'cw-report-'));
  const child = spawn(process.execPath, [BIN, ...args], {
    env: {
      ...cleanEnv(),
      NODE_OPTIONS: `--report-on-signal --report-signal=SIGUSR2 --report-directory=${reports}`,
      ...env,
    },
    stdio: 'pipe',
  });
  let out = '';
  child.stdout?.on('data', (d) => {
    out += d;
  });
  child.stderr?.on('data', (d) => {
    out += d;
  });
  child.once('exit', () => rmSync(reports, { recursive: true, force: true }));
  const stacks = async (): Promise<string> => {
    if (child.exitCode !== null || !child.kill('SIGUSR2')) return 'no report: the child has exited';
    for (let i = 0; i < 100; i++) {
      const file = readdirSync(reports).find((f) => f.endsWith('.json'));
      if (file) {
        await new Promise((r) => setTimeout(r, 200)); // let the writer finish the file
        const report = JSON.parse(readFileSync(path.join(reports, file), 'utf8')) as Report;
        return [report, ...(report.workers ?? [])]
          .map(
            (r, n) =>
              `${n === 0 ? 'main thread' : `worker ${n}`}: ${r.javascriptStack?.stack?.filter((l) => l.trim()).join('\n  ') || '(idle: waiting on I/O or a promise)'}`,
          )
          .join('\n');
      }
      await new Promise((r) => setTimeout(r, 50));
    }
    return 'no report within 5 s';
  };
  return Object.assign(child, { output: () => out, stacks });
}

/** The parts of a Node diagnostic report read here. */
interface Report {
  javascriptStack?: { stack?: string[] };
  workers?: Report[];
}

export async function waitFor<T>(
  fn: () => T | undefined | Promise<T | undefined>,
  timeoutMs: number,
  /** What is awaited; a function is read at the time-out, so it can show output gathered since. */
  what: string | (() => string),
): Promise<T> {
  const end = Date.now() + timeoutMs;
  while (Date.now() < end) {
    const v = await fn();
    if (v !== undefined) return v;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(
    `timed out after ${timeoutMs} ms waiting for ${typeof what === 'function' ? what() : what}`,
  );
}
