import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TransportReport } from '../../src/transport-bench/report.ts';
import { sockperfVersion } from '../../src/transport-bench/sockperf.ts';

const CLI = path.resolve('bin/carewire.js');
const SOCKPERF = sockperfVersion() !== null;

let dir: string;
let serve: ChildProcess;
let banner = '';
let log = '';

/** Starts `carewire bench serve` on a free control port and resolves with its banner. */
function startServe(): Promise<string> {
  return new Promise((resolve, reject) => {
    serve = spawn(process.execPath, [CLI, 'bench', 'serve', '--port', '0'], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    serve.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      if (out.includes('from another machine')) resolve(out);
    });
    serve.stderr!.on('data', (d: Buffer) => {
      out += d.toString();
      log += d.toString();
    });
    serve.once('error', reject);
    serve.once('exit', (code) => reject(new Error(`bench serve exited early (${code}): ${out}`)));
  });
}

function sockperfServerRunning(port: string): boolean {
  const r = spawnSync('pgrep', ['-f', `sockperf server -i 127.0.0.1 -p ${port}`], { encoding: 'utf8' });
  return r.status === 0;
}

beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'carewire-bench-peer-'));
  banner = await startServe();
}, 30_000);

afterAll(async () => {
  // SIGTERM, not SIGKILL: the server must get to stop its sockperf children.
  if (serve.exitCode === null) serve.kill('SIGTERM');
  await rm(dir, { recursive: true, force: true });
});

describe('carewire bench serve + transport --peer', () => {
  it('measures against a separately started server through its control port', async () => {
    const port = /control port (\d+)/.exec(banner)?.[1];
    expect(port).toMatch(/^\d+$/);
    const json = path.join(dir, 'peer.json');
    const r = spawnSync(
      process.execPath,
      [
        CLI,
        ...[
          'bench',
          'transport',
          '--peer',
          '127.0.0.1',
          '--peer-port',
          port!,
          '--messages',
          '20',
          '--sizes',
          '64',
        ],
        ...['--protocols', 'udp,tcp', '--connections', '3', '--no-sockperf', '--no-sweep', '--no-progress'],
        ...['--json', json, '--plot', path.join(dir, 'peer.svg')],
      ],
      { encoding: 'utf8', timeout: 30_000 },
    );
    expect(r.stderr).not.toMatch(/Error/);
    expect(r.status).toBe(0);
    const report = JSON.parse(await readFile(json, 'utf8')) as TransportReport;
    expect(report.options.peer).toBe(`127.0.0.1:${port}`);
    expect(report.pinned).toBeNull();
    expect(report.rtt.map((s) => s.protocol)).toEqual(['udp', 'tcp']);
    expect(report.sockperf).toEqual({ skipped: 'turned off (--no-sockperf)' });
  });

  it('says clearly when nothing listens at --peer', () => {
    const r = spawnSync(
      process.execPath,
      [
        CLI,
        'bench',
        'transport',
        '--peer',
        '127.0.0.1',
        '--peer-port',
        '1',
        '--messages',
        '5',
        '--no-progress',
      ],
      { encoding: 'utf8', timeout: 30_000 },
    );
    expect(r.status).not.toBe(0);
    expect(r.stderr).toMatch(/cannot reach the bench server at 127\.0\.0\.1:1/);
  });

  it('stops on SIGTERM and takes its sockperf servers with it', async () => {
    const sockperfPorts = /sockperf: udp (\d+), tcp (\d+)/.exec(banner);
    if (SOCKPERF) {
      expect(sockperfPorts).not.toBeNull();
      expect(sockperfServerRunning(sockperfPorts![1]!)).toBe(true);
    } else {
      expect(banner).toContain('sockperf: not running');
    }
    serve.removeAllListeners('exit'); // the start-up listener treated an exit as a failure
    const exitedCode = new Promise<number | null>((resolve) => serve.once('exit', (code) => resolve(code)));
    serve.kill('SIGTERM');
    expect(await exitedCode, log).toBe(0);
    if (SOCKPERF) {
      expect(sockperfServerRunning(sockperfPorts![1]!)).toBe(false);
      expect(sockperfServerRunning(sockperfPorts![2]!)).toBe(false);
    }
  });
});
