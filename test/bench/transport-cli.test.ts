import { spawn } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { assertTransportReport, type TransportReport } from '../../src/transport-bench/report.ts';
import { sockperfVersion } from '../../src/transport-bench/sockperf.ts';

const CLI = path.resolve('bin/carewire.js');
const PROTOCOLS = ['udp', 'tcp', 'tls', 'ws', 'http'];
// CI installs the Debian package `sockperf`; where it is missing the Node parts are still checked.
const SOCKPERF = sockperfVersion() !== null;

function carewire(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CLI, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => {
      stdout += d.toString();
    });
    child.stderr.on('data', (d: Buffer) => {
      stderr += d.toString();
    });
    child.once('error', reject);
    child.once('exit', (code) => resolve({ code, stdout, stderr }));
  });
}

/** Width and height from a PNG's IHDR chunk, after checking the 8-byte signature. */
function pngSize(png: Buffer): { width: number; height: number } {
  const signature = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
  expect(png.subarray(0, 8).equals(signature)).toBe(true);
  expect(png.toString('latin1', 12, 16)).toBe('IHDR');
  return { width: png.readUInt32BE(16), height: png.readUInt32BE(20) };
}

function svgAttr(svg: string, name: string): number {
  const m = new RegExp(`<svg[^>]*\\s${name}="(\\d+)"`).exec(svg);
  if (!m) throw new Error(`SVG has no ${name}`);
  return Number(m[1]);
}

/** Every drawn series as "panel/series", read from the data attributes the plotter writes. */
function svgSeries(svg: string): Set<string> {
  const out = new Set<string>();
  for (const m of svg.matchAll(/<g class="series" data-panel="([^"]+)" data-series="([^"]+)">/g)) {
    out.add(`${m[1]}/${m[2]}`);
  }
  return out;
}

let dir: string;
let run: { code: number | null; stdout: string; stderr: string };

beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'carewire-bench-cli-'));
  run = await carewire([
    'bench',
    'transport',
    '--messages',
    '40',
    '--sizes',
    '64',
    '--connections',
    '5',
    '--no-sweep',
    '--json',
    path.join(dir, 'out', 'report.json'),
    '--plot',
    path.join(dir, 'out', 'plot.svg'),
  ]);
}, 60_000);

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('carewire bench transport', () => {
  it('exits cleanly and says where the files are', () => {
    expect(run.stderr).not.toMatch(/Error/);
    expect(run.code).toBe(0);
    expect(run.stdout).toContain('Round trip, one message outstanding');
    expect(run.stdout).toContain(path.join(dir, 'out', 'plot.png'));
  });

  it('leaves a JSON report with every protocol and the set-up costs', async () => {
    const report: unknown = JSON.parse(await readFile(path.join(dir, 'out', 'report.json'), 'utf8'));
    assertTransportReport(report);
    const r: TransportReport = report;
    const node = r.rtt.filter((s) => s.source === 'node');
    expect(node.map((s) => s.protocol).sort()).toEqual([...PROTOCOLS].sort());
    for (const s of node) {
      expect(s.size).toBe(64);
      expect(s.summary.n).toBe(40);
      expect(s.summary.min).toBeGreaterThan(0);
      expect(s.summary.min).toBeLessThanOrEqual(s.summary.p50);
      expect(s.summary.p50).toBeLessThanOrEqual(s.summary.p99);
      expect(s.cdf.at(-1)?.p).toBe(1);
    }
    expect(r.setup.map((s) => s.kind)).toEqual([
      'tcp-connect',
      'tls-full',
      'tls-resumed',
      'ws-upgrade',
      'http-new-connection',
    ]);
    expect(r.setup.find((s) => s.kind === 'tls-resumed')?.resumedShare).toBe(1);
    expect(r.udpSweep).toBeNull();
    expect(r.server.node).toBe(r.client.node);
  });

  it('runs sockperf beside Node when it is installed, and says why not when it is not', async () => {
    const r = JSON.parse(await readFile(path.join(dir, 'out', 'report.json'), 'utf8')) as TransportReport;
    if (SOCKPERF) {
      expect('version' in r.sockperf).toBe(true);
      const sp = r.rtt.filter((s) => s.source === 'sockperf');
      expect(sp.map((s) => s.protocol).sort()).toEqual(['tcp', 'udp']);
      for (const s of sp) expect(s.summary.n).toBeGreaterThan(100);
      expect(r.comparison.map((c) => c.protocol).sort()).toEqual(['tcp', 'udp']);
      for (const c of r.comparison) expect(c.ratio).toBeCloseTo(c.nodeP50 / c.sockperfP50, 10);
      expect(run.stdout).toContain('Node vs sockperf');
    } else {
      expect(r.sockperf).toEqual({ skipped: expect.stringMatching(/not installed/) });
      expect(r.comparison).toEqual([]);
    }
  });

  it('leaves an SVG with the expected panels and series, and a PNG of the same size', async () => {
    const svg = await readFile(path.join(dir, 'out', 'plot.svg'), 'utf8');
    expect(svg.startsWith('<svg xmlns="http://www.w3.org/2000/svg"')).toBe(true);
    expect(svg).toContain('<title>CareWire transport benchmark');
    const series = svgSeries(svg);
    for (const p of PROTOCOLS) {
      expect(series).toContain(`cdf-${p}/${p} 64 B`);
      expect(series).toContain(`p50-by-size/${p}`);
    }
    for (const s of [
      'TCP connect',
      'TLS 1.3 full handshake',
      'TLS 1.3 resumed (ticket)',
      'WebSocket upgrade',
    ]) {
      expect(series).toContain(`setup/${s}`);
    }
    if (SOCKPERF) {
      expect(series).toContain('cdf-udp/sockperf udp 64 B');
      expect(series).toContain('cdf-tcp/sockperf tcp 64 B');
      expect(series).toContain('sockperf-ratio/udp 64 B');
    }
    expect(svg).toContain('round-trip time (µs, log scale)');

    const png = await readFile(path.join(dir, 'out', 'plot.png'));
    const size = pngSize(png);
    expect(size).toEqual({ width: svgAttr(svg, 'width'), height: svgAttr(svg, 'height') });
    expect(png.length).toBeGreaterThan(20_000); // a rendered figure, not an empty canvas
  });

  it('refuses bad options with a clear message and exit code 2', async () => {
    const small = await carewire(['bench', 'transport', '--sizes', '8']);
    expect(small.code).toBe(2);
    expect(small.stderr).toMatch(/--sizes: 8 is outside 16\.\.1048576 bytes/);
    const proto = await carewire(['bench', 'transport', '--protocols', 'udp,pigeon']);
    expect(proto.code).toBe(2);
    expect(proto.stderr).toMatch(/unknown "pigeon"/);
    const msgs = await carewire(['bench', 'transport', '--messages', '-5']);
    expect(msgs.code).not.toBe(0);
    const open = await carewire(['bench', 'serve', '--host', '0.0.0.0', '--port', '0']);
    expect(open.code).toBe(2);
    expect(open.stderr).toMatch(/refusing to listen on 0\.0\.0\.0 without --insecure/);
  });
});
