/**
 * A small SVG chart writer: line charts (linear or log axes) and horizontal bar charts with
 * whiskers, laid out as panels of one titled figure. Hand-written rather than a plotting library
 * because the output must be a self-contained file that resvg can turn into a PNG without a
 * browser. Every series is a `<g class="series" data-panel=… data-series=…>` so tests (and people)
 * can find what was drawn.
 */

export const FONT = 'DejaVu Sans, Liberation Sans, Arial, Helvetica, sans-serif';

export interface Series {
  name: string;
  points: Array<[number, number]>;
  color: string;
  dashed?: boolean;
  markers?: boolean;
}

export interface LineChart {
  kind: 'line';
  id: string;
  title: string;
  xLabel: string;
  yLabel: string;
  xLog?: boolean;
  yLog?: boolean;
  /** Fixed y range (e.g. 0..1 for a CDF); otherwise from the data. */
  yRange?: [number, number];
  series: Series[];
  /** Horizontal reference lines, e.g. the 3× bar. */
  refLines?: Array<{ y: number; label: string }>;
  /** Shown in the middle of the panel when there is nothing to draw. */
  emptyNote?: string;
  /** Where the legend goes: the empty corner of the data (a CDF's is bottom-right). Default top-left. */
  legend?: 'top-left' | 'middle-left' | 'bottom-right';
}

export interface Bar {
  label: string;
  value: number;
  /** Whisker ends (e.g. p10..p90), drawn when present. */
  low?: number;
  high?: number;
  color: string;
  /** Text drawn after the bar, e.g. "1.8 ms". */
  note?: string;
}

export interface BarChart {
  kind: 'bar';
  id: string;
  title: string;
  xLabel: string;
  xLog?: boolean;
  bars: Bar[];
  refLines?: Array<{ x: number; label: string }>;
  emptyNote?: string;
}

export type Panel = LineChart | BarChart;

export interface Figure {
  title: string;
  subtitle: string;
  panels: Panel[];
  columns: number;
  panelWidth: number;
  panelHeight: number;
}

export function escapeXml(s: string): string {
  return s.replace(/[<>&"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

function fmt(n: number): string {
  return Number.isInteger(n) ? String(n) : n.toFixed(2).replace(/0+$/, '').replace(/\.$/, '');
}

/** Compact tick label: 1500 → "1.5k", 2000000 → "2M", 0.25 → "0.25". */
export function tickLabel(v: number): string {
  const a = Math.abs(v);
  if (a >= 1e6) return `${fmt(Number((v / 1e6).toPrecision(3)))}M`;
  if (a >= 1e3) return `${fmt(Number((v / 1e3).toPrecision(3)))}k`;
  return fmt(Number(v.toPrecision(3)));
}

/** "Nice" linear ticks (steps of 1, 2 or 5 × 10^k) covering [lo, hi]. */
export function linearTicks(lo: number, hi: number, target = 5): number[] {
  if (!(hi > lo)) return [lo];
  const raw = (hi - lo) / target;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 5, 10].map((m) => m * mag).find((s) => s >= raw) ?? 10 * mag;
  const out: number[] = [];
  for (let v = Math.ceil(lo / step) * step; v <= hi + step * 1e-9; v += step)
    out.push(Number(v.toPrecision(12)));
  return out;
}

/** Decade ticks for a log axis, with 2 and 5 between when the range spans few decades. */
export function logTicks(lo: number, hi: number): number[] {
  const out: number[] = [];
  const d0 = Math.floor(Math.log10(lo));
  const d1 = Math.ceil(Math.log10(hi));
  const mids = d1 - d0 <= 3 ? [1, 2, 5] : [1];
  for (let d = d0; d <= d1; d++) {
    for (const m of mids) {
      const v = m * 10 ** d;
      if (v >= lo * 0.999 && v <= hi * 1.001) out.push(Number(v.toPrecision(12)));
    }
  }
  return out;
}

interface Scale {
  lo: number;
  hi: number;
  log: boolean;
  ticks: number[];
  map(v: number, a: number, b: number): number;
}

function scale(values: number[], log: boolean, fixed?: [number, number]): Scale {
  let lo: number;
  let hi: number;
  if (fixed) [lo, hi] = fixed;
  else {
    const usable = log ? values.filter((v) => v > 0) : values;
    lo = usable.length ? Math.min(...usable) : log ? 1 : 0;
    hi = usable.length ? Math.max(...usable) : 1;
    if (log) {
      // Round out to half decades so the curves do not touch the frame.
      lo = 10 ** (Math.floor(Math.log10(lo) * 2) / 2);
      hi = 10 ** (Math.ceil(Math.log10(hi) * 2) / 2);
      if (hi <= lo) hi = lo * 10;
    } else {
      lo = Math.min(0, lo);
      if (hi <= lo) hi = lo + 1;
      const t = linearTicks(lo, hi);
      const step = t.length > 1 ? t[1]! - t[0]! : 1;
      hi = Math.ceil(hi / step - 1e-9) * step;
    }
  }
  const ticks = log ? logTicks(lo, hi) : linearTicks(lo, hi);
  const f = log ? Math.log10 : (v: number) => v;
  const flo = f(lo);
  const fhi = f(hi);
  return {
    lo,
    hi,
    log,
    ticks,
    map: (v, a, b) => {
      const c = log ? Math.max(v, lo) : v;
      return a + ((f(c) - flo) / (fhi - flo || 1)) * (b - a);
    },
  };
}

function text(x: number, y: number, s: string, attrs = ''): string {
  return `<text x="${fmt(x)}" y="${fmt(y)}" ${attrs}>${escapeXml(s)}</text>`;
}

function panelFrame(p: Panel, w: number, h: number): string {
  return [
    `<rect x="0" y="0" width="${w}" height="${h}" fill="#ffffff" stroke="#d0d0d0"/>`,
    text(w / 2, 22, p.title, 'text-anchor="middle" font-size="14" font-weight="bold" fill="#222"'),
  ].join('');
}

function renderLine(p: LineChart, w: number, h: number): string {
  const left = 62;
  const right = w - 14;
  const top = 38;
  const bottom = h - 46;
  const all = p.series.flatMap((s) => s.points);
  const out: string[] = [panelFrame(p, w, h)];
  if (all.length === 0) {
    out.push(text(w / 2, h / 2, p.emptyNote ?? 'no data', 'text-anchor="middle" font-size="12" fill="#777"'));
    return out.join('');
  }
  const xs = scale(
    all.map((q) => q[0]),
    p.xLog ?? false,
  );
  const ys = scale(
    [...all.map((q) => q[1]), ...(p.refLines ?? []).map((r) => r.y)],
    p.yLog ?? false,
    p.yRange,
  );
  out.push(`<g class="axes" font-size="11" fill="#444">`);
  for (const t of xs.ticks) {
    const x = xs.map(t, left, right);
    out.push(`<line x1="${fmt(x)}" y1="${top}" x2="${fmt(x)}" y2="${bottom}" stroke="#eee"/>`);
    out.push(text(x, bottom + 15, tickLabel(t), 'text-anchor="middle"'));
  }
  for (const t of ys.ticks) {
    const y = ys.map(t, bottom, top);
    out.push(`<line x1="${left}" y1="${fmt(y)}" x2="${right}" y2="${fmt(y)}" stroke="#eee"/>`);
    out.push(text(left - 6, y + 4, tickLabel(t), 'text-anchor="end"'));
  }
  out.push(
    `<rect x="${left}" y="${top}" width="${right - left}" height="${bottom - top}" fill="none" stroke="#888"/>`,
  );
  out.push(text((left + right) / 2, h - 12, p.xLabel, 'text-anchor="middle" font-size="12" fill="#222"'));
  out.push(
    text(
      16,
      (top + bottom) / 2,
      p.yLabel,
      `text-anchor="middle" font-size="12" fill="#222" transform="rotate(-90 16 ${fmt((top + bottom) / 2)})"`,
    ),
  );
  out.push('</g>');
  for (const r of p.refLines ?? []) {
    const y = ys.map(r.y, bottom, top);
    out.push(
      `<g class="ref-line"><line x1="${left}" y1="${fmt(y)}" x2="${right}" y2="${fmt(y)}" stroke="#c00" stroke-dasharray="6 3"/>${text(right - 4, y - 4, r.label, 'text-anchor="end" font-size="11" fill="#c00"')}</g>`,
    );
  }
  for (const s of p.series) {
    const pts = s.points.map(([x, y]) => `${fmt(xs.map(x, left, right))},${fmt(ys.map(y, bottom, top))}`);
    const dash = s.dashed ? ' stroke-dasharray="5 3"' : '';
    out.push(`<g class="series" data-panel="${escapeXml(p.id)}" data-series="${escapeXml(s.name)}">`);
    out.push(`<polyline fill="none" stroke="${s.color}" stroke-width="2"${dash} points="${pts.join(' ')}"/>`);
    if (s.markers) {
      for (const q of pts) {
        const [cx, cy] = q.split(',');
        out.push(`<circle cx="${cx}" cy="${cy}" r="3" fill="${s.color}"/>`);
      }
    }
    out.push('</g>');
  }
  // Legend on a translucent box, in the corner the data leaves free.
  const rows = p.series.length;
  const boxW = 14 + 23 + Math.max(...p.series.map((s) => s.name.length)) * 6.2;
  const boxH = rows * 14 + 6;
  const bx = p.legend === 'bottom-right' ? right - boxW - 6 : left + 6;
  const by =
    p.legend === 'bottom-right'
      ? bottom - boxH - 6
      : p.legend === 'middle-left'
        ? (top + bottom - boxH) / 2
        : top + 6;
  out.push(`<g class="legend" font-size="11" fill="#222">`);
  out.push(
    `<rect x="${fmt(bx)}" y="${fmt(by)}" width="${fmt(boxW)}" height="${boxH}" fill="#ffffff" fill-opacity="0.85" stroke="#ccc"/>`,
  );
  let ly = by + 14;
  for (const s of p.series) {
    const dash = s.dashed ? ' stroke-dasharray="5 3"' : '';
    out.push(
      `<line x1="${fmt(bx + 6)}" y1="${fmt(ly - 4)}" x2="${fmt(bx + 24)}" y2="${fmt(ly - 4)}" stroke="${s.color}" stroke-width="2"${dash}/>`,
    );
    out.push(text(bx + 29, ly, s.name));
    ly += 14;
  }
  out.push('</g>');
  return out.join('');
}

function renderBars(p: BarChart, w: number, h: number): string {
  const out: string[] = [panelFrame(p, w, h)];
  if (p.bars.length === 0) {
    out.push(text(w / 2, h / 2, p.emptyNote ?? 'no data', 'text-anchor="middle" font-size="12" fill="#777"'));
    return out.join('');
  }
  const left = 168;
  const right = w - 64;
  const top = 38;
  const bottom = h - 46;
  const xs = scale(
    [
      ...p.bars.flatMap((b) => [b.value, b.high ?? b.value, b.low ?? b.value]),
      ...(p.refLines ?? []).map((r) => r.x),
    ],
    p.xLog ?? false,
  );
  const band = (bottom - top) / p.bars.length;
  const barH = Math.min(22, band * 0.7);
  const x0 = xs.map(p.xLog ? xs.lo : 0, left, right);
  out.push(`<g class="axes" font-size="11" fill="#444">`);
  for (const t of xs.ticks) {
    const x = xs.map(t, left, right);
    out.push(`<line x1="${fmt(x)}" y1="${top}" x2="${fmt(x)}" y2="${bottom}" stroke="#eee"/>`);
    out.push(text(x, bottom + 15, tickLabel(t), 'text-anchor="middle"'));
  }
  out.push(`<line x1="${fmt(x0)}" y1="${top}" x2="${fmt(x0)}" y2="${bottom}" stroke="#888"/>`);
  out.push(text((left + right) / 2, h - 12, p.xLabel, 'text-anchor="middle" font-size="12" fill="#222"'));
  out.push('</g>');
  p.bars.forEach((b, i) => {
    const cy = top + band * (i + 0.5);
    const xv = xs.map(b.value, left, right);
    out.push(`<g class="series" data-panel="${escapeXml(p.id)}" data-series="${escapeXml(b.label)}">`);
    out.push(text(left - 6, cy + 4, b.label, 'text-anchor="end" font-size="11" fill="#222"'));
    out.push(
      `<rect x="${fmt(Math.min(x0, xv))}" y="${fmt(cy - barH / 2)}" width="${fmt(Math.abs(xv - x0))}" height="${fmt(barH)}" fill="${b.color}"/>`,
    );
    if (b.low !== undefined && b.high !== undefined) {
      const a = xs.map(b.low, left, right);
      const c = xs.map(b.high, left, right);
      out.push(
        `<path d="M${fmt(a)} ${fmt(cy)}H${fmt(c)}M${fmt(a)} ${fmt(cy - 4)}V${fmt(cy + 4)}M${fmt(c)} ${fmt(cy - 4)}V${fmt(cy + 4)}" stroke="#222" fill="none"/>`,
      );
    }
    if (b.note) {
      const nx = Math.max(xv, b.high !== undefined ? xs.map(b.high, left, right) : xv) + 4;
      out.push(text(nx, cy + 4, b.note, 'font-size="10" fill="#222"'));
    }
    out.push('</g>');
  });
  for (const r of p.refLines ?? []) {
    const x = xs.map(r.x, left, right);
    out.push(
      `<g class="ref-line"><line x1="${fmt(x)}" y1="${top}" x2="${fmt(x)}" y2="${bottom}" stroke="#c00" stroke-dasharray="6 3"/>${text(x + 3, top + 11, r.label, 'font-size="11" fill="#c00"')}</g>`,
    );
  }
  return out.join('');
}

export function figureSize(f: Figure): { width: number; height: number } {
  const rows = Math.max(1, Math.ceil(f.panels.length / f.columns));
  const cols = Math.min(f.columns, Math.max(1, f.panels.length));
  return { width: cols * f.panelWidth + (cols + 1) * 12, height: 70 + rows * (f.panelHeight + 12) };
}

export function renderFigure(f: Figure): string {
  const { width, height } = figureSize(f);
  const out: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="${FONT}">`,
    `<title>${escapeXml(f.title)}</title>`,
    `<rect width="${width}" height="${height}" fill="#f7f7f7"/>`,
    text(width / 2, 30, f.title, 'text-anchor="middle" font-size="20" font-weight="bold" fill="#111"'),
    text(width / 2, 52, f.subtitle, 'text-anchor="middle" font-size="12" fill="#555"'),
  ];
  f.panels.forEach((p, i) => {
    const x = 12 + (i % f.columns) * (f.panelWidth + 12);
    const y = 64 + Math.floor(i / f.columns) * (f.panelHeight + 12);
    out.push(`<g class="panel" id="${escapeXml(p.id)}" transform="translate(${x} ${y})">`);
    out.push(
      p.kind === 'line'
        ? renderLine(p, f.panelWidth, f.panelHeight)
        : renderBars(p, f.panelWidth, f.panelHeight),
    );
    out.push('</g>');
  });
  out.push('</svg>');
  return `${out.join('\n')}\n`;
}
