/** Runs the real `carewire` command as a child process on Node 24 (the one running the tests). */
import { type ChildProcess, spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync } from 'node:fs';
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
 * A long-running `carewire` child. Its output is gathered; `stacks()` says where its threads
 * stand, for a test that gave up waiting on a child that neither answered nor exited.
 */
export function spawnCli(
  args: string[],
  env: NodeJS.ProcessEnv = {},
): ChildProcess & { output: () => string; stacks: () => Promise<string> } {
  // Node writes its diagnostic report on SIGUSR2 into this folder, made only when one is asked for.
  const reports = path.join(os.tmpdir(), `cw-report-${process.pid}-${randomUUID()}`);
  const inherited = env.NODE_OPTIONS ?? process.env.NODE_OPTIONS ?? '';
  const child = spawn(process.execPath, [BIN, ...args], {
    env: {
      ...cleanEnv(),
      ...env,
      NODE_OPTIONS:
        `${inherited} --report-on-signal --report-signal=SIGUSR2 --report-directory="${reports}"`.trim(),
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
    const threads = threadStates(child.pid);
    try {
      return `${await reportStacks(child, reports, () => out)}\n${threads}`;
    } catch (err) {
      // Never let the diagnosis replace the failure it explains.
      return `no report (${err instanceof Error ? err.message : String(err)})\n${threads}`;
    } finally {
      rmSync(reports, { recursive: true, force: true });
    }
  };
  return Object.assign(child, { output: () => out, stacks });
}

/** Each thread's name, state and kernel wait channel: what is left when no JavaScript can run. */
function threadStates(pid: number | undefined): string {
  try {
    const dir = `/proc/${pid}/task`;
    return readdirSync(dir)
      .map((tid) => {
        const read = (f: string) => readFileSync(`${dir}/${tid}/${f}`, 'utf8').trim();
        const state = read('stat')
          .replace(/^.*\) /, '')
          .split(' ')[0];
        return `  thread ${tid} ${read('comm')}: ${state} in ${read('wchan') || '-'}`;
      })
      .join('\n');
  } catch {
    return '  (no thread states: not Linux, or the child has exited)';
  }
}

async function reportStacks(child: ChildProcess, reports: string, output: () => string): Promise<string> {
  if (child.exitCode !== null || child.signalCode !== null) return 'no report: the child has exited';
  mkdirSync(reports, { recursive: true });
  if (!child.kill('SIGUSR2')) return 'no report: the child has exited';
  // Node says on stderr when the report is complete; the file is written piecewise before that.
  for (let i = 0; i < 100 && !output().includes('Node.js report completed'); i++) {
    await new Promise((r) => setTimeout(r, 50));
  }
  const file = existsSync(reports) ? readdirSync(reports).find((f) => f.endsWith('.json')) : undefined;
  if (!file) return 'no report within 5 s (the main thread may be blocked outside JavaScript)';
  const text = readFileSync(path.join(reports, file), 'utf8');
  let report: Report;
  try {
    report = JSON.parse(text) as Report;
  } catch {
    return `an unfinished report (a worker may be blocked outside JavaScript):\n${text.slice(0, 4000)}`;
  }
  return [report, ...(report.workers ?? [])]
    .map(
      (r, n) =>
        `${n === 0 ? 'main thread' : `worker ${n}`}: ${r.javascriptStack?.stack?.filter((l) => l.trim()).join('\n  ') || '(idle: waiting on I/O or a promise)'}`,
    )
    .join('\n');
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
