/**
 * HL7 v2 over MLLP: 64 concurrent synchronous senders (each waits for its ACK before sending the
 * next), ORU^R01 with 6 OBX (an IHE PCD-01 vitals result, original-mode acknowledgement), the
 * senders in their own process. Messages per second and ACK latency (p50, p99) for:
 *
 *   - CareWire, durable ACK on SQLite (`carewire serve` in its own process: parse, store the raw
 *     message, its ACK and 6 observations, fsync, then ACK),
 *   - CareWire, durable ACK on PostgreSQL (127.0.0.1:5432, database `test`, a schema of its own),
 *   - @medplum/hl7's Hl7Server answering AA with no storage at all (same senders, same messages),
 *   - the floor (bench/lib/mllp-floor.ts): the least a Node MLLP server can do per message, bare
 *     (fixed AA, nothing parsed or stored) and durable (appended to a file, fdatasync per batch).
 *
 *   npm run bench -- hl7                 full run (3 rounds of 8 s per target, the targets
 *                                        taking turns, after a warm-up)
 *   npm run bench -- hl7 --quick         a tiny run, used by the tests
 *   npm run bench -- hl7 sqlite --cpu-prof   only the named targets; CPU profile of the server
 *
 * The same file is the sender process (`--role sender`), the @medplum/hl7 server process
 * (`--role medplum`) and the floor's (`--role floor`, `floor-durable`), so one client serves all.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { availableParallelism, loadavg, tmpdir } from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { MllpClient } from '../src/hl7/client.ts';
import { DEMO_PATIENTS, demoVitals, vitalsOru } from '../src/hl7/demo-messages.ts';
import { median } from '../src/transport-bench/stats.ts';
import { serveArgs, waitForPorts } from './lib/carewire.ts';
import { metric } from './lib/measure.ts';
import { startFloorServer } from './lib/mllp-floor.ts';
import { machineTimes, threadShare, threadTimes } from './lib/proc-cpu.ts';
import type { BenchOptions, BenchResult, Metric } from './lib/types.ts';

const SELF = import.meta.filename;
const PG_BASE_URL = process.env.CAREWIRE_TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
const TARGETS = ['sqlite', 'postgres', 'medplum', 'floor', 'floor-durable'] as const;
type Target = (typeof TARGETS)[number];

interface SenderReport {
  messages: number;
  seconds: number;
  p50: number;
  p99: number;
  notAA: number;
  errors: number;
  /** CPU µs per message over the measured window (Linux only): where the cores went. */
  cpu?: CpuPerMessage | undefined;
}

interface CpuPerMessage {
  /** The server's main thread (event loop: MLLP, parsing, ACKs). */
  serverMain: number;
  /** The server's busiest other thread (CareWire on SQLite: the writer thread). */
  serverBusiest: number;
  /** Every other server thread (checkpointer, libuv pool, GC helpers…). */
  serverRest: number;
  /** The sender process (all 64 connections). */
  sender: number;
  /** The machine's busy share of all its cores, % (the rest is idle or waiting on the disk). */
  machineBusyPct: number;
}

function quantile(sorted: Float64Array, q: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))]!;
}

// ---------------------------------------------------------------- sender process

async function senderMain(args: Map<string, string>): Promise<void> {
  const port = Number(args.get('port'));
  const connections = Number(args.get('connections') ?? 64);
  const warmupMs = Number(args.get('warmup-ms') ?? 1000);
  const measureMs = Number(args.get('measure-ms') ?? 5000);
  const serverPid = Number(args.get('server-pid') ?? 0);
  const run = randomBytes(4).toString('hex');
  const at = new Date();
  const clients = await Promise.all(
    Array.from({ length: connections }, () => MllpClient.connect({ host: '127.0.0.1', port })),
  );
  let measuring = false;
  let stop = false;
  const lat: number[] = [];
  let notAA = 0;
  let errors = 0;
  let counted = 0;
  const loop = async (c: MllpClient, i: number) => {
    const p = DEMO_PATIENTS[i % DEMO_PATIENTS.length]!;
    // The message with a placeholder control id, split once: each send only joins strings.
    const parts = vitalsOru(p, '\u0000', demoVitals(i), at, { original: true }).split('\u0000');
    let n = 0;
    while (!stop) {
      const id = `${run}-${i}-${n++}`;
      const t0 = performance.now();
      try {
        const r = await c.send(parts.join(id));
        if (measuring) {
          lat.push(performance.now() - t0);
          counted++;
          if (r.code !== 'AA') notAA++;
        }
      } catch {
        errors++;
        return;
      }
    }
  };
  const loops = clients.map((c, i) => loop(c, i));
  await new Promise((r) => setTimeout(r, warmupMs));
  const server0 = serverPid > 0 ? threadTimes(serverPid) : undefined;
  const machine0 = machineTimes();
  const own0 = process.cpuUsage();
  measuring = true;
  const t0 = performance.now();
  await new Promise((r) => setTimeout(r, measureMs));
  measuring = false;
  const seconds = (performance.now() - t0) / 1000;
  const own = process.cpuUsage(own0);
  const server1 = serverPid > 0 ? threadTimes(serverPid) : undefined;
  const machine1 = machineTimes();
  let cpu: CpuPerMessage | undefined;
  if (server0 && server1 && machine0 && machine1 && counted > 0) {
    const share = threadShare(serverPid, server0, server1);
    const us = (sec: number) => (sec * 1e6) / counted;
    cpu = {
      serverMain: us(share.main),
      serverBusiest: us(share.busiestOther),
      serverRest: us(share.rest),
      sender: (own.user + own.system) / counted,
      machineBusyPct: (100 * (machine1.busy - machine0.busy)) / (machine1.total - machine0.total),
    };
  }
  stop = true;
  await Promise.all(loops);
  await Promise.all(clients.map((c) => c.close()));
  const sorted = Float64Array.from(lat).sort();
  const report: SenderReport = {
    messages: counted,
    seconds,
    p50: quantile(sorted, 0.5),
    p99: quantile(sorted, 0.99),
    notAA,
    errors,
    cpu,
  };
  process.stdout.write(`${JSON.stringify(report)}\n`);
}

// ---------------------------------------------------------------- @medplum/hl7 server process

async function medplumMain(): Promise<void> {
  const { Hl7Server } = await import('@medplum/hl7');
  const server = new Hl7Server((connection) => {
    connection.addEventListener(
      'message',
      ({ message }: { message: { buildAck(): import('@medplum/core').Hl7Message } }) =>
        connection.send(message.buildAck()),
    );
  });
  server.start(0);
  const net = server.server!;
  if (!net.listening) await new Promise((r) => net.once('listening', r));
  const addr = net.address() as { port: number };
  process.stdout.write(`${JSON.stringify({ port: addr.port })}\n`);
  process.on('SIGTERM', () => {
    void server.stop({ forceDrainTimeoutMs: 100 }).then(() => process.exit(0));
  });
}

// ---------------------------------------------------------------- the floor's server process

/** `dir`, made and removed by the parent, holds the durable floor's file. */
async function floorMain(dir: string | undefined): Promise<void> {
  const floor = await startFloorServer(dir ? path.join(dir, 'frames.log') : undefined);
  process.stdout.write(`${JSON.stringify({ port: floor.port })}\n`);
  process.on('SIGTERM', () => process.exit(0));
}

// ---------------------------------------------------------------- orchestration

function firstLine(child: ChildProcess): Promise<string> {
  return new Promise((resolve, reject) => {
    let buf = '';
    const onData = (d: Buffer) => {
      buf += d.toString();
      const nl = buf.indexOf('\n');
      if (nl >= 0) {
        child.stdout!.off('data', onData);
        resolve(buf.slice(0, nl));
      }
    };
    child.stdout!.on('data', onData);
    child.once('exit', (code) => reject(new Error(`process exited (${code}) before reporting`)));
  });
}

interface Server {
  port: number;
  /** The server's process, whose threads the sender accounts for. */
  pid: number;
  stop(): Promise<void>;
}

async function startCarewire(target: 'sqlite' | 'postgres', cpuProf: string | undefined): Promise<Server> {
  const data = mkdtempSync(path.join(tmpdir(), `cw-bench-hl7-${target}-`));
  let dropSchema: (() => Promise<void>) | undefined;
  const args = serveArgs(data);
  if (target === 'postgres') {
    const schema = `cw_bench_${randomBytes(5).toString('hex')}`;
    const c = new pg.Client({ connectionString: PG_BASE_URL });
    await c.connect();
    await c.query(`CREATE SCHEMA ${schema}`);
    await c.end();
    const url = new URL(PG_BASE_URL);
    url.searchParams.set('options', `-c search_path=${schema}`);
    args.push('--database-url', url.toString());
    dropSchema = async () => {
      const d = new pg.Client({ connectionString: PG_BASE_URL });
      await d.connect();
      await d.query(`DROP SCHEMA ${schema} CASCADE`);
      await d.end();
    };
  }
  const nodeArgs = cpuProf ? ['--cpu-prof', '--cpu-prof-dir', cpuProf] : [];
  const child = spawn(process.execPath, [...nodeArgs, ...args], { stdio: ['ignore', 'ignore', 'inherit'] });
  const { hl7 } = await waitForPorts(data);
  return {
    port: hl7,
    pid: child.pid!,
    async stop() {
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGTERM');
      await exited;
      await dropSchema?.();
      rmSync(data, { recursive: true, force: true });
    },
  };
}

/** A server process of this file's own: @medplum/hl7, or one of the floors. */
async function startPeer(role: 'medplum' | 'floor' | 'floor-durable'): Promise<Server> {
  const dir = role === 'floor-durable' ? mkdtempSync(path.join(tmpdir(), 'cw-bench-hl7-floor-')) : undefined;
  const child = spawn(process.execPath, [SELF, '--role', role, ...(dir ? ['--dir', dir] : [])], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const remove = () => {
    if (dir) rmSync(dir, { recursive: true, force: true });
  };
  let port: number;
  try {
    ({ port } = JSON.parse(await firstLine(child)) as { port: number });
  } catch (err) {
    remove();
    throw err;
  }
  return {
    port,
    pid: child.pid!,
    async stop() {
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGTERM');
      await exited;
      remove();
    },
  };
}

async function runSender(
  port: number,
  serverPid: number,
  connections: number,
  warmupMs: number,
  measureMs: number,
) {
  const child = spawn(
    process.execPath,
    [
      SELF,
      '--role',
      'sender',
      '--port',
      String(port),
      '--server-pid',
      String(serverPid),
      '--connections',
      String(connections),
      '--warmup-ms',
      String(warmupMs),
      '--measure-ms',
      String(measureMs),
    ],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  );
  return JSON.parse(await firstLine(child)) as SenderReport;
}

const LABEL: Record<Target, string> = {
  sqlite: 'CareWire, durable ACK, SQLite',
  postgres: 'CareWire, durable ACK, PostgreSQL',
  medplum: '@medplum/hl7 Hl7Server, AA, no storage',
  floor: 'floor: bare Node MLLP, fixed AA, no parsing or storage',
  'floor-durable': 'floor: durable Node MLLP, append + fdatasync per batch',
};

export async function run(opts: BenchOptions): Promise<BenchResult> {
  const args = opts.args ?? [];
  const chosen = TARGETS.filter((t) => args.includes(t));
  const targets: readonly Target[] = chosen.length > 0 ? chosen : TARGETS;
  const profIdx = args.indexOf('--cpu-prof');
  const cpuProf = profIdx >= 0 ? path.resolve(args[profIdx + 1] ?? 'bench/results/hl7-prof') : undefined;
  const connections = 64;
  const rounds = opts.quick ? 1 : 3;
  const warmupMs = opts.quick ? 200 : 2000;
  const measureMs = opts.quick ? 500 : 8000;
  const metrics: Metric[] = [];
  const rows: Array<Array<string | number>> = [];
  const cpuRows: Array<Array<string | number>> = [];
  const details: Record<string, unknown> = { connections, rounds, measureMs, loadBefore: loadavg() };
  // Every server runs for the whole benchmark and the rounds take turns (round 1 of each target,
  // then round 2…), so a drift in the machine's speed (other tenants) falls on every target alike
  // instead of on whichever ran last. A server waiting for its turn is idle.
  const servers = new Map<Target, Server>();
  const reportsOf = new Map<Target, SenderReport[]>(targets.map((t) => [t, []]));
  try {
    for (const target of targets) {
      servers.set(
        target,
        target === 'sqlite' || target === 'postgres'
          ? await startCarewire(target, cpuProf)
          : await startPeer(target),
      );
    }
    for (let r = 0; r < rounds; r++) {
      for (const target of targets) {
        const server = servers.get(target)!;
        reportsOf
          .get(target)!
          .push(
            await runSender(
              server.port,
              server.pid,
              connections,
              r === 0 ? warmupMs * 2 : warmupMs,
              measureMs,
            ),
          );
      }
    }
  } finally {
    for (const server of servers.values()) await server.stop();
  }
  for (const target of targets) {
    const reports = reportsOf.get(target)!;
    const bad = reports.reduce((a, r) => a + r.errors + r.notAA, 0);
    if (bad > 0) throw new Error(`${target}: ${bad} messages failed or were not answered AA`);
    const rate = metric(
      `${target} msg/s`,
      'msg/s',
      reports.map((r) => r.messages / r.seconds),
      'higher',
    );
    const p50 = metric(
      `${target} ACK p50`,
      'ms',
      reports.map((r) => r.p50),
    );
    const p99 = metric(
      `${target} ACK p99`,
      'ms',
      reports.map((r) => r.p99),
    );
    metrics.push(rate, p50, p99);
    rows.push([
      LABEL[target],
      Math.round(rate.median).toLocaleString('en-US'),
      p50.median.toFixed(2),
      p99.median.toFixed(2),
      `${Math.round(rate.spread * 100)}%`,
    ]);
    details[target] = reports;
    const cpu = reports.map((r) => r.cpu).filter((c): c is CpuPerMessage => c !== undefined);
    if (cpu.length === reports.length) {
      const med = (f: (c: CpuPerMessage) => number) => median(cpu.map(f));
      const server = med((c) => c.serverMain + c.serverBusiest + c.serverRest);
      cpuRows.push([
        LABEL[target],
        med((c) => c.serverMain).toFixed(0),
        med((c) => c.serverBusiest).toFixed(0),
        med((c) => c.serverRest).toFixed(0),
        server.toFixed(0),
        med((c) => c.sender).toFixed(0),
        `${med((c) => c.machineBusyPct).toFixed(0)}%`,
      ]);
    }
  }
  details.loadAfter = loadavg();
  return {
    title: 'HL7 v2 over MLLP',
    description:
      `${connections} synchronous senders (one process) send ORU^R01 with 6 OBX and wait for each ACK; ` +
      `median of ${rounds} rounds of ${measureMs / 1000} s, the servers taking turns. CareWire ACKs only after the raw message, ` +
      'its ACK and its observations are committed (SQLite: WAL, synchronous=FULL). The floors are the least a ' +
      'Node MLLP server can do: a fixed AA, without and with an append and fdatasync per batch.',
    metrics,
    tables: [
      {
        title: `HL7 MLLP, ${connections} synchronous senders, ORU^R01 with 6 OBX`,
        columns: ['server', 'msg/s', 'ACK p50 ms', 'ACK p99 ms', 'spread'],
        rows,
      },
      ...(cpuRows.length > 0
        ? [
            {
              title:
                'CPU µs per message, by thread (from /proc over the measured window; the machine has ' +
                `${availableParallelism()} cores)`,
              columns: [
                'server',
                'main thread',
                'busiest other thread',
                'other threads',
                'server in all',
                'sender',
                'machine busy',
              ],
              rows: cpuRows,
            },
          ]
        : []),
    ],
    details,
  };
}

if (import.meta.main) {
  const argv = process.argv.slice(2);
  const args = new Map<string, string>();
  for (let i = 0; i < argv.length; i++) {
    if (argv[i]!.startsWith('--') && argv[i + 1] !== undefined && !argv[i + 1]!.startsWith('--')) {
      args.set(argv[i]!.slice(2), argv[++i]!);
    }
  }
  const role = args.get('role');
  if (role === 'sender') await senderMain(args);
  else if (role === 'medplum') await medplumMain();
  else if (role === 'floor' || role === 'floor-durable') await floorMain(args.get('dir'));
  else {
    const r = await run({ quick: argv.includes('--quick'), args: argv });
    process.stdout.write(`${JSON.stringify(r.tables, null, 2)}\n`);
  }
}
