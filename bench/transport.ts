/**
 * Transport benchmark for the harness: the same measurement as `carewire bench transport`,
 * repeated `--runs` times (default 3) so each number is a median with its spread. Also writes the
 * last run's plot to bench/results/transport.svg and .png.
 *
 *   npm run bench -- transport [--runs N] [--messages N] [--sizes 64,1024] [--protocols udp,tcp]
 *                              [--pin off|split|same] [--no-sockperf]
 */
import path from 'node:path';
import { parseArgs } from 'node:util';
import {
  defaultConnections,
  defaultTransportOptions,
  parseCount,
  parseProtocols,
  parseSizes,
  type TransportBenchOptions,
} from '../src/transport-bench/options.ts';
import { PIN_MODES, type PinMode } from '../src/transport-bench/pinning.ts';
import { writePlots } from '../src/transport-bench/plot.ts';
import {
  formatBytes,
  reportTables,
  seriesName,
  type TransportReport,
} from '../src/transport-bench/report.ts';
import { runTransportBench } from '../src/transport-bench/runner.ts';
import { metric } from './lib/measure.ts';
import { DEFAULT_RESULTS_DIR } from './lib/results.ts';
import { metricsTable } from './lib/table.ts';
import type { BenchOptions, BenchResult, Metric } from './lib/types.ts';

function options(opts: BenchOptions): { runs: number; bench: TransportBenchOptions } {
  const { values } = parseArgs({
    args: opts.args,
    options: {
      runs: { type: 'string' },
      messages: { type: 'string' },
      sizes: { type: 'string' },
      protocols: { type: 'string' },
      pin: { type: 'string' },
      'no-sockperf': { type: 'boolean' },
    },
    strict: true,
  });
  const pin = (values.pin ?? 'off') as PinMode;
  if (!PIN_MODES.includes(pin)) throw new Error(`--pin must be one of ${PIN_MODES.join(', ')}`);
  const messages = values.messages ? parseCount(values.messages, '--messages') : opts.quick ? 50 : 2000;
  const over: Partial<TransportBenchOptions> = {
    messages,
    connections: opts.quick ? 5 : defaultConnections(messages),
    pin,
    // Quick mode proves the wiring; sockperf's fixed 2 s start-up per run would only slow tests.
    sockperf: !values['no-sockperf'] && !opts.quick,
    sweepSeconds: opts.quick ? 0.02 : 0.25,
    sweepMaxRate: opts.quick ? 20_000 : 1_280_000,
  };
  if (values.sizes) over.sizes = parseSizes(values.sizes);
  else if (opts.quick) over.sizes = [64];
  if (values.protocols) over.protocols = parseProtocols(values.protocols);
  const runs = values.runs ? parseCount(values.runs, '--runs', 100) : opts.quick ? 1 : 3;
  return { runs, bench: defaultTransportOptions(over) };
}

/** One metric per quantity, its value taken from each run's report. */
function collect(reports: TransportReport[]): Metric[] {
  const first = reports[0]!;
  const out: Metric[] = [];
  for (const s of first.rtt) {
    const pick = (r: TransportReport) =>
      r.rtt.find((x) => x.source === s.source && x.protocol === s.protocol && x.size === s.size);
    const label = `${seriesName(s)} ${formatBytes(s.size)} round trip`;
    // p50 only: a p99 of 2000 round trips is a handful of scheduler hiccups that swings tenfold
    // between runs; the last run's full table still shows it.
    out.push(
      metric(
        `${label} p50`,
        'µs',
        reports.map((r) => pick(r)?.summary.p50 ?? Number.NaN),
      ),
    );
  }
  for (const c of first.comparison) {
    const runs = reports.map(
      (r) => r.comparison.find((x) => x.protocol === c.protocol && x.size === c.size)?.ratio ?? Number.NaN,
    );
    out.push(metric(`${c.protocol} ${formatBytes(c.size)} Node p50 ÷ sockperf p50`, '×', runs));
  }
  for (const s of first.setup) {
    out.push(
      metric(
        `${s.label} p50`,
        'µs',
        reports.map((r) => r.setup.find((x) => x.kind === s.kind)?.summary.p50 ?? Number.NaN),
      ),
    );
  }
  const lossRates = reports.map((r) =>
    r.udpSweep && !('skipped' in r.udpSweep) && r.udpSweep.lossAtRate !== null
      ? r.udpSweep.lossAtRate
      : Number.NaN,
  );
  if (lossRates.every(Number.isFinite)) out.push(metric('UDP loss first seen at', '/s', lossRates, 'higher'));
  return out;
}

export async function run(opts: BenchOptions): Promise<BenchResult> {
  const { runs, bench } = options(opts);
  const reports: TransportReport[] = [];
  for (let i = 0; i < runs; i++) {
    if (!opts.quick) process.stderr.write(`transport: run ${i + 1} of ${runs}\n`);
    reports.push(await runTransportBench(bench, { progress: opts.quick ? null : process.stderr }));
  }
  const last = reports[reports.length - 1]!;
  if (!opts.quick) await writePlots(last, path.join(DEFAULT_RESULTS_DIR, 'transport.svg'));
  const metrics = collect(reports);
  return {
    title: 'Transport: round trips and connection set-up',
    description: `Ping-pong round trips (one message outstanding), ${bench.messages} per series after warm-up, client and server in separate processes (pin: ${bench.pin}); median of ${runs} run(s). See docs/transport.md.`,
    metrics,
    tables: [
      metricsTable(metrics, `Median of ${runs} run(s); spread = half the range of the runs`),
      ...reportTables(last),
    ],
    details: { runs: reports.length, lastReport: last },
  };
}
