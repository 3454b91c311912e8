/**
 * Telemetry benchmark: vitals datagrams/s received, verified and stored; loss; send → bus
 * publish latency; alarm frame → ACK latency at 1,000 alarms/s.
 *
 * The server runs in this process (so a bus subscriber here sees the live `vitals` messages, as
 * the dashboard would) on the embedded SQLite store in a temporary folder on the real disk
 * (synchronous=FULL). A separate sender process (this file with --sender) plays 1,000 devices:
 * it signs its datagrams before the clock starts (a real monitor signs one a second; signing
 * 50,000/s in the sender would measure the sender), then sends them paced at the target rate on
 * one UDP socket. Every 100th sequence number is timestamped on both sides (performance.timeOrigin
 * + now: one clock on one machine) for the latency. Alarm frames go from the sender over 10 TCP
 * connections (100 alarms/s each, raised then ended), raw frames, each timed to its ACK: first with
 * each device on its own phase (frames arrive evenly, as from independent monitors), then with all
 * ten in lockstep (a burst of ten every 10 ms, the worst case), then staggered under vitals load.
 *
 *   npm run bench -- telemetry                 full run (3 rounds of 10 s at 50,000/s, alarms alone and under load)
 *   npm run bench -- telemetry --rate 70000    another vitals rate
 *   npm run bench -- telemetry --quick         tiny run, for tests
 */
import { type ChildProcess, fork } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import dgram from 'node:dgram';
import { mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import { cpus, loadavg, tmpdir } from 'node:os';
import path from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { type RunningApp, startApp } from '../src/app.ts';
import { loadConfig } from '../src/config.ts';
import {
  type AlarmChannelFrame,
  AlarmFrameDecoder,
  encodeFrame,
  helloMac,
} from '../src/telemetry/alarm-frame.ts';
import { encodeDatagram, importDeviceKey } from '../src/telemetry/datagram.ts';
import { loadOrCreateKek, sealDeviceKey } from '../src/telemetry/device-keys.ts';
import { metric } from './lib/measure.ts';
import type { BenchOptions, BenchResult } from './lib/types.ts';

const now = () => performance.timeOrigin + performance.now();

function quantile(sorted: number[], q: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))]!;
}

// ───────────────────────────── sender process ─────────────────────────────

interface VitalsJob {
  kind: 'vitals';
  port: number;
  devices: Array<{ id: string; key: string }>;
  rate: number;
  seconds: number;
  /** First sequence number per device for this round. */
  seqBase: number;
  /** Sequence numbers divisible by this are timed end to end. */
  sampleEvery: number;
}
interface AlarmJob {
  kind: 'alarms';
  port: number;
  devices: Array<{ id: string; key: string }>;
  rate: number;
  seconds: number;
  round: number;
  /**
   * `staggered`: each device sends on its own phase, so frames arrive evenly (as from independent
   * monitors). `lockstep`: every device sends at the same instant, a burst of one frame per device
   * every 1/(rate per device) s: the worst case, where the last frame of a burst waits for the rest.
   */
  pattern: 'staggered' | 'lockstep';
}
type Job = VitalsJob | AlarmJob;
interface AlarmRun {
  sent: number;
  latencies: number[];
  naks: number;
  lost: number;
}

async function senderVitals(job: VitalsJob): Promise<unknown> {
  const keys = job.devices.map((d) => importDeviceKey(Buffer.from(d.key, 'base64url')));
  const total = Math.round(job.rate * job.seconds);
  const n = job.devices.length;
  const bufs: Buffer[] = new Array(total);
  const measurementsFor = (i: number) => [
    { code: 1, value: 72 + (i % 7) },
    { code: 2, value: 71 },
    { code: 3, value: 16 },
    { code: 4, value: 97 },
    { code: 5, value: 36.8 },
    { code: 6, value: 121 },
    { code: 7, value: 79 },
  ];
  // Each datagram carries the time it is planned to be sent (the receiver refuses timestamps more
  // than 30 s off): estimate how long signing takes, plan the start after it, then sign them all.
  const probe = Math.min(total, 2000);
  const e0 = performance.now();
  for (let i = 0; i < probe; i++)
    encodeDatagram(
      { deviceId: job.devices[i % n]!.id, sequence: 1, timestamp: 1, measurements: measurementsFor(i) },
      keys[i % n]!,
    );
  const perDatagramMs = (performance.now() - e0) / Math.max(1, probe);
  const startAt = Date.now() + Math.ceil(perDatagramMs * total * 1.3) + 500;
  for (let i = 0; i < total; i++) {
    const d = i % n;
    bufs[i] = encodeDatagram(
      {
        deviceId: job.devices[d]!.id,
        sequence: job.seqBase + Math.floor(i / n),
        timestamp: startAt + Math.floor((i * 1000) / job.rate),
        measurements: measurementsFor(i),
      },
      keys[d]!,
    );
  }
  while (Date.now() < startAt) await new Promise((r) => setTimeout(r, Math.min(50, startAt - Date.now())));
  process.send?.({ started: true });
  const sock = dgram.createSocket({ type: 'udp4', sendBufferSize: 4 * 1024 * 1024 });
  await new Promise<void>((r) => sock.connect(job.port, '127.0.0.1', r));
  const sentAt: Array<[string, number, number]> = [];
  const t0 = now();
  let i = 0;
  let maxBurst = 0;
  let maxBurstAt = 0;
  await new Promise<void>((resolve) => {
    const tick = () => {
      const due = Math.min(total, Math.floor(((now() - t0) / 1000) * job.rate));
      if (due - i > maxBurst) {
        maxBurst = due - i;
        maxBurstAt = now() - t0;
      }
      for (; i < due; i++) {
        const d = i % n;
        const seq = job.seqBase + Math.floor(i / n);
        if (seq % job.sampleEvery === 0) sentAt.push([job.devices[d]!.id, seq, now()]);
        sock.send(bufs[i]!);
      }
      // Sleep until the next millisecond's datagrams are due: re-checking at once (setImmediate)
      // spun the sender at 88 % of a core, which the server on the same 2 cores then lacked
      // (measured with top -H). Bursts of rate/1000 datagrams are far below the receive buffer.
      if (i >= total) resolve();
      else setTimeout(tick, 1);
    };
    tick();
  });
  const seconds = (now() - t0) / 1000;
  await new Promise((r) => setTimeout(r, 50));
  sock.close();
  process.stderr.write(`sender: largest burst ${maxBurst} datagrams at ${maxBurstAt.toFixed(0)} ms\n`);
  return { sent: total, seconds, sentAt };
}

async function senderAlarms(job: AlarmJob): Promise<unknown> {
  const latencies: number[] = [];
  let naks = 0;
  const conns = await Promise.all(
    job.devices.map(async (dev) => {
      const s = net.connect({ host: '127.0.0.1', port: job.port });
      s.setNoDelay(true);
      const dec = new AlarmFrameDecoder();
      const pending = new Map<string, number>();
      let welcome: () => void = () => {};
      const ready = new Promise<void>((r) => {
        welcome = r;
      });
      const key = importDeviceKey(Buffer.from(dev.key, 'base64url'));
      s.on('data', (c: Buffer) => {
        for (const ev of dec.push(c)) {
          if (!ev.ok) continue;
          const f = ev.frame;
          if (f.type === 'challenge') {
            const clientTime = Date.now();
            const hello: AlarmChannelFrame = {
              type: 'hello',
              protocol: 1,
              deviceId: dev.id,
              clientTime,
              mac: helloMac(key, dev.id, f.nonce, clientTime),
            };
            s.write(encodeFrame(hello));
          } else if (f.type === 'welcome') welcome();
          else if (f.type === 'ack' || f.type === 'nak') {
            const k = `${f.alarmId}/${f.event}`;
            const t = pending.get(k);
            if (t !== undefined) {
              pending.delete(k);
              if (f.type === 'ack') latencies.push(now() - t);
              else naks++;
            }
          }
        }
      });
      await ready;
      return { s, pending };
    }),
  );
  const perConn = job.rate / conns.length;
  const total = Math.round(perConn * job.seconds);
  const t0 = now();
  const sentBy = conns.map(() => 0);
  await new Promise<void>((resolve) => {
    const tick = () => {
      const elapsed = ((now() - t0) / 1000) * perConn;
      for (const [c, { s, pending }] of conns.entries()) {
        const phase = job.pattern === 'staggered' ? c / conns.length : 0;
        const due = Math.min(total, Math.floor(elapsed + 1 - phase));
        for (; sentBy[c]! < due; sentBy[c]!++) {
          const sent = sentBy[c]!;
          const alarmId = `r${job.round}-c${c}-${Math.floor(sent / 2)}`;
          const event = sent % 2 === 0 ? 'raised' : 'ended';
          const frame = encodeFrame({
            type: 'alarm',
            alarm: {
              alarmId,
              event,
              kind: 'sensor-off',
              category: 'technical',
              priority: 'medium',
              time: Date.now(),
              text: 'SpO2 sensor off',
            },
          });
          pending.set(`${alarmId}/${event}`, now());
          s.write(frame);
        }
      }
      if (sentBy.every((n) => n >= total)) resolve();
      else setTimeout(tick, 1);
    };
    tick();
  });
  const end = Date.now() + 5000;
  while (conns.some((c) => c.pending.size > 0) && Date.now() < end)
    await new Promise((r) => setTimeout(r, 10));
  const lost = conns.reduce((a, c) => a + c.pending.size, 0);
  for (const c of conns) c.s.destroy();
  return { sent: total * conns.length, latencies, naks, lost };
}

interface Round {
  warmup: boolean;
  sent: number;
  sendRate: number;
  received: number;
  accepted: number;
  stored: number;
  storedRate: number;
  lossPct: number;
  p50: number;
  p99: number;
  serverCpuUsPerDatagram: number;
  load1: number;
}

async function senderMain(): Promise<void> {
  process.on('message', (job: Job) => {
    const p = job.kind === 'vitals' ? senderVitals(job) : senderAlarms(job);
    p.then(
      (r) => process.send?.({ ok: true, result: r }),
      (err: unknown) => process.send?.({ ok: false, error: String(err) }),
    );
  });
  process.send?.({ ready: true });
}

// ───────────────────────────── orchestrator ─────────────────────────────

/** Resolves (with the time) when a vitals sender has signed everything and starts sending. */
function startedSignal(child: ChildProcess): Promise<number> {
  return new Promise((resolve) => {
    const on = (m: { started?: boolean }) => {
      if (!m.started) return;
      child.off('message', on);
      resolve(now());
    };
    child.on('message', on);
  });
}

function ask<T>(child: ChildProcess, job: Job): Promise<T> {
  return new Promise((resolve, reject) => {
    const on = (m: { ok?: boolean; result?: T; error?: string }) => {
      if (m.ok === undefined) return;
      child.off('message', on);
      if (m.ok) resolve(m.result as T);
      else reject(new Error(m.error));
    };
    child.on('message', on);
    child.send(job);
  });
}

async function counter(app: RunningApp, name: string, labels: Record<string, string> = {}): Promise<number> {
  const text = await (await fetch(`${app.url}/metrics`)).text();
  for (const line of text.split('\n')) {
    const m = /^([a-zA-Z_:][\w:]*)(\{[^}]*\})?\s+(\S+)/.exec(line);
    if (!m || m[1] !== name) continue;
    const got: Record<string, string> = {};
    for (const kv of (m[2] ?? '').slice(1, -1).matchAll(/(\w+)="([^"]*)"/g)) got[kv[1]!] = kv[2]!;
    if (Object.entries(labels).every(([k, v]) => got[k] === v)) return Number(m[3]);
  }
  return 0;
}

function parseArgs(args: string[]): { rate?: number; seconds?: number; rounds?: number } {
  const out: { rate?: number; seconds?: number; rounds?: number } = {};
  for (let i = 0; i < args.length; i++) {
    const v = Number(args[i + 1]);
    if (args[i] === '--rate') out.rate = v;
    if (args[i] === '--seconds') out.seconds = v;
    if (args[i] === '--rounds') out.rounds = v;
  }
  return out;
}

export async function run(opts: BenchOptions): Promise<BenchResult> {
  const a = parseArgs(opts.args ?? []);
  const DEVICES = opts.quick ? 50 : 1000;
  const RATE = a.rate ?? (opts.quick ? 2000 : 50_000);
  const SECONDS = a.seconds ?? (opts.quick ? 1 : 10);
  const ROUNDS = a.rounds ?? (opts.quick ? 1 : 3);
  const WARMUP_SECONDS = opts.quick ? 0.5 : 3;
  const ALARM_RATE = opts.quick ? 100 : 1000;
  const SAMPLE = opts.quick ? 5 : 100;
  const ALARM_SECONDS = opts.quick ? 1 : 10;
  const data = mkdtempSync(path.join(tmpdir(), 'cw-bench-telemetry-'));
  const load = [loadavg()[0]!];
  const config = loadConfig(
    { data, port: '0', telemetryPort: '0', alarmPort: '0', logLevel: 'warn', rateLimit: '100000000' },
    {},
  );
  const app = await startApp(config);
  const sender = fork(import.meta.filename, ['--sender'], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  try {
    await new Promise<void>((r) => sender.once('message', () => r()));
    // 1,000 patients and devices, registered in one transaction (the setup is not measured).
    const kek = loadOrCreateKek(data);
    const devices = Array.from({ length: DEVICES }, (_, i) => ({
      id: `bench-${i}`,
      key: randomBytes(32).toString('base64url'),
    }));
    const t = Date.now();
    await app.services.store.db.transaction().execute(async (trx) => {
      for (let i = 0; i < DEVICES; i += 200) {
        const chunk = devices.slice(i, i + 200);
        await trx
          .insertInto('patients')
          .values(
            chunk.map((_d, j) => ({
              id: `p-${i + j}`,
              mrn: `BENCH-${i + j}`,
              given_name: 'Bench',
              family_name: String(i + j),
              sex: null,
              birth_date: null,
              ward: `W${(i + j) % 20}`,
              bed: String(i + j),
              created_at: t,
              updated_at: t,
            })),
          )
          .execute();
        await trx
          .insertInto('devices')
          .values(
            chunk.map((d, j) => ({
              id: d.id,
              key: sealDeviceKey(kek, d.id, Buffer.from(d.key, 'base64url')),
              patient_id: `p-${i + j}`,
              bed: String(i + j),
              description: 'bench',
              created_at: t,
              updated_at: t,
              disabled: 0,
            })),
          )
          .execute();
      }
    });
    await app.services.devices.load();

    // Live bus subscriber: time of delivery of every sampled (device, seq).
    const seenAt = new Map<string, number>();
    await app.services.bus.subscribe('vitals', (m: { samples: Array<{ deviceId: string; seq: number }> }) => {
      const t2 = now();
      for (const s of m.samples) if (s.seq % SAMPLE === 0) seenAt.set(`${s.deviceId}:${s.seq}`, t2);
    });

    let seqBase = 1;
    const vitalsRound = async (seconds: number, warmup: boolean): Promise<Round> => {
      const recv0 = await counter(app, 'carewire_telemetry_datagrams_total', { outcome: 'received' });
      const acc0 = await counter(app, 'carewire_telemetry_datagrams_total', { outcome: 'accepted' });
      await app.services.vitals.flush();
      const stored0 = app.services.vitals.stats.stored;
      const startedAt = startedSignal(sender);
      const pending = ask<{ sent: number; seconds: number; sentAt: Array<[string, number, number]> }>(
        sender,
        {
          kind: 'vitals',
          port: app.ports.telemetry!,
          devices,
          rate: RATE,
          seconds,
          seqBase,
          sampleEvery: SAMPLE,
        },
      );
      const t0 = await startedAt;
      const eld = monitorEventLoopDelay({ resolution: 5 });
      eld.enable();
      const commit0 = app.services.vitals.stats.commitMs;
      const cpu0 = process.cpuUsage();
      const res = await pending;
      seqBase += Math.ceil((RATE * seconds) / DEVICES) + 10;
      await app.services.vitals.flush();
      const elapsed = (now() - t0) / 1000;
      eld.disable();
      process.stderr.write(
        `event loop delay p50 ${(eld.percentile(50) / 1e6).toFixed(1)} ms p99 ${(eld.percentile(99) / 1e6).toFixed(1)} ms max ${(eld.max / 1e6).toFixed(0)} ms; vitals commit time ${(app.services.vitals.stats.commitMs - commit0).toFixed(0)} ms in ${app.services.vitals.stats.batches} batches\n`,
      );
      const cpu = process.cpuUsage(cpu0);
      const received =
        (await counter(app, 'carewire_telemetry_datagrams_total', { outcome: 'received' })) - recv0;
      const accepted =
        (await counter(app, 'carewire_telemetry_datagrams_total', { outcome: 'accepted' })) - acc0;
      const stored = app.services.vitals.stats.stored - stored0;
      const lat: number[] = [];
      for (const [dev, seq, ts] of res.sentAt) {
        const at = seenAt.get(`${dev}:${seq}`);
        if (at !== undefined) lat.push(at - ts);
      }
      lat.sort((x, y) => x - y);
      seenAt.clear();
      const r: Round = {
        warmup,
        sent: res.sent,
        sendRate: res.sent / res.seconds,
        received,
        accepted,
        stored,
        storedRate: stored / elapsed,
        lossPct: (100 * (res.sent - stored)) / res.sent,
        p50: quantile(lat, 0.5),
        p99: quantile(lat, 0.99),
        serverCpuUsPerDatagram: (cpu.user + cpu.system) / Math.max(1, stored),
        load1: loadavg()[0]!,
      };
      process.stderr.write(
        `vitals ${warmup ? 'warm-up' : 'round'}: sent ${r.sent} (${Math.round(r.sendRate)}/s), received ${r.received}, verified ${r.accepted}, stored ${r.stored} (${Math.round(r.storedRate)}/s), loss ${r.lossPct.toFixed(3)} %, publish p50 ${r.p50.toFixed(2)} ms p99 ${r.p99.toFixed(2)} ms, ${lat.length} timed, server CPU ${Math.round((100 * (cpu.user + cpu.system)) / 1e6 / elapsed)} % of a core, ${r.serverCpuUsPerDatagram.toFixed(1)} µs per stored datagram\n`,
      );
      return r;
    };

    // Alarm frames → ACK at 1,000/s over 10 connections, first alone (a fresh server with nothing
    // else to do: after the vitals rounds its WAL checkpointer would still be copying gigabytes),
    // then later under the vitals load.
    const alarmDevices = devices.slice(0, 10);
    const alarmRun = (round: number, seconds: number, pattern: AlarmJob['pattern']) =>
      ask<AlarmRun>(sender, {
        kind: 'alarms',
        port: app.ports.alarm!,
        devices: alarmDevices,
        rate: ALARM_RATE,
        seconds,
        round,
        pattern,
      });
    // Warm-up, as for vitals: the first frames on a fresh server compile the alarm path and
    // prepare its statements (tens of ms); shown as its own row, left out of the bar's numbers.
    const alarmsWarmup = await alarmRun(3, opts.quick ? 0.5 : 2, 'staggered');
    const alarmsAlone = await alarmRun(0, ALARM_SECONDS, 'staggered');
    const alarmsLockstep = await alarmRun(2, ALARM_SECONDS, 'lockstep');

    // A short round first lets the JIT settle and each device's state be created (1,000 devices
    // appearing within 20 ms); it is reported as its own row and left out of the bar's numbers.
    const rounds: Round[] = [await vitalsRound(WARMUP_SECONDS, true)];
    for (let r = 0; r < ROUNDS; r++) {
      rounds.push(await vitalsRound(SECONDS, false));
      load.push(loadavg()[0]!);
    }

    // Alarm frames under load: a second sender process streams vitals while the first sends alarms.
    const vitalsSender = fork(import.meta.filename, ['--sender'], {
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    await new Promise<void>((r) => vitalsSender.once('message', () => r()));
    const started = startedSignal(vitalsSender);
    const background = ask(vitalsSender, {
      kind: 'vitals',
      port: app.ports.telemetry!,
      devices: devices.slice(10),
      rate: RATE,
      seconds: ALARM_SECONDS + 4,
      seqBase,
      sampleEvery: SAMPLE,
    });
    await started; // the sender signs everything before it starts sending
    const alarmsLoaded = await alarmRun(1, ALARM_SECONDS, 'staggered');
    await background;
    vitalsSender.kill();
    load.push(loadavg()[0]!);
    const alone = [...alarmsAlone.latencies].sort((x, y) => x - y);
    const lockstep = [...alarmsLockstep.latencies].sort((x, y) => x - y);
    const warm = [...alarmsWarmup.latencies].sort((x, y) => x - y);
    const loaded = [...alarmsLoaded.latencies].sort((x, y) => x - y);
    const stats = app.services.alarms.stats;

    const measured = rounds.filter((r) => !r.warmup);
    const timedRounds = measured.filter((r) => Number.isFinite(r.p50) && Number.isFinite(r.p99));
    const med = (xs: number[]) => [...xs].sort((x, y) => x - y)[Math.floor(xs.length / 2)]!;
    const fmt = (x: number, d = 1) => x.toFixed(d);
    const alarmRow = (label: string, r: AlarmRun, sorted: number[]) => [
      label,
      r.sent,
      sorted.length,
      r.naks,
      r.lost,
      fmt(quantile(sorted, 0.5), 2),
      fmt(quantile(sorted, 0.99), 2),
      fmt(sorted.at(-1) ?? Number.NaN, 2),
    ];
    return {
      title: 'Telemetry: UDP vitals and TCP alarms',
      description:
        `${DEVICES} devices, vitals at ${RATE.toLocaleString('en')} datagrams/s for ${SECONDS} s × ${ROUNDS} rounds ` +
        `(server in this process on SQLite, sender in another); alarm frames at ${ALARM_RATE}/s over 10 connections, ` +
        `alone and under the vitals load. ${cpus().length} cores; 1-min load average during the run ${load.map((l) => l.toFixed(1)).join(' → ')}.`,
      metrics: [
        metric(
          'vitals stored',
          'datagrams/s',
          measured.map((r) => r.storedRate),
          'higher',
        ),
        metric(
          'vitals loss',
          '%',
          measured.map((r) => r.lossPct),
        ),
        // A round where no timed datagram survived (heavy loss) has no latency to report.
        ...(timedRounds.length > 0
          ? [
              metric(
                'send → bus publish p50',
                'ms',
                timedRounds.map((r) => r.p50),
              ),
              metric(
                'send → bus publish p99',
                'ms',
                timedRounds.map((r) => r.p99),
              ),
            ]
          : []),
        metric(
          'server CPU per stored datagram',
          'µs',
          measured.map((r) => r.serverCpuUsPerDatagram),
        ),
        ...(alone.length > 0
          ? [
              metric('alarm frame → ACK p50', 'ms', [quantile(alone, 0.5)]),
              metric('alarm frame → ACK p99', 'ms', [quantile(alone, 0.99)]),
            ]
          : []),
        ...(lockstep.length > 0
          ? [metric('alarm frame → ACK p99, devices in lockstep', 'ms', [quantile(lockstep, 0.99)])]
          : []),
        ...(loaded.length > 0
          ? [metric('alarm frame → ACK p99 under vitals load', 'ms', [quantile(loaded, 0.99)])]
          : []),
      ],
      tables: [
        {
          title: 'Vitals (UDP), per round',
          columns: [
            'round',
            'sent/s',
            'received',
            'verified',
            'stored',
            'stored/s',
            'loss %',
            'publish p50 ms',
            'p99 ms',
            'server µs/dgram',
            'load',
          ],
          rows: rounds.map((r, i) => [
            r.warmup ? 'warm-up' : i,
            Math.round(r.sendRate),
            r.received,
            r.accepted,
            r.stored,
            Math.round(r.storedRate),
            fmt(r.lossPct, 3),
            fmt(r.p50, 2),
            fmt(r.p99, 2),
            fmt(r.serverCpuUsPerDatagram, 1),
            fmt(r.load1),
          ]),
        },
        {
          title: `Alarm frames (TCP) at ${ALARM_RATE}/s`,
          columns: ['condition', 'frames', 'ACKed', 'NAK', 'unanswered', 'p50 ms', 'p99 ms', 'max ms'],
          rows: [
            alarmRow('warm-up, staggered', alarmsWarmup, warm),
            alarmRow('alone, staggered', alarmsAlone, alone),
            alarmRow('alone, devices in lockstep', alarmsLockstep, lockstep),
            alarmRow(`with ${RATE.toLocaleString('en')} datagrams/s`, alarmsLoaded, loaded),
          ],
        },
      ],
      details: {
        rounds,
        medians: {
          storedRate: med(rounds.map((r) => r.storedRate)),
          lossPct: med(rounds.map((r) => r.lossPct)),
        },
        receiveBufferBytes: null,
        alarmService: stats,
        vitalsStore: app.services.vitals.stats,
        load,
      },
    };
  } finally {
    sender.kill();
    await app.stop();
    rmSync(data, { recursive: true, force: true });
  }
}

if (import.meta.main) {
  if (process.argv.includes('--sender')) await senderMain();
  else {
    const r = await run({ quick: process.argv.includes('--quick'), args: process.argv.slice(2) });
    for (const t of r.tables ?? [])
      console.log(t.title, '\n', t.columns.join(' | '), '\n', t.rows.map((x) => x.join(' | ')).join('\n '));
  }
}
