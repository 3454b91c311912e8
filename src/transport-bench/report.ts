/**
 * The result of one `carewire bench transport` run: the JSON written by --json, and the tables
 * printed to the console and pasted into docs/benchmarks.md. All times are microseconds.
 */
import type { MachineInfo } from './machine.ts';
import type { Protocol } from './pingpong.ts';
import type { PinMode } from './pinning.ts';
import type { SetupKind } from './setup.ts';
import type { CdfPoint, Summary } from './stats.ts';
import type { Table } from './table.ts';
import type { SweepResult } from './udp-sweep.ts';

export const REPORT_FORMAT = 'carewire-transport-bench/1';
/** The bar of issue 8: Node's ping-pong p50 within this factor of sockperf's at 64 bytes. */
export const SOCKPERF_BAR = 3;

export interface RttSeries {
  source: 'node' | 'sockperf';
  protocol: Protocol;
  size: number;
  /** Round-trip time summary in µs. */
  summary: Summary;
  lost: number;
  /** Round trips per second over the measured part (1 / mean RTT for one outstanding message). */
  perSecond: number;
  cdf: CdfPoint[];
}

export interface SetupSeries {
  kind: SetupKind;
  label: string;
  summary: Summary;
  /** TLS resumption only: the share of handshakes the server really resumed. */
  resumedShare?: number;
}

export interface Comparison {
  protocol: 'udp' | 'tcp';
  size: number;
  nodeP50: number;
  sockperfP50: number;
  /** nodeP50 / sockperfP50. */
  ratio: number;
}

export interface TransportReport {
  format: typeof REPORT_FORMAT;
  date: string;
  durationSeconds: number;
  options: {
    messages: number;
    warmup: number;
    sizes: number[];
    protocols: Protocol[];
    connections: number;
    peer: string;
    /** Requested placement of client and server (local runs); see `pinned` for what was applied. */
    pin: PinMode;
  };
  client: MachineInfo;
  server: MachineInfo;
  /** Cores the client and server were pinned to (local runs on Linux with taskset), or null. */
  pinned: { client: number; server: number } | null;
  rtt: RttSeries[];
  sockperf: { version: string } | { skipped: string };
  comparison: Comparison[];
  setup: SetupSeries[];
  udpSweep: SweepResult | { skipped: string } | null;
  /** Sizes or protocols that were left out and why (e.g. 100 kB does not fit one UDP datagram). */
  notes: string[];
}

/** "87.3 µs", "1.42 ms", "2.1 s": three significant figures in a readable unit. */
export function formatUs(us: number): string {
  if (!Number.isFinite(us)) return '–';
  if (us < 1000) return `${Number(us.toPrecision(3))} µs`;
  if (us < 1e6) return `${Number((us / 1000).toPrecision(3))} ms`;
  return `${Number((us / 1e6).toPrecision(3))} s`;
}

export function formatBytes(n: number): string {
  if (n >= 1024 * 1024 && n % (1024 * 1024) === 0) return `${n / (1024 * 1024)} MiB`;
  if (n >= 1024 && n % 1024 === 0) return `${n / 1024} KiB`;
  return `${n} B`;
}

export function seriesName(s: Pick<RttSeries, 'source' | 'protocol'>): string {
  return s.source === 'sockperf' ? `sockperf ${s.protocol}` : s.protocol;
}

export function rttTable(r: TransportReport): Table {
  return {
    title: `Round trip, one message outstanding (${r.options.messages} messages each, after ${r.options.warmup} warm-up)`,
    columns: ['transport', 'size', 'min', 'p50', 'p90', 'p99', 'max', 'round trips/s', 'lost'],
    rows: r.rtt.map((s) => [
      seriesName(s),
      formatBytes(s.size),
      formatUs(s.summary.min),
      formatUs(s.summary.p50),
      formatUs(s.summary.p90),
      formatUs(s.summary.p99),
      formatUs(s.summary.max),
      Math.round(s.perSecond).toLocaleString('en-US'),
      s.lost,
    ]),
  };
}

export function comparisonTable(r: TransportReport): Table {
  return {
    title: `Node vs sockperf (C), p50 round trip; bar: ratio ≤ ${SOCKPERF_BAR}× at 64 B`,
    columns: ['transport', 'size', 'Node p50', 'sockperf p50', 'ratio'],
    rows: r.comparison.map((c) => [
      c.protocol,
      formatBytes(c.size),
      formatUs(c.nodeP50),
      formatUs(c.sockperfP50),
      `${c.ratio.toFixed(2)}×`,
    ]),
  };
}

export function setupTable(r: TransportReport): Table {
  return {
    title: `Connection set-up (${r.options.connections} connections each, one at a time)`,
    columns: ['what', 'min', 'p50', 'p90', 'p99', 'note'],
    rows: r.setup.map((s) => [
      s.label,
      formatUs(s.summary.min),
      formatUs(s.summary.p50),
      formatUs(s.summary.p90),
      formatUs(s.summary.p99),
      s.resumedShare === undefined ? '' : `${Math.round(s.resumedShare * 100)} % resumed`,
    ]),
    align: ['left', 'right', 'right', 'right', 'right', 'left'],
  };
}

export function sweepTable(r: TransportReport): Table | null {
  const s = r.udpSweep;
  if (!s || 'skipped' in s) return null;
  const end =
    s.lossAtRate !== null
      ? `loss from ${s.lossAtRate.toLocaleString('en-US')}/s`
      : s.senderLimited
        ? 'stopped: the sender could not go faster'
        : 'no loss up to the highest rate tried';
  return {
    title: `UDP at rising rates (${formatBytes(s.size)} datagrams, ${s.secondsPerStep} s per step; ${end})`,
    columns: ['target/s', 'sent/s', 'sent', 'received', 'delivered', 'reordered', 'duplicates'],
    rows: s.steps.map((st) => [
      st.targetRate.toLocaleString('en-US'),
      st.sentRate.toLocaleString('en-US'),
      st.sent,
      st.received,
      `${st.deliveredPct.toFixed(2)} %`,
      st.reordered,
      st.duplicates,
    ]),
  };
}

export function reportTables(r: TransportReport): Table[] {
  const out = [rttTable(r)];
  if (r.comparison.length > 0) out.push(comparisonTable(r));
  if (r.setup.length > 0) out.push(setupTable(r));
  const sweep = sweepTable(r);
  if (sweep) out.push(sweep);
  return out;
}

/** Checks that a parsed JSON file really is a transport report (used by tests and the docs script). */
export function assertTransportReport(v: unknown): asserts v is TransportReport {
  const r = v as Partial<TransportReport> | null;
  if (typeof r !== 'object' || r === null || r.format !== REPORT_FORMAT) {
    throw new Error(`not a transport report (expected format ${REPORT_FORMAT})`);
  }
  if (!Array.isArray(r.rtt) || !Array.isArray(r.setup) || !Array.isArray(r.comparison)) {
    throw new Error('transport report is missing its rtt, setup or comparison lists');
  }
}
