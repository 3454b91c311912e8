/**
 * Real-time benchmark (issue 5):
 *
 *  1. Fan-out: N Socket.IO clients (1,000, 5,000, 10,000), each subscribed to one ward, in a
 *     separate process speaking the Socket.IO protocol over `ws` (a light client, so the client
 *     process does not starve the server on a 2-core machine). The server publishes alarm events
 *     on the bus, stamped with a high-resolution wall-clock time; each client records arrival
 *     minus stamp: delivery latency from bus publish to client, p50/p99 over every delivery.
 *     Server RSS is sampled while every client is connected. Each size runs in a server process
 *     of its own, started with the server's V8 flags (bench/lib/carewire.ts), so its RSS is the
 *     server's alone and holds nothing left over from a previous size (measured in one shared
 *     process, 10,000 clients after 1,000 and 5,000 read 150-300 MB more).
 *  2. Device alarm to screen: 100 simulated patients at 1 Hz over UDP; alarm frames over the TCP
 *     alarm channel; Debian's Chromium shows the central station. Latency is from just before the
 *     frame is sent to the animation frame after the alarm row entered the page; main-thread busy
 *     is Chrome's TaskDuration over wall time (DevTools Performance metrics) during that phase.
 *  3. Bundle sizes: what the login page and the station load first, gzip -9.
 *
 *   npm run bench -- realtime                   1,000 / 5,000 / 10,000 clients, dashboard, bundles
 *   npm run bench -- realtime --clients 1000    fan-out sizes to run (comma-separated)
 *   npm run bench -- realtime --no-dashboard    fan-out and bundles only (no Chromium)
 *   npm run bench -- realtime --no-floor        without the bare-ws floor (see `floor` below)
 *   npm run bench -- realtime --no-fanout       dashboard and bundles only
 *   npm run bench -- realtime --quick           tiny sizes (tests)
 *
 * The machine's load average is recorded with the results: other work on a 2-core machine moves
 * the latencies more than anything measured here.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:http';
import { loadavg, tmpdir } from 'node:os';
import path from 'node:path';
import { gzipSync } from 'node:zlib';
import WebSocket, { WebSocketServer } from 'ws';
import { type RunningApp, startApp } from '../src/app.ts';
import { loadConfig } from '../src/config.ts';
import { provisionLocal } from '../src/simulate/provision.ts';
import { Simulator } from '../src/simulate/simulator.ts';
import { AlarmClient } from '../src/telemetry/alarm-client.ts';
import { importDeviceKey } from '../src/telemetry/datagram.ts';
import { SERVER_NODE_FLAGS } from './lib/carewire.ts';
import { metric } from './lib/measure.ts';
import type { BenchOptions, BenchResult, Metric, Table } from './lib/types.ts';

const ROOT = path.resolve(import.meta.dirname, '..');
const PASSWORD = 'benchmark password 1';
const hiResNow = () => performance.timeOrigin + performance.now();

function quantile(sorted: number[], q: number): number {
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1));
  return sorted[i] ?? Number.NaN;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const mb = (bytes: number) => Math.round(bytes / 1048576);

async function startServer(): Promise<{ app: RunningApp; dir: string }> {
  const dir = mkdtempSync(path.join(tmpdir(), 'cw-bench-rt-'));
  const config = loadConfig(
    {
      data: dir,
      port: '0',
      telemetryPort: '0',
      alarmPort: '0',
      hl7Port: '0',
      logLevel: 'warn',
      rateLimit: '100000000',
      loginRateLimit: '100000000',
    },
    {},
  );
  return { app: await startApp(config), dir };
}

async function loginToken(url: string, username: string): Promise<string> {
  const res = await fetch(`${url}/api/auth/login`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ username, password: PASSWORD }),
  });
  if (res.status !== 200) throw new Error(`login failed: ${res.status}`);
  return ((await res.json()) as { accessToken: string }).accessToken;
}

// ───────────────────────────── 1. fan-out ─────────────────────────────

interface WorkerSpec {
  url: string;
  token: string;
  clients: number;
  ward: string;
  concurrency: number;
}

type WorkerMsg =
  | { kind: 'connected'; clients: number; failed: number; ms: number }
  | { kind: 'latencies'; values: number[]; received: number };

/** The client process: N sockets speaking Engine.IO 4 / Socket.IO 5 over ws. */
async function clientWorker(spec: WorkerSpec): Promise<void> {
  const send = (m: WorkerMsg) => process.send!(m);
  const wsUrl = `${spec.url.replace(/^http/, 'ws')}/socket.io/?EIO=4&transport=websocket`;
  const latencies: number[] = [];
  let recording = false;
  let received = 0;
  const sockets: WebSocket[] = [];
  const subscribe = `420${JSON.stringify(['subscribe', { sub: { scope: 'ward', ward: spec.ward }, vitalsHistory: false }])}`;
  const connectPacket = `40${JSON.stringify({ token: spec.token })}`;
  const open = () =>
    new Promise<void>((resolve, reject) => {
      const ws = new WebSocket(wsUrl, { perMessageDeflate: false });
      let ready = false;
      ws.on('message', (data) => {
        const s = data.toString();
        if (s === '2') ws.send('3');
        else if (s.startsWith('42["alarm"')) {
          const t = hiResNow();
          received++;
          if (!recording) return;
          // Cheaper than JSON.parse for 10,000 sockets: read the "at" stamp only.
          const i = s.indexOf('"at":');
          latencies.push(t - Number.parseFloat(s.slice(i + 5, i + 40)));
        } else if (!ready) {
          if (s.startsWith('0{')) ws.send(connectPacket);
          else if (s.startsWith('40')) ws.send(subscribe);
          else if (s.startsWith('430')) {
            ready = true;
            if (s.includes('"ok":true')) resolve();
            else reject(new Error(`subscribe refused: ${s.slice(0, 200)}`));
          } else if (s.startsWith('44')) reject(new Error(`connect refused: ${s.slice(0, 200)}`));
        }
      });
      ws.on('error', reject);
      sockets.push(ws);
    });
  const t0 = performance.now();
  let failed = 0;
  let next = 0;
  await Promise.all(
    Array.from({ length: spec.concurrency }, async () => {
      while (next < spec.clients) {
        next++;
        await open().catch(() => failed++);
      }
    }),
  );
  send({ kind: 'connected', clients: spec.clients - failed, failed, ms: performance.now() - t0 });
  process.on('message', (m: { cmd: string }) => {
    if (m.cmd === 'record') {
      recording = true;
      latencies.length = 0;
      received = 0;
    } else if (m.cmd === 'report') {
      recording = false;
      send({ kind: 'latencies', values: latencies, received });
    } else if (m.cmd === 'exit') {
      for (const ws of sockets) ws.terminate();
      process.exit(0);
    }
  });
}

function spawnWorker(spec: WorkerSpec): { child: ChildProcess; next: () => Promise<WorkerMsg> } {
  const child = spawn(
    process.execPath,
    ['--max-old-space-size=4096', import.meta.filename, '--clients-worker', JSON.stringify(spec)],
    {
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    },
  );
  const queue: WorkerMsg[] = [];
  const waiting: Array<(m: WorkerMsg) => void> = [];
  child.on('message', (m: WorkerMsg) => {
    const w = waiting.shift();
    if (w) w(m);
    else queue.push(m);
  });
  return {
    child,
    next: () =>
      new Promise((resolve, reject) => {
        const q = queue.shift();
        if (q) return resolve(q);
        waiting.push(resolve);
        child.once('exit', (code) => reject(new Error(`client process exited ${code}`)));
      }),
  };
}

interface FanoutRow {
  server: string;
  clients: number;
  connected: number;
  connectS: number;
  eventsPerS: number;
  deliveries: number;
  expected: number;
  p50: number;
  p99: number;
  max: number;
  rssMb: number;
  load: number;
}

/** One fan-out size in a fresh server process (see the top of this file). */
function fanoutInOwnProcess(clients: number, quick: boolean, bare = false): Promise<FanoutRow> {
  const child = spawn(
    process.execPath,
    [...SERVER_NODE_FLAGS, import.meta.filename, '--fanout-server', JSON.stringify({ clients, quick, bare })],
    { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] },
  );
  return new Promise((resolve, reject) => {
    child.once('message', (row: FanoutRow) => resolve(row));
    child.once('exit', (code) => reject(new Error(`fan-out server process exited ${code}`)));
  });
}

/**
 * Connects the client process to `url`, publishes `eventsPerS` alarm events for 10 s through
 * `publish` (each stamped with the wall-clock time it was published) and collects the latencies.
 */
async function measureFanout(
  server: string,
  clients: number,
  quick: boolean,
  url: string,
  token: string,
  publish: (at: number, n: number) => Promise<void> | void,
): Promise<FanoutRow> {
  const w = spawnWorker({ url, token, clients, ward: 'BENCH', concurrency: Math.min(200, clients) });
  const conn = await w.next();
  if (conn.kind !== 'connected') throw new Error('unexpected worker message');
  await sleep(quick ? 200 : 2000); // let the subscription audit writes settle
  // About 20,000 deliveries a second whatever N: the client process has one core at most.
  const eventsPerS = quick ? 5 : Math.max(1, Math.min(20, Math.round(20_000 / clients)));
  const seconds = quick ? 1 : 10;
  w.child.send({ cmd: 'record' });
  let rss = process.memoryUsage().rss;
  let sent = 0;
  const period = 1000 / eventsPerS;
  const start = performance.now();
  while (performance.now() - start < seconds * 1000) {
    await publish(hiResNow(), sent);
    sent++;
    rss = Math.max(rss, process.memoryUsage().rss);
    const due = start + sent * period;
    await sleep(Math.max(0, due - performance.now()));
  }
  await sleep(quick ? 300 : 1500); // stragglers
  w.child.send({ cmd: 'report' });
  const rep = await w.next();
  if (rep.kind !== 'latencies') throw new Error('unexpected worker message');
  w.child.send({ cmd: 'exit' });
  const lat = rep.values.sort((a, b) => a - b);
  return {
    server,
    clients,
    connected: conn.clients,
    connectS: conn.ms / 1000,
    eventsPerS,
    deliveries: rep.received,
    expected: sent * conn.clients,
    p50: quantile(lat, 0.5),
    p99: quantile(lat, 0.99),
    max: lat.at(-1) ?? Number.NaN,
    rssMb: mb(rss),
    load: loadavg()[0]!,
  };
}

async function fanout(clients: number, quick: boolean): Promise<FanoutRow> {
  const { app, dir } = await startServer();
  try {
    const s = app.services;
    const user = await s.users.create({ username: 'bench', password: PASSWORD, role: 'clinician' });
    const patient = await s.patients.insert({
      mrn: 'B-1',
      givenName: 'Bench',
      familyName: 'Patient',
      ward: 'BENCH',
      bed: 'B1',
    });
    await s.careTeams.assignWard(user.id, 'BENCH');
    const token = await loginToken(app.url, 'bench');
    return await measureFanout('CareWire', clients, quick, app.url, token, (at, n) =>
      s.bus.publish('alarm', {
        type: 'raised',
        at,
        alarm: {
          id: `bench-${n}`,
          patientId: patient.id,
          kind: 'hr-high',
          priority: 'medium',
          state: 'active',
          text: 'bench',
          raisedAt: Math.floor(at),
        },
      }),
    );
  } finally {
    await app.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * The floor of this machine: a bare `ws` server with no Socket.IO, no authentication, no policy
 * and no audit, answering the client's handshake and subscription with canned packets and
 * broadcasting a pre-built frame by writing it to each socket directly. The same client process
 * reads it. What it measures is the kernel's loopback sends plus the client: no server can
 * deliver faster here.
 */
async function floor(clients: number, quick: boolean): Promise<FanoutRow> {
  const http = createServer();
  const wss = new WebSocketServer({ server: http, perMessageDeflate: false });
  wss.on('connection', (ws) => {
    ws.send('0{"sid":"floor","upgrades":[],"pingInterval":60000,"pingTimeout":60000,"maxPayload":65536}');
    ws.on('message', (d) => {
      const m = String(d);
      if (m.startsWith('40')) ws.send('40{"sid":"floor"}');
      else if (m.startsWith('420')) ws.send('430[{"ok":true}]');
    });
  });
  await new Promise<void>((r) => http.listen(0, '127.0.0.1', r));
  const { port } = http.address() as { port: number };
  try {
    return await measureFanout(
      'floor: bare ws, direct writes',
      clients,
      quick,
      `http://127.0.0.1:${port}`,
      'floor',
      (at, n) => {
        const payload = Buffer.from(
          `42${JSON.stringify(['alarm', { type: 'raised', at, alarm: { id: `bench-${n}`, kind: 'hr-high', priority: 'medium', state: 'active', text: 'bench' } }])}`,
        );
        const head =
          payload.length < 126
            ? Buffer.from([0x81, payload.length])
            : Buffer.from([0x81, 126, payload.length >> 8, payload.length & 0xff]);
        const frame = Buffer.concat([head, payload]);
        for (const ws of wss.clients)
          (ws as unknown as { _socket: { write(b: Buffer): boolean } })._socket.write(frame);
      },
    );
  } finally {
    for (const ws of wss.clients) ws.terminate();
    wss.close();
    http.close();
  }
}

// ───────────────────────────── 2. dashboard ─────────────────────────────

interface DashboardResult {
  patients: number;
  alarms: number;
  seen: number;
  p50: number;
  p99: number;
  max: number;
  busyPct: number;
  load: number;
  breakdown: Record<string, number>;
}

async function dashboard(quick: boolean): Promise<DashboardResult> {
  const { openBrowser, signIn } = await import('../test/web/browser.ts');
  const { ensureWebBuilt } = await import('../test/web/build.ts');
  await ensureWebBuilt();
  const patients = quick ? 10 : 100;
  const alarms = quick ? 4 : 60;
  const { app, dir } = await startServer();
  const s = app.services;
  const user = await s.users.create({ username: 'bench', password: PASSWORD, role: 'clinician' });
  await s.careTeams.assignWard(user.id, 'BENCH');
  const specs = Array.from({ length: patients }, (_, i) => ({
    deviceId: `bench-mon-${i}`,
    label: `B${i + 1}`,
    patient: {
      mrn: `B-${i}`,
      givenName: 'Bench',
      familyName: `Patient ${i + 1}`,
      ward: 'BENCH',
      bed: `B${i + 1}`,
    },
  }));
  const devices = await provisionLocal(s, specs, path.join(dir, 'keys.json'));
  const sim = new Simulator({
    devices,
    host: '127.0.0.1',
    telemetryPort: app.ports.telemetry!,
    alarmPort: app.ports.alarm!,
    rateHz: 1,
    noAlarms: true,
    journalDir: path.join(dir, 'journal'),
    seed: 1,
  });
  sim.start();
  const senders = devices.slice(0, Math.min(10, devices.length)).map((d) => {
    const c = new AlarmClient({
      host: '127.0.0.1',
      port: app.ports.alarm!,
      deviceId: d.deviceId,
      key: importDeviceKey(Buffer.from(d.key, 'base64url')),
      journal: path.join(dir, 'journal', `${d.deviceId}.alarms`),
      journalSync: 'none',
    });
    c.start();
    return c;
  });
  const browser = await openBrowser({ width: 1600, height: 1000 });
  try {
    const page = browser.page;
    await signIn(page, app.url, 'bench', PASSWORD);
    await page
      .locator('[data-testid="tile"]')
      .nth(patients - 1)
      .waitFor({ timeout: 60_000 });
    await page.locator('[data-testid="connection"][data-state="live"]').waitFor();
    // In-page code as a string (the bench is type-checked without the DOM library); evaluated
    // through DevTools, so the page's CSP (no eval) does not apply. Records, per bench alarm, the
    // animation frame after its row entered the page.
    await page.evaluate(`(() => {
      const seen = (window.__seen = {});
      new MutationObserver((records) => {
        for (const r of records)
          for (const n of r.addedNodes) {
            const m = /bench-(\\d+)/.exec(n.textContent ?? '');
            if (m && !(m[1] in seen)) {
              const key = m[1];
              requestAnimationFrame(() => { seen[key] = performance.timeOrigin + performance.now(); });
            }
          }
      }).observe(document.body, { childList: true, subtree: true });
    })()`);
    await sleep(quick ? 1000 : 5000); // warm-up: trends fill, JIT settles
    const cdp = await browser.context.newCDPSession(page);
    await cdp.send('Performance.enable');
    const perf = async () => {
      const { metrics } = (await cdp.send('Performance.getMetrics')) as {
        metrics: Array<{ name: string; value: number }>;
      };
      return Object.fromEntries(metrics.map((m) => [m.name, m.value])) as Record<string, number>;
    };
    const taskSeconds = async () => (await perf()).TaskDuration ?? 0;
    const perf0 = await perf();
    const busy0 = perf0.TaskDuration ?? 0;
    const wall0 = performance.now();
    const sentAt = new Map<string, number>();
    for (let i = 0; i < alarms; i++) {
      const client = senders[i % senders.length]!;
      const alarmId = `bench-${i}`;
      const base = {
        alarmId,
        kind: 'hr-high',
        category: 'physiological' as const,
        priority: 'medium' as const,
        text: `HR high bench-${i}`,
      };
      sentAt.set(String(i), hiResNow());
      await client.send({ ...base, event: 'raised', time: Date.now() });
      await sleep(250);
      await client.send({ ...base, event: 'ended', time: Date.now() });
      await sleep(quick ? 50 : 250);
    }
    await sleep(1000);
    const perf1 = await perf();
    const busy = (await taskSeconds()) - busy0;
    // Where the main thread's time went (s): script, style, layout; the rest is paint and other tasks.
    const breakdown = Object.fromEntries(
      ['TaskDuration', 'ScriptDuration', 'RecalcStyleDuration', 'LayoutDuration'].map((k) => [
        k,
        (perf1[k] ?? 0) - (perf0[k] ?? 0),
      ]),
    );
    const wall = (performance.now() - wall0) / 1000;
    const seen = (await page.evaluate('window.__seen')) as Record<string, number>;
    const lat = Object.entries(seen)
      .filter(([k]) => sentAt.has(k))
      .map(([k, t]) => t - sentAt.get(k)!)
      .sort((a, b) => a - b);
    return {
      patients,
      alarms,
      seen: lat.length,
      p50: quantile(lat, 0.5),
      p99: quantile(lat, 0.99),
      max: lat.at(-1) ?? Number.NaN,
      busyPct: (busy / wall) * 100,
      load: loadavg()[0]!,
      breakdown,
    };
  } finally {
    await browser.close();
    await Promise.all(senders.map((c) => c.stop()));
    await sim.stop();
    await app.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

// ───────────────────────────── 3. bundles ─────────────────────────────

interface BundleRow {
  page: string;
  files: number;
  rawKb: number;
  gzipKb: number;
}

/** What a page loads before it can show anything: its HTML, scripts, preloads and stylesheets. */
function firstLoad(page: string): BundleRow {
  const dist = path.join(ROOT, 'web/dist');
  const html = readFileSync(path.join(dist, page), 'utf8');
  const refs = [...html.matchAll(/(?:src|href)="(\/assets\/[^"]+)"/g)].map((m) => m[1]!);
  const files = [page, ...new Set(refs)];
  let raw = 0;
  let gz = 0;
  for (const f of files) {
    const buf = readFileSync(path.join(dist, f));
    raw += buf.length;
    gz += gzipSync(buf, { level: 9 }).length;
  }
  return { page, files: files.length, rawKb: raw / 1024, gzipKb: gz / 1024 };
}

function lazyChunk(prefix: string): BundleRow {
  const assets = path.join(ROOT, 'web/dist/assets');
  const files = existsSync(assets) ? readdirSync(assets).filter((f) => f.startsWith(prefix)) : [];
  let raw = 0;
  let gz = 0;
  for (const f of files) {
    const buf = readFileSync(path.join(assets, f));
    raw += buf.length;
    gz += gzipSync(buf, { level: 9 }).length;
  }
  return { page: `${prefix} (loaded on demand)`, files: files.length, rawKb: raw / 1024, gzipKb: gz / 1024 };
}

// ───────────────────────────── run ─────────────────────────────

export async function run(opts: BenchOptions): Promise<BenchResult> {
  const i = opts.args.indexOf('--clients');
  const sizes = opts.args.includes('--no-fanout')
    ? []
    : opts.quick
      ? [50]
      : i >= 0
        ? opts.args[i + 1]!.split(',').map((x) => Number(x.trim()))
        : [1000, 5000, 10_000];
  const skipDashboard = opts.args.includes('--no-dashboard');
  const loadBefore = loadavg()[0]!;
  const rows: FanoutRow[] = [];
  for (const n of sizes) {
    process.stderr.write(`realtime: ${n} clients…\n`);
    rows.push(await fanoutInOwnProcess(n, opts.quick));
  }
  // The floor at the first size, in the same run (the bar is at 1,000 clients).
  if (sizes.length > 0 && !opts.args.includes('--no-floor')) {
    process.stderr.write(`realtime: ${sizes[0]} clients, floor…\n`);
    rows.push(await fanoutInOwnProcess(sizes[0]!, opts.quick, true));
  }
  if (!skipDashboard) process.stderr.write('realtime: dashboard in Chromium…\n');
  const dash = skipDashboard ? undefined : await dashboard(opts.quick);
  const { ensureWebBuilt } = await import('../test/web/build.ts');
  await ensureWebBuilt();
  const bundles = [firstLoad('login.html'), firstLoad('index.html'), lazyChunk('patient-view')];
  const metrics: Metric[] = [];
  for (const r of rows) {
    const who = r.server === 'CareWire' ? '' : ' (floor)';
    metrics.push(metric(`${r.clients} clients${who}: delivery p50`, 'ms', [r.p50]));
    metrics.push(metric(`${r.clients} clients${who}: delivery p99`, 'ms', [r.p99]));
    metrics.push(metric(`${r.clients} clients${who}: server RSS`, 'MB', [r.rssMb]));
  }
  if (dash) {
    metrics.push(metric('device alarm → screen p50', 'ms', [dash.p50]));
    metrics.push(metric('device alarm → screen p99', 'ms', [dash.p99]));
    metrics.push(metric('dashboard main-thread busy', '%', [dash.busyPct]));
  }
  for (const b of bundles) metrics.push(metric(`${b.page} gzip`, 'KB', [b.gzipKb]));
  const f1 = (x: number) => x.toFixed(1);
  const tables: Table[] = [
    {
      title: 'Fan-out: bus publish → Socket.IO client (every client subscribed to one ward)',
      columns: [
        'server',
        'clients',
        'connected',
        'connect s',
        'events/s',
        'deliveries',
        'p50 ms',
        'p99 ms',
        'max ms',
        'server RSS MB',
        'load avg',
      ],
      rows: rows.map((r) => [
        r.server,
        r.clients,
        r.connected,
        f1(r.connectS),
        r.eventsPerS,
        `${r.deliveries}/${r.expected}`,
        f1(r.p50),
        f1(r.p99),
        f1(r.max),
        r.rssMb,
        f1(r.load),
      ]),
    },
    ...(dash
      ? [
          {
            title: `Device alarm (TCP frame) → visible in Chromium, ${dash.patients} patients at 1 Hz`,
            columns: ['alarms', 'seen', 'p50 ms', 'p99 ms', 'max ms', 'main-thread busy', 'load avg'],
            rows: [
              [
                dash.alarms,
                dash.seen,
                f1(dash.p50),
                f1(dash.p99),
                f1(dash.max),
                `${f1(dash.busyPct)} %`,
                f1(dash.load),
              ],
            ],
          },
        ]
      : []),
    {
      title: 'Web bundles, first load (HTML + scripts + styles)',
      columns: ['page', 'files', 'raw KB', 'gzip KB'],
      rows: bundles.map((b) => [b.page, b.files, f1(b.rawKb), f1(b.gzipKb)]),
    },
  ];
  return {
    title: 'Real-time core and web app',
    description:
      'Socket.IO fan-out latency and server memory by client count; device alarm to screen in Chromium; web bundle sizes.',
    metrics,
    tables,
    details: { rows, dashboard: dash, bundles, loadBefore, loadAfter: loadavg()[0] },
  };
}

if (import.meta.main) {
  const w = process.argv.indexOf('--clients-worker');
  const f = process.argv.indexOf('--fanout-server');
  if (w >= 0) await clientWorker(JSON.parse(process.argv[w + 1]!) as WorkerSpec);
  else if (f >= 0) {
    const { clients, quick, bare } = JSON.parse(process.argv[f + 1]!) as {
      clients: number;
      quick: boolean;
      bare: boolean;
    };
    const row = await (bare ? floor : fanout)(clients, quick);
    process.send!(row, () => process.exit(0));
  } else {
    const r = await run({ quick: process.argv.includes('--quick'), args: process.argv.slice(2) });
    for (const t of r.tables ?? []) console.log(t.title, '\n', JSON.stringify(t.rows));
    console.log(JSON.stringify((r.details as { dashboard?: unknown }).dashboard));
  }
}
