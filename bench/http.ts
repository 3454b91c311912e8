/**
 * HTTP API benchmark: authenticated `GET /api/me` throughput and latency, and login latency
 * (argon2id dominates it).
 *
 * The server runs in its own process, as in production. The load comes from `wrk` (C, Debian
 * package) when installed, else from autocannon: on a 2-core machine the load generator shares
 * the CPU with the server, and wrk needs about a third of the CPU autocannon does for the same
 * rate. The server's rate limiter stays on, set high enough to measure capacity, not refusals.
 * Besides req/s it reports the server's own CPU time per request (from /proc), which does not
 * depend on what else the machine is doing.
 *
 *   npm run bench -- http            3 rounds of 10 s after a warm-up
 *   npm run bench -- http --quick    a tiny run, used by the tests
 */
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import autocannon from 'autocannon';
import { ARGON2_PARAMS } from '../src/auth/passwords.ts';
import { BIN, serveArgs, waitForPorts } from './lib/carewire.ts';
import { metric } from './lib/measure.ts';
import type { BenchOptions, BenchResult } from './lib/types.ts';

const PASSWORD = 'benchmark password 1';
const CONNECTIONS = 64;
const CLK_TCK = 100; // Linux USER_HZ: /proc/<pid>/stat counts CPU time in 1/100 s

interface Round {
  rps: number;
  p50Ms: number;
  p99Ms: number;
  requests: number;
  errors: number;
  serverCpuUsPerReq: number;
}

function quantile(sorted: number[], q: number): number {
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1));
  return sorted[i] ?? Number.NaN;
}

function cpuTicks(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  return Number(fields[11]) + Number(fields[12]); // utime + stime
}

function run1(cmd: string, args: string[]): Promise<void> {
  return new Promise((resolve, reject) => {
    const c = spawn(cmd, args, { stdio: 'ignore' });
    c.on('exit', (code) =>
      code === 0 ? resolve() : reject(new Error(`${cmd} ${args.join(' ')} exited ${code}`)),
    );
  });
}

async function startServer(data: string): Promise<{ url: string; child: ChildProcess }> {
  await run1(process.execPath, [
    BIN,
    'user',
    'add',
    'bench',
    '--role',
    'clinician',
    '--password',
    PASSWORD,
    '--data',
    data,
  ]);
  const child = spawn(
    process.execPath,
    serveArgs(data, ['--rate-limit', '100000000', '--login-rate-limit', '100000000']),
    { stdio: 'ignore' },
  );
  const { http } = await waitForPorts(data);
  return { url: `http://127.0.0.1:${http}`, child };
}

async function loginOnce(url: string): Promise<{ ms: number; token: string }> {
  const t0 = performance.now();
  const res = await fetch(`${url}/api/auth/login`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ username: 'bench', password: PASSWORD }),
  });
  const body = (await res.json()) as { accessToken: string };
  if (res.status !== 200) throw new Error(`login failed: ${res.status}`);
  return { ms: performance.now() - t0, token: body.accessToken };
}

async function hasWrk(): Promise<boolean> {
  try {
    await promisify(execFile)('wrk', ['--version']);
    return true;
  } catch (err) {
    // wrk --version prints its banner and exits 1; only a missing binary is ENOENT.
    return (err as NodeJS.ErrnoException).code !== 'ENOENT';
  }
}

/** wrk prints latencies as 812.00us, 5.70ms or 1.20s. */
function wrkMs(s: string): number {
  const m = /^([\d.]+)(us|ms|s)$/.exec(s.trim());
  if (!m) throw new Error(`cannot read wrk latency "${s}"`);
  const v = Number(m[1]);
  return m[2] === 'us' ? v / 1000 : m[2] === 's' ? v * 1000 : v;
}

async function loadWithWrk(
  url: string,
  token: string,
  seconds: number,
): Promise<Omit<Round, 'serverCpuUsPerReq'>> {
  const { stdout } = await promisify(execFile)('wrk', [
    '-t1',
    `-c${CONNECTIONS}`,
    `-d${seconds}s`,
    '--latency',
    '-H',
    `authorization: Bearer ${token}`,
    `${url}/api/me`,
  ]);
  const rps = Number(/Requests\/sec:\s+([\d.]+)/.exec(stdout)?.[1]);
  const requests = Number(/(\d+) requests in/.exec(stdout)?.[1]);
  // Anchored: the thread-stats line above the distribution also holds a percentage ("87.50%").
  const p50 = /^\s+50%\s+(\S+)/m.exec(stdout)?.[1];
  const p99 = /^\s+99%\s+(\S+)/m.exec(stdout)?.[1];
  const non2xx = Number(/Non-2xx or 3xx responses:\s+(\d+)/.exec(stdout)?.[1] ?? 0);
  const sockErr = /Socket errors:.*?(\d+).*?(\d+).*?(\d+).*?(\d+)/.exec(stdout);
  const errors = non2xx + (sockErr ? sockErr.slice(1).reduce((a, b) => a + Number(b), 0) : 0);
  if (!p50 || !p99 || !Number.isFinite(rps)) throw new Error(`cannot read wrk output:\n${stdout}`);
  return { rps, p50Ms: wrkMs(p50), p99Ms: wrkMs(p99), requests, errors };
}

async function loadWithAutocannon(
  url: string,
  token: string,
  seconds: number,
): Promise<Omit<Round, 'serverCpuUsPerReq'>> {
  const r = await autocannon({
    url: `${url}/api/me`,
    connections: CONNECTIONS,
    duration: seconds,
    headers: { authorization: `Bearer ${token}` },
  });
  return {
    rps: r.requests.average,
    p50Ms: r.latency.p50,
    p99Ms: r.latency.p99,
    requests: r.requests.total,
    errors: r.errors + r.non2xx,
  };
}

export async function run(opts: BenchOptions): Promise<BenchResult> {
  const data = mkdtempSync(path.join(tmpdir(), 'cw-bench-http-'));
  const { url, child } = await startServer(data);
  const generator = (await hasWrk()) ? 'wrk' : 'autocannon';
  const load = generator === 'wrk' ? loadWithWrk : loadWithAutocannon;
  try {
    const logins: number[] = [];
    let token = '';
    const loginSamples = opts.quick ? 3 : 50;
    for (let i = 0; i < loginSamples + 2; i++) {
      const r = await loginOnce(url);
      token = r.token;
      if (i >= 2) logins.push(r.ms); // the first two warm up the JIT and argon2's thread pool
    }
    const seconds = opts.quick ? 1 : 10;
    await load(url, token, opts.quick ? 1 : 3); // warm-up, not recorded
    const rounds: Round[] = [];
    for (let i = 0; i < (opts.quick ? 1 : 3); i++) {
      const t0 = cpuTicks(child.pid!);
      const r = await load(url, token, seconds);
      const cpuUs = ((cpuTicks(child.pid!) - t0) / CLK_TCK) * 1e6;
      rounds.push({ ...r, serverCpuUsPerReq: cpuUs / Math.max(1, r.requests) });
    }
    const sorted = [...logins].sort((a, b) => a - b);
    const argon = `argon2id m=${ARGON2_PARAMS.memoryCost} KiB, t=${ARGON2_PARAMS.timeCost}, p=${ARGON2_PARAMS.parallelism}`;
    return {
      title: 'HTTP API',
      description:
        `Authenticated GET /api/me with ${CONNECTIONS} keep-alive connections from ${generator} (one thread), server in its own process; ` +
        `${rounds.length} rounds of ${seconds} s after a warm-up. Login: ${logins.length} sequential logins (${argon}).`,
      metrics: [
        metric(
          'GET /api/me throughput',
          'req/s',
          rounds.map((r) => r.rps),
          'higher',
        ),
        metric(
          'GET /api/me latency p50',
          'ms',
          rounds.map((r) => r.p50Ms),
        ),
        metric(
          'GET /api/me latency p99',
          'ms',
          rounds.map((r) => r.p99Ms),
        ),
        metric(
          'server CPU per request',
          'µs',
          rounds.map((r) => r.serverCpuUsPerReq),
        ),
        metric('login latency p50', 'ms', [quantile(sorted, 0.5)]),
        metric('login latency p99', 'ms', [quantile(sorted, 0.99)]),
      ],
      details: {
        generator,
        rounds,
        logins,
        argon2: ARGON2_PARAMS,
        errors: rounds.reduce((a, r) => a + r.errors, 0),
      },
    };
  } finally {
    child.kill('SIGTERM');
    await new Promise((r) => child.once('exit', r));
    rmSync(data, { recursive: true, force: true });
  }
}
