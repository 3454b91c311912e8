/**
 * Turns a transport report into one titled figure: a round-trip CDF per protocol (one curve per
 * message size, sockperf dashed beside UDP and TCP), p50 by size, the Node/sockperf ratio against
 * the 3× bar, connection set-up costs, and UDP delivery at rising rates. Written as SVG, and as
 * PNG through resvg (a Rust SVG renderer, no browser needed).
 */
import { writeFile } from 'node:fs/promises';
import { Resvg } from '@resvg/resvg-js';
import type { Protocol } from './pingpong.ts';
import { formatBytes, formatUs, SOCKPERF_BAR, seriesName, type TransportReport } from './report.ts';
import { type Bar, type Figure, figureSize, type Panel, renderFigure, type Series } from './svg.ts';

const PROTOCOL_COLORS: Record<Protocol, string> = {
  udp: '#1f77b4',
  tcp: '#ff7f0e',
  tls: '#2ca02c',
  ws: '#d62728',
  http: '#9467bd',
  'tcp-nagle': '#8c564b',
};
const SIZE_COLORS = ['#1f77b4', '#2ca02c', '#d62728', '#9467bd', '#ff7f0e', '#17becf', '#8c564b'];
const SETUP_COLOR = '#4c78a8';

const PROTOCOL_TITLES: Record<Protocol, string> = {
  udp: 'UDP',
  tcp: 'TCP (setNoDelay)',
  tls: 'TLS 1.3 over TCP',
  ws: 'WebSocket',
  http: 'HTTP/1.1 keep-alive',
  'tcp-nagle': 'TCP, Nagle on, 2 writes',
};

function cdfPanels(r: TransportReport): Panel[] {
  const sizes = r.options.sizes;
  return r.options.protocols.map((protocol) => {
    const series: Series[] = [];
    for (const s of r.rtt.filter((x) => x.protocol === protocol)) {
      const color = SIZE_COLORS[sizes.indexOf(s.size) % SIZE_COLORS.length]!;
      series.push({
        name: `${seriesName(s)} ${formatBytes(s.size)}`,
        points: s.cdf.map((p) => [p.x, p.p]),
        color,
        dashed: s.source === 'sockperf',
      });
    }
    return {
      kind: 'line',
      id: `cdf-${protocol}`,
      title: `${PROTOCOL_TITLES[protocol]}: round-trip CDF`,
      xLabel: 'round-trip time (µs, log scale)',
      yLabel: 'fraction of round trips ≤ x',
      xLog: true,
      yRange: [0, 1],
      series,
      legend: 'bottom-right',
      emptyNote: `no ${protocol} round trips measured`,
    };
  });
}

function p50BySizePanel(r: TransportReport): Panel {
  const series: Series[] = [];
  const keys = new Map<string, { protocol: Protocol; source: 'node' | 'sockperf' }>();
  for (const s of r.rtt) keys.set(seriesName(s), { protocol: s.protocol, source: s.source });
  for (const [name, k] of keys) {
    const pts = r.rtt
      .filter((s) => s.protocol === k.protocol && s.source === k.source)
      .sort((a, b) => a.size - b.size)
      .map((s): [number, number] => [s.size, s.summary.p50]);
    series.push({
      name,
      points: pts,
      color: PROTOCOL_COLORS[k.protocol],
      dashed: k.source === 'sockperf',
      markers: true,
    });
  }
  return {
    kind: 'line',
    id: 'p50-by-size',
    title: 'Median round trip by message size',
    xLabel: 'message size (bytes, log scale)',
    yLabel: 'p50 round trip (µs, log scale)',
    xLog: true,
    yLog: true,
    series,
    legend: 'bottom-right',
  };
}

function ratioPanel(r: TransportReport): Panel {
  const bars: Bar[] = r.comparison.map((c) => ({
    label: `${c.protocol} ${formatBytes(c.size)}`,
    value: c.ratio,
    color: PROTOCOL_COLORS[c.protocol],
    note: `${c.ratio.toFixed(2)}×`,
  }));
  return {
    kind: 'bar',
    id: 'sockperf-ratio',
    title: 'Node p50 ÷ sockperf p50 (lower is better)',
    xLabel: 'ratio',
    bars,
    refLines: bars.length ? [{ x: SOCKPERF_BAR, label: `bar ${SOCKPERF_BAR}×` }] : [],
    emptyNote: 'skipped' in r.sockperf ? `sockperf not run: ${r.sockperf.skipped}` : 'no comparison',
  };
}

function setupPanel(r: TransportReport): Panel {
  return {
    kind: 'bar',
    id: 'setup',
    title: 'Connection set-up: p50, whisker min–p90',
    xLabel: 'time until ready (µs, log scale)',
    xLog: true,
    bars: r.setup.map((s) => ({
      label: s.label,
      value: s.summary.p50,
      low: s.summary.min,
      high: s.summary.p90,
      color: SETUP_COLOR,
      note: formatUs(s.summary.p50),
    })),
    emptyNote: 'no connection set-up measured',
  };
}

function sweepPanel(r: TransportReport): Panel {
  const s = r.udpSweep && !('skipped' in r.udpSweep) ? r.udpSweep : null;
  const series: Series[] = s
    ? [
        {
          name: `delivered % (${formatBytes(s.size)} datagrams)`,
          points: s.steps.map((st) => [st.targetRate, st.deliveredPct]),
          color: PROTOCOL_COLORS.udp,
          markers: true,
        },
        {
          name: 'reordered %',
          points: s.steps.map((st) => [st.targetRate, (100 * st.reordered) / Math.max(1, st.sent)]),
          color: '#e377c2',
          dashed: true,
          markers: true,
        },
      ]
    : [];
  return {
    kind: 'line',
    id: 'udp-sweep',
    title: 'UDP at rising send rates',
    xLabel: 'offered rate (datagrams/s, log scale)',
    yLabel: 'percent of datagrams sent',
    xLog: true,
    yRange: [0, 100],
    series,
    legend: 'middle-left',
    emptyNote: 'UDP rate sweep not run',
  };
}

export function transportFigure(r: TransportReport): Figure {
  const pin = r.pinned ? `, client on core ${r.pinned.client}, server on core ${r.pinned.server}` : '';
  return {
    title: 'CareWire transport benchmark: what a message and a connection cost',
    subtitle: `${r.client.cpu}, ${r.client.cores} cores, Node ${r.client.node}; server: ${r.options.peer}${pin}; ${r.options.messages} round trips per series; ${r.date.slice(0, 10)}`,
    panels: [...cdfPanels(r), p50BySizePanel(r), ratioPanel(r), setupPanel(r), sweepPanel(r)],
    columns: 3,
    panelWidth: 480,
    panelHeight: 330,
  };
}

export function renderTransportSvg(r: TransportReport): string {
  return renderFigure(transportFigure(r));
}

export function svgToPng(svg: string): Buffer {
  const resvg = new Resvg(svg, {
    background: '#ffffff',
    fitTo: { mode: 'original' },
    font: { loadSystemFonts: true, defaultFontFamily: 'DejaVu Sans' },
    logLevel: 'off',
  });
  return resvg.render().asPng();
}

/** Writes `<base>.svg` and `<base>.png`; returns their paths and the figure's pixel size. */
export async function writePlots(
  r: TransportReport,
  base: string,
): Promise<{ svg: string; png: string; width: number; height: number }> {
  const svg = renderTransportSvg(r);
  const stem = base.replace(/\.(svg|png)$/i, '');
  await writeFile(`${stem}.svg`, svg);
  await writeFile(`${stem}.png`, svgToPng(svg));
  return { svg: `${stem}.svg`, png: `${stem}.png`, ...figureSize(transportFigure(r)) };
}
