/**
 * FHIR R4 API benchmark: authenticated `GET Patient/{id}` and
 * `GET Observation?patient=X&code=http://loinc.org|8867-4&_sort=-date&_count=50` over a store of
 * 10,000 patients and 1,000,000 observations, on SQLite and on PostgreSQL.
 *
 * The store is filled with raw INSERT … SELECT statements generating rows in the engine (a
 * recursive CTE on SQLite, generate_series on PostgreSQL), 100,000 rows per statement in one
 * transaction, then ANALYZEd: 1 M rows load in seconds. Observations arrive as a real feed does:
 * every patient reports once a minute (60 % heart rate, then respiratory rate, SpO2 and
 * temperature), so a patient's rows are spread over the whole table.
 *
 * The reader is a clinician assigned to every ward (so each request passes the real care-team
 * check). The server runs in its own process (`carewire serve`); `wrk` drives it with a Lua
 * script that picks a random patient per request. Every request is audited (one group-committed
 * append), as in production. Reported: req/s, p50/p99 latency and the server's CPU time per
 * request (from /proc, independent of other load on the machine), and the load average.
 *
 *   npm run bench -- fhir                        SQLite and PostgreSQL, 3 rounds of 10 s each
 *   npm run bench -- fhir --engine sqlite        one engine
 *   npm run bench -- fhir --connections 32 --seconds 10 --rounds 3 --cpu-prof DIR
 *   npm run bench -- fhir --only search          one kind of request
 *   npm run bench -- fhir --quick                tiny store, 1 s: proves it runs
 */
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { sql } from 'kysely';
import pg from 'pg';
import { openStore, type Store } from '../src/store/db.ts';
import { BIN, serveArgs, waitForPorts } from './lib/carewire.ts';
import { metric } from './lib/measure.ts';
import type { BenchOptions, BenchResult, Metric, Table } from './lib/types.ts';

const PASSWORD = 'benchmark password 1';
const CLK_TCK = 100;
const T0 = Date.parse('2024-01-01T00:00:00Z');
const PG_BASE = process.env.CAREWIRE_BENCH_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';

type Engine = 'sqlite' | 'postgres';

interface Size {
  patients: number;
  observations: number;
}

interface Round {
  rps: number;
  p50Ms: number;
  p99Ms: number;
  requests: number;
  errors: number;
  serverCpuUsPerReq: number;
  load1: number;
}

function arg(args: string[], name: string): string | undefined {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : undefined;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor((s.length - 1) / 2)] ?? Number.NaN;
}

function cpuTicks(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  return Number(fields[11]) + Number(fields[12]);
}

function cli(args: string[]): Promise<void> {
  return new Promise((resolve, reject) => {
    const c = spawn(process.execPath, [BIN, ...args], { stdio: ['ignore', 'ignore', 'inherit'] });
    c.on('exit', (code) =>
      code === 0 ? resolve() : reject(new Error(`carewire ${args[0]} ${args[1]} exited ${code}`)),
    );
  });
}

/** Rows generated inside the engine, `step` at a time, each chunk one statement in one transaction. */
async function load(store: Store, size: Size): Promise<number> {
  const t0 = performance.now();
  const { db, engine } = store;
  const pad = (col: string, n: number) =>
    engine === 'sqlite' ? `printf('%0${n}d', ${col})` : `lpad((${col})::text, ${n}, '0')`;
  const series = (lo: number, hi: number, body: string) =>
    engine === 'sqlite'
      ? `WITH RECURSIVE s(i) AS (SELECT ${lo} UNION ALL SELECT i + 1 FROM s WHERE i < ${hi}) ${body.replace('FROM_SERIES', 'FROM s')}`
      : body.replace('FROM_SERIES', `FROM generate_series(${lo}, ${hi}) AS s(i)`);
  const wards = Math.max(1, Math.ceil(size.patients / 100));
  await db.transaction().execute(async (trx) => {
    await sql
      .raw(
        series(
          0,
          size.patients - 1,
          `INSERT INTO patients (id, mrn, given_name, family_name, sex, birth_date, ward, bed, created_at, updated_at)
           SELECT 'p' || ${pad('i', 6)}, 'MRN-' || ${pad('i', 6)}, 'Given' || i, 'Family' || (i % 997),
                  CASE WHEN i % 2 = 0 THEN 'female' ELSE 'male' END, '19' || ${pad('(i % 90) + 10', 2)} || '-01-15',
                  'W' || ${pad(`i % ${wards}`, 3)}, '' || (i % 100), ${T0}, ${T0} FROM_SERIES`,
        ),
      )
      .execute(trx);
  });
  const step = 100_000;
  const codes = `CASE WHEN (i / ${size.patients}) % 10 < 6 THEN '8867-4' WHEN (i / ${size.patients}) % 10 < 8 THEN '9279-1' WHEN (i / ${size.patients}) % 10 < 9 THEN '2708-6' ELSE '8310-5' END`;
  const units = `CASE WHEN (i / ${size.patients}) % 10 < 8 THEN '/min' WHEN (i / ${size.patients}) % 10 < 9 THEN '%' ELSE 'Cel' END`;
  for (let lo = 0; lo < size.observations; lo += step) {
    const hi = Math.min(size.observations, lo + step) - 1;
    await db.transaction().execute(async (trx) => {
      await sql
        .raw(
          series(
            lo,
            hi,
            `INSERT INTO observations (id, patient_id, code, code_system, display, mdc_code, value_num, value_text, unit,
               ref_range, abnormal_flags, status, category, panel, effective_at, recorded_at, source, source_ref)
             SELECT 'o' || ${pad('i', 8)}, 'p' || ${pad(`i % ${size.patients}`, 6)}, ${codes}, 'http://loinc.org', NULL,
               CASE WHEN (i / ${size.patients}) % 10 < 6 THEN '147842' ELSE NULL END, 40 + (i % 60), NULL, ${units},
               NULL, NULL, 'final', 'vital-signs', NULL, ${T0} + (i / ${size.patients}) * 60000, ${T0} + (i / ${size.patients}) * 60000 + 500,
               'device', 'bench' FROM_SERIES`,
          ),
        )
        .execute(trx);
    });
  }
  // As a running server's merger would have it by now (SQLite; see observation-search.ts).
  await store.mergeSearchCopies();
  if (engine === 'sqlite') await sql.raw('ANALYZE').execute(db);
  else {
    // VACUUM sets the visibility map, so the covering index gives index-only scans at once (as
    // autovacuum would after a while in production); each statement alone: no transaction block.
    await sql.raw('VACUUM ANALYZE patients').execute(db);
    await sql.raw('VACUUM ANALYZE observations').execute(db);
  }
  return (performance.now() - t0) / 1000;
}

export async function prepare(
  engine: Engine,
  size: Size,
): Promise<{ data: string; url: string | undefined; drop: () => Promise<void>; loadS: number }> {
  const data = mkdtempSync(path.join(tmpdir(), `cw-bench-fhir-${engine}-`));
  let url: string | undefined;
  let schema: string | undefined;
  if (engine === 'postgres') {
    schema = `cw_bench_${randomBytes(4).toString('hex')}`;
    const c = new pg.Client({ connectionString: PG_BASE });
    await c.connect();
    await c.query(`CREATE SCHEMA ${schema}`);
    await c.end();
    const u = new URL(PG_BASE);
    u.searchParams.set('options', `-c search_path=${schema}`);
    url = u.toString();
  }
  const store = await openStore({ dataDir: data, databaseUrl: url });
  let loadS: number;
  try {
    loadS = await load(store, size);
  } finally {
    await store.close();
  }
  const flags = ['--data', data, ...(url ? ['--database-url', url] : [])];
  await cli(['user', 'add', 'bench', '--role', 'clinician', '--password', PASSWORD, ...flags]);
  const s2 = await openStore({ dataDir: data, databaseUrl: url });
  try {
    const u = await s2.db
      .selectFrom('users')
      .select('id')
      .where('username', '=', 'bench')
      .executeTakeFirstOrThrow();
    const wards = await s2.db.selectFrom('patients').select('ward').distinct().execute();
    await s2.db
      .insertInto('ward_assignments')
      .values(wards.map((w) => ({ clinician_id: u.id, ward: w.ward!, created_at: Date.now() })))
      .execute();
  } finally {
    await s2.close();
  }
  return {
    data,
    url,
    loadS,
    async drop() {
      rmSync(data, { recursive: true, force: true });
      if (schema) {
        const c = new pg.Client({ connectionString: PG_BASE });
        await c.connect();
        await c.query(`DROP SCHEMA ${schema} CASCADE`);
        await c.end();
      }
    },
  };
}

async function serve(
  data: string,
  url: string | undefined,
  cpuProf: string | undefined,
): Promise<{ base: string; child: ChildProcess }> {
  const portsFile = path.join(data, 'ports.json');
  rmSync(portsFile, { force: true });
  const node = cpuProf ? ['--cpu-prof', '--cpu-prof-dir', cpuProf] : [];
  const child = spawn(
    process.execPath,
    [
      ...node,
      ...serveArgs(data, url ? ['--database-url', url] : []),
      '--rate-limit',
      '100000000',
      '--access-token-ttl',
      '3600',
    ],
    { stdio: ['ignore', 'ignore', 'inherit'] },
  );
  const { http } = await waitForPorts(data);
  return { base: `http://127.0.0.1:${http}`, child };
}

function wrkMs(s: string): number {
  const m = /^([\d.]+)(us|ms|s)$/.exec(s.trim());
  if (!m) throw new Error(`cannot read wrk latency "${s}"`);
  const v = Number(m[1]);
  return m[2] === 'us' ? v / 1000 : m[2] === 's' ? v * 1000 : v;
}

/** A Lua script for wrk: one random patient per request. */
function luaScript(dir: string, name: string, token: string, patients: number, pathFor: string): string {
  const file = path.join(dir, `${name}.lua`);
  writeFileSync(
    file,
    `math.randomseed(${Date.now() % 100000})
local headers = { ["authorization"] = "Bearer ${token}", ["accept"] = "application/fhir+json" }
request = function()
  local p = string.format("p%06d", math.random(0, ${patients - 1}))
  return wrk.format("GET", ${pathFor}, headers)
end
`,
  );
  return file;
}

async function wrk(
  base: string,
  script: string,
  connections: number,
  seconds: number,
): Promise<Omit<Round, 'serverCpuUsPerReq' | 'load1'>> {
  const { stdout } = await promisify(execFile)(
    'wrk',
    ['-t1', `-c${connections}`, `-d${seconds}s`, '--latency', '-s', script, base],
    {
      maxBuffer: 1 << 20,
    },
  );
  const rps = Number(/Requests\/sec:\s+([\d.]+)/.exec(stdout)?.[1]);
  const requests = Number(/(\d+) requests in/.exec(stdout)?.[1]);
  const p50 = /^\s+50%\s+(\S+)/m.exec(stdout)?.[1];
  const p99 = /^\s+99%\s+(\S+)/m.exec(stdout)?.[1];
  const non2xx = Number(/Non-2xx or 3xx responses:\s+(\d+)/.exec(stdout)?.[1] ?? 0);
  const sockErr = /Socket errors:.*?(\d+).*?(\d+).*?(\d+).*?(\d+)/.exec(stdout);
  const errors = non2xx + (sockErr ? sockErr.slice(1).reduce((a, b) => a + Number(b), 0) : 0);
  if (!p50 || !p99 || !Number.isFinite(rps)) throw new Error(`cannot read wrk output:\n${stdout}`);
  return { rps, p50Ms: wrkMs(p50), p99Ms: wrkMs(p99), requests, errors };
}

interface EngineResult {
  engine: Engine;
  loadSeconds: number;
  read: Round[];
  search: Round[];
}

async function measureEngine(
  engine: Engine,
  size: Size,
  o: {
    connections: number;
    seconds: number;
    rounds: number;
    cpuProf: string | undefined;
    only: string | undefined;
  },
): Promise<EngineResult> {
  const prep = await prepare(engine, size);
  const { base, child } = await serve(prep.data, prep.url, o.cpuProf);
  try {
    const res = await fetch(`${base}/api/auth/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ username: 'bench', password: PASSWORD }),
    });
    if (res.status !== 200) throw new Error(`login failed: ${res.status}`);
    const token = ((await res.json()) as { accessToken: string }).accessToken;
    // One request of each kind checked in full before load: the numbers must be of real answers.
    const check = async (p: string, want: (b: { resourceType?: string; entry?: unknown[] }) => boolean) => {
      const r = await fetch(`${base}${p}`, { headers: { authorization: `Bearer ${token}` } });
      const b = (await r.json()) as { resourceType?: string; entry?: unknown[] };
      if (r.status !== 200 || !want(b))
        throw new Error(`${p}: ${r.status} ${JSON.stringify(b).slice(0, 300)}`);
    };
    await check('/fhir/R4/Patient/p000001', (b) => b.resourceType === 'Patient');
    await check(
      '/fhir/R4/Observation?patient=p000001&code=http://loinc.org|8867-4&_sort=-date&_count=50',
      (b) => (b.entry?.length ?? 0) === Math.min(50, Math.ceil((size.observations / size.patients) * 0.6)),
    );
    const dir = prep.data;
    const readLua = luaScript(dir, 'read', token, size.patients, '"/fhir/R4/Patient/" .. p');
    const searchLua = luaScript(
      dir,
      'search',
      token,
      size.patients,
      '"/fhir/R4/Observation?patient=" .. p .. "&code=http://loinc.org%7C8867-4&_sort=-date&_count=50"',
    );
    const rounds = async (script: string): Promise<Round[]> => {
      await wrk(base, script, o.connections, Math.min(3, o.seconds)); // warm-up
      const out: Round[] = [];
      for (let i = 0; i < o.rounds; i++) {
        const load1 = loadavg()[0]!;
        const t0 = cpuTicks(child.pid!);
        const r = await wrk(base, script, o.connections, o.seconds);
        const cpuUs = ((cpuTicks(child.pid!) - t0) / CLK_TCK) * 1e6;
        out.push({ ...r, serverCpuUsPerReq: cpuUs / Math.max(1, r.requests), load1 });
      }
      return out;
    };
    const read = o.only === 'search' ? [] : await rounds(readLua);
    const search = o.only === 'read' ? [] : await rounds(searchLua);
    return { engine, loadSeconds: prep.loadS, read, search };
  } finally {
    child.kill('SIGTERM');
    await new Promise((r) => child.once('exit', r));
    await prep.drop();
  }
}

export async function run(opts: BenchOptions): Promise<BenchResult> {
  const args = opts.args ?? [];
  const engineArg = arg(args, '--engine') ?? 'both';
  const engines: Engine[] = engineArg === 'both' ? ['sqlite', 'postgres'] : [engineArg as Engine];
  if (!engines.every((e) => e === 'sqlite' || e === 'postgres'))
    throw new Error('--engine sqlite | postgres | both');
  const size: Size = opts.quick
    ? { patients: 200, observations: 20_000 }
    : { patients: 10_000, observations: 1_000_000 };
  const o = {
    connections: Number(arg(args, '--connections') ?? 32),
    seconds: opts.quick ? 1 : Number(arg(args, '--seconds') ?? 10),
    rounds: opts.quick ? 1 : Number(arg(args, '--rounds') ?? 3),
    cpuProf: arg(args, '--cpu-prof'),
    only: arg(args, '--only'), // read | search: one kind of request (for a profile of it alone)
  };
  const results: EngineResult[] = [];
  for (const e of engines) results.push(await measureEngine(e, size, o));
  const metrics: Metric[] = [];
  const rows: Array<Array<string | number>> = [];
  for (const r of results) {
    for (const [what, list] of [
      ['GET Patient/{id}', r.read],
      ['GET Observation?patient&code&_sort=-date&_count=50', r.search],
    ] as const) {
      if (list.length === 0) continue;
      metrics.push(
        metric(
          `${r.engine} ${what} throughput`,
          'req/s',
          list.map((x) => x.rps),
          'higher',
        ),
        metric(
          `${r.engine} ${what} latency p99`,
          'ms',
          list.map((x) => x.p99Ms),
        ),
        metric(
          `${r.engine} ${what} server CPU per request`,
          'µs',
          list.map((x) => x.serverCpuUsPerReq),
        ),
      );
      rows.push([
        r.engine,
        what,
        Math.round(median(list.map((x) => x.rps))),
        median(list.map((x) => x.p50Ms)).toFixed(2),
        median(list.map((x) => x.p99Ms)).toFixed(2),
        Math.round(median(list.map((x) => x.serverCpuUsPerReq))),
        list.reduce((a, x) => a + x.errors, 0),
        median(list.map((x) => x.load1)).toFixed(1),
      ]);
    }
  }
  const table: Table = {
    title: `FHIR R4 API: ${size.patients.toLocaleString('en')} patients, ${size.observations.toLocaleString('en')} observations, ${o.connections} connections`,
    columns: ['engine', 'request', 'req/s', 'p50 ms', 'p99 ms', 'server CPU µs/req', 'errors', 'load avg'],
    rows,
  };
  return {
    title: 'FHIR R4 API',
    description:
      `Authenticated reads and searches by a clinician (care-team check and one audit append per request) against ${size.patients.toLocaleString('en')} patients and ` +
      `${size.observations.toLocaleString('en')} observations; wrk (1 thread, ${o.connections} connections, random patient per request, Lua) against \`carewire serve\` in its own process; ` +
      `median of ${o.rounds} rounds of ${o.seconds} s after a warm-up.`,
    metrics,
    tables: [table],
    details: { size, options: o, results },
  };
}
