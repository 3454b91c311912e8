/**
 * HTTP API benchmark: authenticated `GET /api/me` throughput and latency under load, and login
 * latency (argon2id dominates it).
 *
 * The server runs in its own process (as in production); autocannon drives it from this process,
 * so on a 2-core machine each gets one core. The server's rate limiter stays on, set high enough
 * that it measures capacity rather than refusals.
 *
 *   npm run bench -- http            full run (10 s of load per round, 3 rounds)
 *   npm run bench -- http --quick    a tiny run, used by the tests
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import autocannon from 'autocannon';
import { ARGON2_PARAMS } from '../src/auth/passwords.ts';

const BIN = path.resolve(import.meta.dirname, '../bin/carewire.js');
const PASSWORD = 'benchmark password 1';

export interface HttpBenchResult {
  name: 'http';
  me: {
    rounds: Array<{ rps: number; p50: number; p99: number; errors: number; non2xx: number }>;
    rpsMedian: number;
    p50Median: number;
    p99Median: number;
    connections: number;
    durationS: number;
  };
  login: { samples: number; p50: number; p99: number; mean: number; argon2: typeof ARGON2_PARAMS };
}

function quantile(sorted: number[], q: number): number {
  if (sorted.length === 0) return Number.NaN;
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1));
  return sorted[i]!;
}
const median = (xs: number[]) =>
  quantile(
    [...xs].sort((a, b) => a - b),
    0.5,
  );

function cli(args: string[]): Promise<void> {
  return new Promise((resolve, reject) => {
    const c = spawn(process.execPath, [BIN, ...args], { stdio: 'ignore' });
    c.on('exit', (code) =>
      code === 0 ? resolve() : reject(new Error(`carewire ${args.join(' ')} exited ${code}`)),
    );
  });
}

async function startServer(data: string): Promise<{ url: string; child: ChildProcess }> {
  await cli(['user', 'add', 'bench', '--role', 'clinician', '--password', PASSWORD, '--data', data]);
  const child = spawn(
    process.execPath,
    [
      BIN,
      'serve',
      '--data',
      data,
      '--port',
      '0',
      '--log-level',
      'warn',
      '--rate-limit',
      '100000000',
      '--login-rate-limit',
      '100000000',
    ],
    { stdio: 'ignore' },
  );
  const portsFile = path.join(data, 'ports.json');
  for (let i = 0; i < 200 && !existsSync(portsFile); i++) await new Promise((r) => setTimeout(r, 50));
  const { http } = JSON.parse(readFileSync(portsFile, 'utf8')) as { http: number };
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

export async function run(opts: { quick: boolean; args?: string[] }): Promise<HttpBenchResult> {
  const data = mkdtempSync(path.join(tmpdir(), 'cw-bench-http-'));
  const { url, child } = await startServer(data);
  try {
    const logins: number[] = [];
    let token = '';
    const loginSamples = opts.quick ? 3 : 50;
    for (let i = 0; i < loginSamples + 2; i++) {
      const r = await loginOnce(url);
      token = r.token;
      if (i >= 2) logins.push(r.ms); // the first two warm up JIT and the argon2 thread pool
    }
    const durationS = opts.quick ? 1 : 10;
    const rounds = opts.quick ? 1 : 3;
    const connections = 64;
    const results: HttpBenchResult['me']['rounds'] = [];
    // Warm-up round, not recorded.
    await autocannon({
      url: `${url}/api/me`,
      connections,
      duration: opts.quick ? 1 : 3,
      headers: { authorization: `Bearer ${token}` },
    });
    for (let i = 0; i < rounds; i++) {
      const r = await autocannon({
        url: `${url}/api/me`,
        connections,
        duration: durationS,
        headers: { authorization: `Bearer ${token}` },
      });
      results.push({
        rps: r.requests.average,
        p50: r.latency.p50,
        p99: r.latency.p99,
        errors: r.errors,
        non2xx: r.non2xx,
      });
    }
    const sorted = [...logins].sort((a, b) => a - b);
    return {
      name: 'http',
      me: {
        rounds: results,
        rpsMedian: median(results.map((r) => r.rps)),
        p50Median: median(results.map((r) => r.p50)),
        p99Median: median(results.map((r) => r.p99)),
        connections,
        durationS,
      },
      login: {
        samples: logins.length,
        p50: quantile(sorted, 0.5),
        p99: quantile(sorted, 0.99),
        mean: logins.reduce((a, b) => a + b, 0) / logins.length,
        argon2: ARGON2_PARAMS,
      },
    };
  } finally {
    child.kill('SIGTERM');
    await new Promise((r) => child.once('exit', r));
    rmSync(data, { recursive: true, force: true });
  }
}

if (import.meta.main) {
  const r = await run({ quick: process.argv.includes('--quick') });
  console.table(r.me.rounds);
  console.log(
    `GET /api/me: ${Math.round(r.me.rpsMedian)} req/s (median of ${r.me.rounds.length}), p50 ${r.me.p50Median} ms, p99 ${r.me.p99Median} ms`,
  );
  console.log(
    `login: p50 ${r.login.p50.toFixed(1)} ms, p99 ${r.login.p99.toFixed(1)} ms over ${r.login.samples} logins`,
  );
}
