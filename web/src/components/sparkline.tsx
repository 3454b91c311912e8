/** A small trend line (SVG, no library): one sign over the tile's history window. */
import type { VitalsSample } from '../live.ts';

export function Sparkline(props: { samples: VitalsSample[]; sign: 'heartRate' | 'spo2'; label: string }) {
  const pts: Array<[number, number]> = [];
  for (const s of props.samples) {
    const v = s.values[props.sign];
    if (v !== undefined) pts.push([s.ts, v]);
  }
  const w = 120;
  const h = 28;
  if (pts.length < 2)
    return (
      <svg class="spark" viewBox={`0 0 ${w} ${h}`} role="img" aria-label={`${props.label}: no trend yet`} />
    );
  const t0 = pts[0]![0];
  const t1 = pts[pts.length - 1]![0];
  let lo = Number.POSITIVE_INFINITY;
  let hi = Number.NEGATIVE_INFINITY;
  for (const [, v] of pts) {
    lo = Math.min(lo, v);
    hi = Math.max(hi, v);
  }
  const pad = Math.max(1, (hi - lo) * 0.15);
  lo -= pad;
  hi += pad;
  const x = (t: number) => (t1 === t0 ? w : ((t - t0) / (t1 - t0)) * w);
  const y = (v: number) => h - ((v - lo) / (hi - lo)) * h;
  const d = pts.map(([t, v], i) => `${i ? 'L' : 'M'}${x(t).toFixed(1)},${y(v).toFixed(1)}`).join('');
  const first = pts[0]![1];
  const last = pts[pts.length - 1]![1];
  return (
    <svg
      class={`spark spark-${props.sign}`}
      viewBox={`0 0 ${w} ${h}`}
      preserveAspectRatio="none"
      role="img"
      aria-label={`${props.label} trend over ${Math.round((t1 - t0) / 60000) || '<1'} min: ${Math.round(first)} to ${Math.round(last)}`}
    >
      <path d={d} />
    </svg>
  );
}
