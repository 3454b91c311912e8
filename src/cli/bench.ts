/**
 * `carewire bench transport` (measure what UDP, TCP, TLS, WebSocket and HTTP cost per message and
 * per connection, beside sockperf when installed) and `carewire bench serve` (the far end, for
 * measuring between two machines). The benchmark modules load only when a command runs.
 */
import { type Command, Option } from 'commander';

interface TransportFlags {
  messages: string;
  sizes: string;
  protocols: string;
  connections?: string;
  json: string;
  plot: string;
  peer?: string;
  peerPort: string;
  pin: 'off' | 'split' | 'same';
  sockperf: boolean;
  sweep: boolean;
  progress: boolean;
}

interface ServeFlags {
  host: string;
  port: string;
  insecure?: boolean;
  sockperf: boolean;
}

function isLoopback(host: string): boolean {
  return host === 'localhost' || host === '::1' || /^127\.\d+\.\d+\.\d+$/.test(host);
}

async function transportAction(flags: TransportFlags, cmd: Command): Promise<void> {
  const o = await import('../transport-bench/options.ts');
  let opts: import('../transport-bench/options.ts').TransportBenchOptions;
  try {
    const messages = o.parseCount(flags.messages, '--messages');
    opts = o.defaultTransportOptions({
      messages,
      sizes: o.parseSizes(flags.sizes),
      protocols: o.parseProtocols(flags.protocols),
      connections: flags.connections
        ? o.parseCount(flags.connections, '--connections', 100_000)
        : o.defaultConnections(messages),
      peer: flags.peer ?? null,
      peerPort: o.parseCount(flags.peerPort, '--peer-port', 65_535),
      pin: flags.pin,
      sockperf: flags.sockperf,
      sweep: flags.sweep,
    });
  } catch (err) {
    cmd.error(`carewire bench transport: ${(err as Error).message}`, { exitCode: 2 });
  }
  const { runTransportBench } = await import('../transport-bench/runner.ts');
  const { reportTables } = await import('../transport-bench/report.ts');
  const { formatTable } = await import('../transport-bench/table.ts');
  const { writeTransportOutputs } = await import('../transport-bench/output.ts');

  const where = opts.peer ? `against ${opts.peer}:${opts.peerPort}` : 'against a local server process';
  process.stderr.write(`carewire bench transport: ${opts.messages} round trips per series, ${where}\n`);
  const report = await runTransportBench(opts, { progress: flags.progress ? process.stderr : null });
  for (const t of reportTables(report)) process.stdout.write(`\n${formatTable(t)}\n`);
  for (const n of report.notes) process.stdout.write(`note: ${n}\n`);
  if ('skipped' in report.sockperf) process.stdout.write(`\nsockperf: ${report.sockperf.skipped}\n`);
  const files = await writeTransportOutputs(report, { json: flags.json, plot: flags.plot });
  process.stdout.write(
    `\nfinished in ${report.durationSeconds} s\n  JSON  ${files.json}\n  SVG   ${files.svg}\n  PNG   ${files.png}\n`,
  );
}

async function serveAction(flags: ServeFlags, cmd: Command): Promise<void> {
  const port = Number(flags.port);
  if (!/^\d+$/.test(flags.port) || port > 65_535) {
    cmd.error(`carewire bench serve: --port must be 0..65535, got "${flags.port}"`, { exitCode: 2 });
  }
  if (!isLoopback(flags.host) && !flags.insecure) {
    // Unauthenticated echo servers (UDP among them) on a public address can be abused to reflect
    // traffic; like `carewire serve`, refuse unless the operator says they mean it.
    cmd.error(
      `carewire bench serve: refusing to listen on ${flags.host} without --insecure: the echo servers are unauthenticated. Use it only on a trusted network, and stop it when done.`,
      { exitCode: 2 },
    );
  }
  const { startBenchServer } = await import('../transport-bench/server.ts');
  const server = await startBenchServer({
    host: flags.host,
    controlPort: port,
    sockperf: flags.sockperf,
    sockperfCpu: null,
  });
  const p = server.info.ports;
  process.stdout.write(
    [
      `CareWire bench server on ${flags.host}, control port ${server.controlPort}`,
      `  echo ports: udp ${p.udp}, tcp ${p.tcp}, tls ${p.tls}, http+ws ${p.http}; udp sink ${p.sink}`,
      `  sockperf: ${server.info.sockperf ? `udp ${server.info.sockperf.udpPort}, tcp ${server.info.sockperf.tcpPort}` : 'not running'}`,
      `  from another machine: carewire bench transport --peer <this host> --peer-port ${server.controlPort}`,
      '',
    ].join('\n'),
  );
  const stop = (): void => {
    server.close().finally(() => process.exit(0));
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
}

export function registerBench(program: Command): void {
  const bench = program.command('bench').description('measure CareWire transports (see docs/transport.md)');

  bench
    .command('transport')
    .description(
      'round trips (ping-pong) and connection set-up for UDP, TCP, TLS 1.3, WebSocket and HTTP; UDP loss at rising rates; sockperf beside it when installed',
    )
    .option('--messages <n>', 'measured round trips per protocol and size', '2000')
    .option('--sizes <list>', 'message sizes in bytes (k = 1024)', '64,1024,16384')
    .option('--protocols <list>', 'udp, tcp, tls, ws, http, tcp-nagle (Nagle demo)', 'udp,tcp,tls,ws,http')
    .option('--connections <n>', 'connections per set-up measurement (default: messages/10, 10..200)')
    .option('--json <file>', 'where to write the full report', 'carewire-bench/transport.json')
    .option('--plot <file>', 'where to write the plot (.svg and .png)', 'carewire-bench/transport.svg')
    .option('--peer <host>', 'measure against `carewire bench serve` on this host instead of a local process')
    .option('--peer-port <port>', 'control port of the remote bench server', '7870')
    .addOption(
      new Option(
        '--pin <mode>',
        'local runs: unpinned (default), client and server on separate cores, or both on one core',
      )
        .choices(['off', 'split', 'same'])
        .default('off'),
    )
    .option('--no-sockperf', 'do not run sockperf even if it is installed')
    .option('--no-sweep', 'skip UDP at rising rates')
    .option('--no-progress', 'no progress bar')
    .action(async (flags: TransportFlags, cmd: Command) => transportAction(flags, cmd));

  bench
    .command('serve')
    .description('run the far end of `bench transport` (echo servers, sockperf servers) for --peer')
    .option('--host <address>', 'address to listen on', '127.0.0.1')
    .option('--port <port>', 'control port (the echo servers use free ports)', '7870')
    .option('--insecure', 'allow a non-loopback address (the echo servers are unauthenticated)')
    .option('--no-sockperf', 'do not start sockperf servers')
    .action(async (flags: ServeFlags, cmd: Command) => serveAction(flags, cmd));
}
