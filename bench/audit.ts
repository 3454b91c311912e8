/**
 * The audit log through the real store (the numbers issue 7 sets a bar for):
 *
 *  - appends/s through AuditLog.append with group commit (the server's defaults: batches of up to
 *    --group-commit-max, 2 ms wait; on SQLite through the store's writer thread, as the server
 *    does), many callers at once, on SQLite and on PostgreSQL
 *  - time to verify 1,000,000 entries read from the SQLite store (`carewire audit verify --data`:
 *    recompute every leaf and node, compare with every stored node, check every checkpoint)
 *  - inclusion-proof latency through the store (p50/p99), proofs against one tree size
 *
 * Each rate is given by wall clock and by this process's CPU time: other test runs share the
 * machine's cores, so the wall clock overstates the cost; CPU time is what the work costs on an
 * idle core. The load average is reported beside them.
 *
 *   npm run bench -- audit            full run (200,000 appends per round; 1,000,000 to verify)
 *   npm run bench -- audit --quick    tiny sizes, proves it works
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import path from 'node:path';
import { AuditSql } from '../src/audit/audit-sql.ts';
import { type AuditEvent, AuditLog } from '../src/audit/log.ts';
import { loadOrCreateLogKey } from '../src/audit/log-key.ts';
import { storeSource, verifySource } from '../src/audit/verify-store.ts';
import { SETTINGS } from '../src/config.ts';
import { openStore, type Store } from '../src/store/db.ts';
import { metric } from './lib/measure.ts';
import type { BenchOptions, BenchResult, Metric, Table } from './lib/types.ts';

const PG_URL = process.env.CAREWIRE_BENCH_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';

function event(i: number): AuditEvent {
  return {
    type: i % 4 === 0 ? 'patient.read' : 'observation.read',
    action: 'R',
    outcome: 0,
    agent: { userId: `u-${i % 97}`, username: `dr.${i % 97}`, role: 'clinician', address: '10.0.0.7' },
    source: 'http',
    patientId: `p-${i % 1000}`,
    entity: { type: 'Observation', id: `p-${i % 1000}` },
    purpose: 'TREAT',
  };
}

interface Timing {
  wallS: number;
  cpuS: number;
}

async function timed(f: () => Promise<void>): Promise<Timing> {
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  await f();
  const c = process.cpuUsage(c0);
  return { wallS: (performance.now() - t0) / 1000, cpuS: (c.user + c.system) / 1e6 };
}

/** `n` appends from `window` concurrent callers, each awaiting its own durable append. */
async function appendMany(log: AuditLog, from: number, n: number, window = 4096): Promise<void> {
  let next = from;
  const end = from + n;
  const caller = async () => {
    while (next < end) await log.append(event(next++));
  };
  await Promise.all(Array.from({ length: Math.min(window, n) }, caller));
}

interface Opened {
  store: Store;
  log: AuditLog;
  close(): Promise<void>;
}

/** The server's default batch size (--group-commit-max). */
const GROUP_MAX = Number(SETTINGS.find((s) => s.key === 'groupCommitMax')?.default);

async function open(engine: 'sqlite' | 'postgres', maxItems = GROUP_MAX): Promise<Opened> {
  const dir = mkdtempSync(path.join(tmpdir(), 'cw-bench-audit-'));
  let drop = async () => {};
  let url: string | undefined;
  if (engine === 'postgres') {
    const pg = (await import('pg')).default;
    const schema = `cw_bench_${process.pid}_${Date.now() % 1e6}`;
    const c = new pg.Client({ connectionString: PG_URL });
    await c.connect();
    await c.query(`CREATE SCHEMA ${schema}`);
    await c.end();
    const u = new URL(PG_URL);
    u.searchParams.set('options', `-c search_path=${schema}`);
    url = u.toString();
    drop = async () => {
      const d = new pg.Client({ connectionString: PG_URL });
      await d.connect();
      await d.query(`DROP SCHEMA ${schema} CASCADE`);
      await d.end();
    };
  }
  const store = await openStore({ dataDir: dir, databaseUrl: url });
  const log = new AuditLog(store, {
    maxDelayMs: 2,
    maxItems,
    maxQueue: 1_000_000,
    writerThread: true,
    key: loadOrCreateLogKey(dir),
    checkpointMs: 0,
  });
  return {
    store,
    log,
    async close() {
      await log.close();
      await store.close();
      await drop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

function quantile(sorted: readonly number[], q: number): number {
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))]!;
}

const r1 = (x: number) => Math.round(x * 10) / 10;

export async function run(opts: BenchOptions): Promise<BenchResult> {
  const quick = opts.quick;
  const loadStart = loadavg()[0]!;
  const metrics: Metric[] = [];
  const notes: string[] = [];

  // 1. Appends on SQLite: one fresh store per round.
  const nSqlite = quick ? 3000 : 200_000;
  const sqliteWall: number[] = [];
  const sqliteCpu: number[] = [];
  for (let round = 0; round < (quick ? 1 : 3); round++) {
    const o = await open('sqlite');
    await appendMany(o.log, 0, Math.min(2000, nSqlite)); // warm-up: JIT, statement cache
    const t = await timed(() => appendMany(o.log, 2000, nSqlite));
    sqliteWall.push(nSqlite / t.wallS);
    sqliteCpu.push(nSqlite / t.cpuS);
    await o.close();
  }
  metrics.push(metric('SQLite appends/s (wall)', 'ops/s', sqliteWall, 'higher'));
  metrics.push(metric('SQLite appends/s (per CPU second)', 'ops/s', sqliteCpu, 'higher'));

  // 2. Appends on PostgreSQL, when one is reachable.
  const nPg = quick ? 1000 : 50_000;
  try {
    const pgWall: number[] = [];
    const pgCpu: number[] = [];
    for (let round = 0; round < (quick ? 1 : 2); round++) {
      const o = await open('postgres');
      await appendMany(o.log, 0, Math.min(2000, nPg));
      const t = await timed(() => appendMany(o.log, 2000, nPg));
      pgWall.push(nPg / t.wallS);
      pgCpu.push(nPg / t.cpuS);
      await o.close();
    }
    metrics.push(metric('PostgreSQL appends/s (wall)', 'ops/s', pgWall, 'higher'));
    metrics.push(metric('PostgreSQL appends/s (per CPU second of this process)', 'ops/s', pgCpu, 'higher'));
  } catch (err) {
    notes.push(`PostgreSQL skipped: ${(err as Error).message}`);
  }

  // 3. Verify a big log read back from the SQLite store, with a checkpoint every 100,000 entries.
  const nVerify = quick ? 20_000 : 1_000_000;
  const big = await open('sqlite', 8192);
  const step = quick ? 5000 : 100_000;
  for (let from = 0; from < nVerify; from += step) {
    await appendMany(big.log, from, Math.min(step, nVerify - from), 16_384);
    await big.log.checkpoint();
  }
  const key = loadOrCreateLogKey(path.dirname(big.store.location));
  const verifyWall: number[] = [];
  const verifyCpu: number[] = [];
  const verifyCritical: number[] = [];
  const verifyOneThread: number[] = [];
  for (let round = 0; round < (quick ? 1 : 2); round++) {
    // As `carewire audit verify --data` runs it: entries read and leaf-hashed on a reader thread.
    let ok = false;
    const m0 = process.threadCpuUsage();
    const t = await timed(async () => {
      const report = await verifySource(
        storeSource(new AuditSql(big.store.db, big.store.sqlite), { sqliteFile: big.store.location }),
        { keys: [key.vkey], origin: key.origin },
      );
      ok = report.ok && report.size === nVerify;
    });
    const m = process.threadCpuUsage(m0);
    if (!ok) throw new Error('the benchmark log did not verify');
    const mainS = (m.user + m.system) / 1e6;
    verifyWall.push(t.wallS);
    verifyCpu.push(t.cpuS);
    // On two idle cores the wall time approaches the busier thread's CPU time.
    verifyCritical.push(Math.max(mainS, t.cpuS - mainS));
    // On one thread (the fallback for PostgreSQL and strict mode).
    const one = await timed(async () => {
      await verifySource(storeSource(new AuditSql(big.store.db, big.store.sqlite)), {
        keys: [key.vkey],
        origin: key.origin,
      });
    });
    verifyOneThread.push(one.cpuS);
  }
  const perM = (xs: number[]) => xs.map((s) => (s * 1_000_000) / nVerify);
  metrics.push(metric('verify 1,000,000 entries (wall)', 's', perM(verifyWall)));
  metrics.push(metric('verify 1,000,000 entries (CPU, both threads)', 's', perM(verifyCpu)));
  metrics.push(metric('verify 1,000,000 entries (busier thread CPU)', 's', perM(verifyCritical)));
  metrics.push(metric('verify 1,000,000 entries (one thread, CPU)', 's', perM(verifyOneThread)));

  // 4. Inclusion proofs through the store, against the verified tree size.
  const nProofs = quick ? 500 : 20_000;
  const p50: number[] = [];
  const p99: number[] = [];
  for (let round = 0; round < (quick ? 1 : 3); round++) {
    const lat: number[] = [];
    for (let k = 0; k < nProofs; k++) {
      const i = Math.floor(Math.random() * nVerify);
      const t0 = performance.now();
      await big.log.inclusionProof(i, nVerify);
      lat.push(performance.now() - t0);
    }
    lat.sort((a, b) => a - b);
    p50.push(quantile(lat, 0.5));
    p99.push(quantile(lat, 0.99));
  }
  metrics.push(metric(`inclusion proof p50 (tree of ${nVerify})`, 'ms', p50));
  metrics.push(metric(`inclusion proof p99 (tree of ${nVerify})`, 'ms', p99));
  await big.close();

  const loadEnd = loadavg()[0]!;
  const find = (name: string) => metrics.find((m) => m.name.startsWith(name));
  const row = (name: string, bar: string, pass: (v: number) => boolean): Array<string | number> => {
    const m = find(name);
    if (!m) return [name, '–', bar, '–'];
    const v = m.unit === 'ops/s' ? Math.round(m.median).toLocaleString('en') : r1(m.median);
    return [m.name, `${v} ${m.unit}`, bar, pass(m.median) ? 'yes' : 'no'];
  };
  const tables: Table[] = [
    {
      title: `Audit log through the store (load average ${r1(loadStart)} → ${r1(loadEnd)} on this machine)`,
      columns: ['measure', 'median', 'bar', 'meets bar'],
      rows: [
        row('SQLite appends/s (wall)', '≥ 50,000/s', (v) => v >= 50_000),
        row('SQLite appends/s (per CPU', '–', () => true),
        row('PostgreSQL appends/s (wall)', '≥ 50,000/s', (v) => v >= 50_000),
        row('PostgreSQL appends/s (per CPU', '–', () => true),
        row('verify 1,000,000 entries (wall)', '≤ 10 s', (v) => v <= 10),
        row('verify 1,000,000 entries (CPU, both', '–', () => true),
        row('verify 1,000,000 entries (busier', '≤ 10 s', (v) => v <= 10),
        row('verify 1,000,000 entries (one thread', '–', () => true),
        row('inclusion proof p50', '–', () => true),
        row('inclusion proof p99', '≤ 1 ms', (v) => v <= 1),
      ],
      align: ['left', 'right', 'right', 'left'],
    },
  ];
  return {
    title: 'Audit log: appends, verification and proofs through the store',
    description: `AuditLog.append with group commit (${GROUP_MAX} per batch, 2 ms; SQLite batches committed by the store's writer thread), verification of 1,000,000 entries read from SQLite, inclusion proofs read from the store; wall clock and CPU time (both threads), with the load average.`,
    metrics,
    tables,
    details: { loadStart, loadEnd, notes, sizes: { nSqlite, nPg, nVerify, nProofs } },
  };
}

if (import.meta.main) {
  const r = await run({ quick: process.argv.includes('--quick'), args: process.argv.slice(2) });
  for (const m of r.metrics)
    console.log(`${m.name}: ${m.median} ${m.unit} (runs ${m.runs.map((v) => r1(v)).join(', ')})`);
  for (const n of (r.details as { notes: string[] }).notes) console.log(`note: ${n}`);
}
