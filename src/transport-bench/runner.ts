/**
 * Runs a whole transport benchmark: starts (or reaches) the bench server, measures ping-pong round
 * trips per protocol and size, sockperf at the same sizes, connection set-up costs and the UDP
 * rate sweep, one after the other so no two measurements compete for the cores, and returns the
 * report. Writing files and printing is left to the caller (the CLI, bench/transport.ts).
 */
import { type ChildProcess, fork, spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { ControlClient } from './control-client.ts';
import { machineInfo } from './machine.ts';
import { prewarmFor, type TransportBenchOptions, warmupFor } from './options.ts';
import { type Protocol, pingPong } from './pingpong.ts';
import { type CpuPlan, localCpuPlan, pinProcess } from './pinning.ts';
import { ProgressBar } from './progress.ts';
import { MAX_UDP_PAYLOAD, type ServerInfo } from './protocol.ts';
import {
  type Comparison,
  formatBytes,
  formatUs,
  REPORT_FORMAT,
  type RttSeries,
  type SetupSeries,
  type TransportReport,
} from './report.ts';
import { measureSetup, SETUP_KINDS, SETUP_LABELS, type SetupKind } from './setup.ts';
import { runSockperfPingPong, SOCKPERF_MAX_SIZE, SOCKPERF_MIN_SIZE, sockperfVersion } from './sockperf.ts';
import { cdf, summarize } from './stats.ts';
import { udpSweep } from './udp-sweep.ts';

export interface RunHooks {
  /** Where the progress bar (or, off a terminal, progress lines) goes; null for silence. */
  progress?: NodeJS.WriteStream | null;
}

interface LocalServer {
  controlPort: number;
  stop(): Promise<void>;
}

async function startLocalServer(cpu: number | null, sockperf: boolean): Promise<LocalServer> {
  const entry = fileURLToPath(new URL('./server-process.ts', import.meta.url));
  // execArgv: [] so a parent's loader flags (a test runner's, say) do not leak into the server.
  const child: ChildProcess = fork(
    entry,
    [cpu === null ? '-' : String(cpu), sockperf ? 'sockperf' : 'no-sockperf'],
    {
      execArgv: [],
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    },
  );
  const controlPort = await new Promise<number>((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill();
      reject(new Error('the local bench server did not start within 20 s'));
    }, 20_000);
    child.once('message', (m: unknown) => {
      clearTimeout(timer);
      resolve((m as { controlPort: number }).controlPort);
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`the local bench server exited with code ${code} before it was ready`));
    });
  });
  child.removeAllListeners('exit');
  return {
    controlPort,
    stop: () =>
      new Promise((resolve) => {
        if (child.exitCode !== null || child.signalCode !== null) {
          resolve();
          return;
        }
        const timer = setTimeout(() => child.kill('SIGKILL'), 3000);
        child.once('exit', () => {
          clearTimeout(timer);
          resolve();
        });
        child.disconnect();
      }),
  };
}

function setupKindsFor(protocols: Protocol[]): SetupKind[] {
  const want = new Set<SetupKind>();
  if (protocols.includes('tcp') || protocols.includes('tcp-nagle')) want.add('tcp-connect');
  if (protocols.includes('tls')) {
    want.add('tls-full');
    want.add('tls-resumed');
  }
  if (protocols.includes('ws')) want.add('ws-upgrade');
  if (protocols.includes('http')) want.add('http-new-connection');
  return SETUP_KINDS.filter((k) => want.has(k));
}

function sockperfState(
  opts: TransportBenchOptions,
  info: ServerInfo,
): { version: string } | { skipped: string } {
  if (!opts.sockperf) return { skipped: 'turned off (--no-sockperf)' };
  const local = sockperfVersion();
  if (local === null)
    return { skipped: 'sockperf is not installed here (Debian/Ubuntu: apt-get install sockperf)' };
  if (!info.sockperf) return { skipped: 'sockperf is not installed on the bench server' };
  return { version: local };
}

/** Pins this process to the client core; returns how to give it all its cores back afterwards. */
function pinForRun(plan: CpuPlan | null): () => void {
  if (!plan) return () => {};
  const r = spawnSync('taskset', ['-p', String(process.pid)], { encoding: 'utf8' });
  const mask = /mask:\s*([0-9a-f,]+)/i.exec(r.stdout ?? '')?.[1];
  pinProcess(process.pid, plan.client);
  return () => {
    if (mask) spawnSync('taskset', ['-a', '-p', mask, String(process.pid)], { stdio: 'ignore' });
  };
}

export async function runTransportBench(
  opts: TransportBenchOptions,
  hooks: RunHooks = {},
): Promise<TransportReport> {
  const started = performance.now();
  const client = machineInfo();
  const plan = opts.peer === null ? localCpuPlan(opts.pin) : null;
  const host = opts.peer ?? '127.0.0.1';
  const local = opts.peer === null ? await startLocalServer(plan?.server ?? null, opts.sockperf) : null;
  const restore = pinForRun(plan);
  let control: ControlClient | null = null;
  try {
    control = await ControlClient.connect(host, local?.controlPort ?? opts.peerPort);
    const info = await control.hello();
    const sockperf = sockperfState(opts, info);
    const warmup = warmupFor(opts.messages);
    const notes: string[] = [];
    const setupKinds = setupKindsFor(opts.protocols);
    const sockperfProtocols = (['udp', 'tcp'] as const).filter((p) => opts.protocols.includes(p));
    const sockperfSizes = opts.sizes.filter((s) => s >= SOCKPERF_MIN_SIZE && s <= SOCKPERF_MAX_SIZE);
    const sweeping = opts.sweep && opts.protocols.includes('udp');

    const sockperfUnits = opts.messages; // one sockperf run weighs about as much as one of ours
    const total =
      opts.protocols.length * prewarmFor(opts.messages) +
      opts.sizes.length * opts.protocols.length * (opts.messages + warmup) +
      ('version' in sockperf ? sockperfSizes.length * sockperfProtocols.length * sockperfUnits : 0) +
      setupKinds.length * opts.connections +
      (sweeping ? opts.messages : 0);
    const bar = new ProgressBar({ total, stream: hooks.progress ?? null });

    // Warm both ends once per protocol before anything is measured: V8 optimises the client's and
    // the server's send and receive paths only after a few thousand calls. Measured: without this,
    // the first series of each protocol came out 15–25 % slower than the same series repeated.
    const prewarm = prewarmFor(opts.messages);
    for (const protocol of opts.protocols) {
      bar.phase(`warming up ${protocol}`);
      await pingPong({ host, info, protocol, size: opts.sizes[0]!, messages: 1, warmup: prewarm });
      bar.advance(prewarm);
    }

    const rtt: RttSeries[] = [];
    const comparison: Comparison[] = [];
    for (const size of opts.sizes) {
      for (const protocol of opts.protocols) {
        if (protocol === 'udp' && size > MAX_UDP_PAYLOAD) {
          notes.push(
            `udp ${formatBytes(size)} skipped: larger than one UDP datagram (${MAX_UDP_PAYLOAD} bytes)`,
          );
          bar.advance(opts.messages + warmup);
          continue;
        }
        bar.phase(`${protocol} ${formatBytes(size)} ping-pong`);
        const run = await pingPong({
          host,
          info,
          protocol,
          size,
          messages: opts.messages,
          warmup,
          onProgress: (n) => bar.advance(n),
        });
        const summary = summarize(run.rttUs);
        rtt.push({
          source: 'node',
          protocol,
          size,
          summary,
          lost: run.lost,
          perSecond: opts.messages / run.seconds,
          cdf: cdf(run.rttUs),
        });
        bar.finishPhase(`p50 ${formatUs(summary.p50)}, p99 ${formatUs(summary.p99)}`);
      }
      if (!('version' in sockperf) || !sockperfSizes.includes(size)) continue;
      for (const protocol of sockperfProtocols) {
        bar.phase(`sockperf ${protocol} ${formatBytes(size)}`);
        const port = protocol === 'udp' ? info.sockperf!.udpPort : info.sockperf!.tcpPort;
        const sp = await runSockperfPingPong({
          host,
          port,
          tcp: protocol === 'tcp',
          size,
          seconds: opts.sockperfSeconds,
          cpu: plan?.client ?? null,
        });
        const summary = summarize(sp.rttUs);
        rtt.push({
          source: 'sockperf',
          protocol,
          size,
          summary,
          lost: sp.dropped,
          perSecond: 1e6 / summary.mean,
          cdf: cdf(sp.rttUs),
        });
        const node = rtt.find((s) => s.source === 'node' && s.protocol === protocol && s.size === size);
        if (node) {
          comparison.push({
            protocol,
            size,
            nodeP50: node.summary.p50,
            sockperfP50: summary.p50,
            ratio: node.summary.p50 / summary.p50,
          });
        }
        bar.advance(sockperfUnits);
        bar.finishPhase(`p50 ${formatUs(summary.p50)} (${sp.rttUs.length} round trips)`);
      }
    }

    const setup: SetupSeries[] = [];
    for (const kind of setupKinds) {
      bar.phase(SETUP_LABELS[kind]);
      const run = await measureSetup({
        host,
        info,
        kind,
        count: opts.connections,
        warmup: Math.min(10, Math.max(2, Math.round(opts.connections / 20))),
        onProgress: (n) => bar.advance(n),
      });
      const summary = summarize(run.us);
      const s: SetupSeries = { kind, label: SETUP_LABELS[kind], summary };
      if (kind === 'tls-resumed') s.resumedShare = run.resumed / opts.connections;
      setup.push(s);
      bar.finishPhase(`p50 ${formatUs(summary.p50)}`);
    }

    let sweep: TransportReport['udpSweep'] = null;
    if (sweeping) {
      bar.phase('UDP at rising rates');
      const steps = Math.log2(opts.sweepMaxRate / 10_000) + 1;
      sweep = await udpSweep({
        host,
        port: info.ports.sink,
        control,
        size: 64,
        seconds: opts.sweepSeconds,
        startRate: 10_000,
        maxRate: opts.sweepMaxRate,
        lossThreshold: 0.001,
        onStep: () => bar.advance(opts.messages / steps),
      });
      bar.finishPhase(
        sweep.lossAtRate !== null
          ? `loss from ${sweep.lossAtRate}/s`
          : sweep.senderLimited
            ? 'sender-limited before any loss'
            : 'no loss',
      );
    } else if (opts.sweep) {
      sweep = { skipped: 'udp not among --protocols' };
    }
    bar.end();

    return {
      format: REPORT_FORMAT,
      date: new Date().toISOString(),
      durationSeconds: Math.round((performance.now() - started) / 100) / 10,
      options: {
        messages: opts.messages,
        warmup,
        sizes: opts.sizes,
        protocols: opts.protocols,
        connections: opts.connections,
        peer: opts.peer === null ? 'local child process' : `${opts.peer}:${opts.peerPort}`,
        pin: opts.pin,
      },
      client,
      server: info.machine,
      pinned: plan,
      rtt,
      sockperf,
      comparison,
      setup,
      udpSweep: sweep,
      notes,
    };
  } finally {
    control?.close();
    restore();
    await local?.stop();
  }
}
