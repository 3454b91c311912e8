/**
 * One patient: latest numerics with their age, NEWS2 with every sub-score, trend charts (uPlot,
 * last hour or last 24 h, live-extended) and the alarm history. Loaded on demand, so uPlot is not
 * part of the station's first load.
 */
import { useEffect, useMemo, useRef, useState } from 'preact/hooks';
import uPlot from 'uplot';
import 'uplot/dist/uPlot.min.css';
import { api } from '../api.ts';
import { age, bp, clock, fmt, news2Words, PARAMETER_LABEL, PRIORITY_LABEL } from '../format.ts';
import type { AlarmSnapshot, LiveStation, Values } from '../live.ts';
import { STALE_MS } from '../live.ts';
import { News2Badge } from './station.tsx';

interface Series {
  key: string;
  display: string;
  unit: string;
  points: Array<{ t: number; value: number }>;
}

type Sign = keyof Values;

const CHARTS: Array<{ title: string; unit: string; signs: Array<[Sign, string, string]> }> = [
  { title: 'Heart rate', unit: '/min', signs: [['heartRate', 'HR', '#3ddc84']] },
  { title: 'SpO₂', unit: '%', signs: [['spo2', 'SpO₂', '#4fc3f7']] },
  { title: 'Respiration rate', unit: '/min', signs: [['respiratoryRate', 'RR', '#ffd54f']] },
  {
    title: 'Blood pressure',
    unit: 'mmHg',
    signs: [
      ['systolicBp', 'Systolic', '#ff8a80'],
      ['diastolicBp', 'Diastolic', '#ffab91'],
    ],
  },
  { title: 'Temperature', unit: '°C', signs: [['temperature', 'Temp', '#e0e0e0']] },
];

const RANGES = { '1h': 3600_000, '24h': 24 * 3600_000 } as const;
type Range = keyof typeof RANGES;

export default function PatientView(props: {
  live: LiveStation;
  patientId: string;
  now: number;
  showBack: boolean;
}) {
  const { live, patientId, now } = props;
  const p = live.patients.get(patientId);
  const [range, setRange] = useState<Range>('1h');
  const [history, setHistory] = useState<Series[] | null>(null);
  const [alarms, setAlarms] = useState<AlarmSnapshot[]>([]);
  const [error, setError] = useState<string | null>(null);
  const v = live.vitals.get(patientId);
  const n = live.news2.get(patientId);
  const ageMs = live.ageMs(patientId, now);
  const stale = ageMs > STALE_MS;
  const openForPatient = live.openAlarms().filter((a) => a.patientId === patientId);
  const alarmKey = openForPatient.map((a) => `${a.id}:${a.state}`).join(',');

  useEffect(() => {
    let cancelled = false;
    const to = Date.now();
    api<Series[]>(
      `/api/patients/${encodeURIComponent(patientId)}/vitals?from=${to - RANGES[range]}&to=${to}&maxPoints=720`,
    )
      .then((s) => !cancelled && setHistory(s))
      .catch((e: Error) => !cancelled && setError(e.message));
    return () => {
      cancelled = true;
    };
  }, [patientId, range]);

  useEffect(() => {
    api<AlarmSnapshot[]>(`/api/alarms?patientId=${encodeURIComponent(patientId)}&limit=50`)
      .then(setAlarms)
      .catch(() => undefined);
  }, [patientId, alarmKey]);

  useEffect(() => {
    document.title = `${p?.bed ?? ''} ${p?.name ?? 'Patient'} · CareWire`;
  }, [p?.bed, p?.name]);

  const latest = v?.latest ?? {};
  return (
    <div class="patient-view">
      <div class="pv-head">
        {props.showBack ? (
          <a class="back" href="#/">
            ← Central station
          </a>
        ) : null}
        <h2 class="pv-title">
          <span class="tile-bed">{p?.bed ?? '—'}</span> {p?.name ?? patientId}
        </h2>
        <span class="pv-meta">
          {p?.mrn} · {p?.ward ?? 'no ward'}
        </span>
        <News2Badge n={n} />
        <span class={`age ${stale ? 'age-stale' : 'age-live'}`} data-testid="pv-age">
          {stale ? <strong>STALE · {age(ageMs)}</strong> : `live · ${Math.floor(ageMs / 1000)} s`}
        </span>
      </div>
      {error ? (
        <p class="error" role="alert">
          {error}
        </p>
      ) : null}
      <div class={`pv-numerics ${stale ? 'tile-stale' : ''}`}>
        <Big label="Heart rate" unit="/min" cls="hr" value={fmt(latest.heartRate ?? latest.pulseRate)} />
        <Big label="SpO₂" unit="%" cls="spo2" value={fmt(latest.spo2)} />
        <Big label="NIBP" unit="mmHg" cls="bp" value={bp(latest)} />
        <Big label="Respiration" unit="/min" cls="rr" value={fmt(latest.respiratoryRate)} />
        <Big label="Temperature" unit="°C" cls="temp" value={fmt(latest.temperature, 1)} />
      </div>
      <div class="pv-grid">
        <section class="panel pv-charts" aria-label="Trends">
          <div class="panel-head">
            <h3>Trends</h3>
            <fieldset class="seg">
              <legend class="sr-only">Time range</legend>
              {(Object.keys(RANGES) as Range[]).map((r) => (
                <button key={r} type="button" aria-pressed={range === r} onClick={() => setRange(r)}>
                  {r === '1h' ? 'Last hour' : 'Last 24 h'}
                </button>
              ))}
            </fieldset>
          </div>
          {history === null ? (
            <p class="muted">Loading trends…</p>
          ) : (
            CHARTS.map((c) => (
              <Chart
                key={`${c.title}-${range}`}
                spec={c}
                history={history}
                live={range === '1h' ? (v?.samples ?? []) : []}
              />
            ))
          )}
        </section>
        <aside class="pv-side">
          <section class="panel" aria-label="NEWS2">
            <h3>NEWS2</h3>
            {n ? (
              <>
                <p class="news2-total">
                  <span class={`news2 news2-${n.band}`}>{n.total}</span> {news2Words(n.band)}
                  {n.singleParameterThree ? <span class="note"> · a single parameter scores 3</span> : null}
                </p>
                <table class="subscores">
                  <caption class="sr-only">NEWS2 sub-scores</caption>
                  <thead>
                    <tr>
                      <th scope="col">Parameter</th>
                      <th scope="col">Score</th>
                    </tr>
                  </thead>
                  <tbody>
                    {Object.keys(PARAMETER_LABEL).map((k) => {
                      const s = n.subScores[k];
                      return (
                        <tr key={k}>
                          <th scope="row">{PARAMETER_LABEL[k]}</th>
                          <td class={s === undefined ? 'missing' : `sub sub-${s}`}>
                            {s === undefined ? 'missing' : s}
                          </td>
                        </tr>
                      );
                    })}
                  </tbody>
                </table>
                {n.complete ? null : (
                  <p class="note">Incomplete: a missing parameter is not scored as normal.</p>
                )}
              </>
            ) : (
              <p class="muted">Not yet scored.</p>
            )}
          </section>
          <section class="panel" aria-label="Alarm history">
            <h3>Alarm history</h3>
            {alarms.length === 0 ? (
              <p class="muted">No alarms.</p>
            ) : (
              <table class="history" data-testid="alarm-history">
                <thead>
                  <tr>
                    <th scope="col">Raised</th>
                    <th scope="col">Priority</th>
                    <th scope="col">Alarm</th>
                    <th scope="col">State</th>
                  </tr>
                </thead>
                <tbody>
                  {alarms.map((a) => {
                    const cur = live.alarms.get(a.id) ?? a;
                    return (
                      <tr key={a.id}>
                        <td>{clock(cur.raisedAt)}</td>
                        <td>
                          <span class={`pill pill-${cur.priority}`}>{PRIORITY_LABEL[cur.priority]}</span>
                        </td>
                        <td>{cur.text}</td>
                        <td>
                          {cur.state}
                          {cur.acknowledgedBy ? ` by ${cur.acknowledgedBy}` : ''}
                        </td>
                      </tr>
                    );
                  })}
                </tbody>
              </table>
            )}
          </section>
        </aside>
      </div>
    </div>
  );
}

function Big(props: { label: string; unit: string; value: string; cls: string }) {
  return (
    <div class={`big num-${props.cls}`}>
      <span class="num-label">
        {props.label} <span class="num-unit">{props.unit}</span>
      </span>
      <span class="big-value">{props.value}</span>
    </div>
  );
}

function Chart(props: {
  spec: (typeof CHARTS)[number];
  history: Series[];
  live: Array<{ ts: number; values: Values }>;
}) {
  const el = useRef<HTMLDivElement>(null);
  const plot = useRef<uPlot | null>(null);
  const { spec } = props;
  // Stored history, then live samples newer than it (seconds for uPlot's x axis).
  const data = useMemo(() => {
    const times = new Map<number, Array<number | null>>();
    spec.signs.forEach(([sign], i) => {
      const s = props.history.find((h) => h.key === sign);
      for (const pt of s?.points ?? []) {
        const row = times.get(pt.t) ?? spec.signs.map(() => null);
        row[i] = pt.value;
        times.set(pt.t, row);
      }
    });
    const lastStored = Math.max(0, ...times.keys());
    for (const s of props.live) {
      if (s.ts <= lastStored) continue;
      const row = spec.signs.map(([sign]) => s.values[sign] ?? null);
      if (row.some((x) => x !== null)) times.set(s.ts, row);
    }
    const ts = [...times.keys()].sort((a, b) => a - b);
    // A silent monitor is a gap in the line, never a straight line across it: break the series
    // where two points are much further apart than the usual step.
    const steps = ts
      .slice(1)
      .map((t, i) => t - ts[i]!)
      .sort((a, b) => a - b);
    const gap = Math.max(5000, 5 * (steps[Math.floor(steps.length / 2)] ?? 0));
    const xs: number[] = [];
    const ys: Array<Array<number | null>> = spec.signs.map(() => []);
    ts.forEach((t, k) => {
      if (k > 0 && t - ts[k - 1]! > gap) {
        xs.push((ts[k - 1]! + 1) / 1000);
        for (const y of ys) y.push(null);
      }
      xs.push(t / 1000);
      const row = times.get(t)!;
      ys.forEach((y, i) => {
        y.push(row[i] ?? null);
      });
    });
    return [xs, ...ys] as uPlot.AlignedData;
  }, [props.history, props.live.length, props.live.at(-1)?.ts]);

  useEffect(() => {
    if (!el.current) return;
    const width = Math.max(300, el.current.clientWidth);
    plot.current = new uPlot(
      {
        width,
        height: 150,
        legend: { show: true },
        cursor: { drag: { x: false, y: false } },
        scales: { x: { time: true } },
        axes: [
          { stroke: '#9aa4b2', grid: { stroke: '#2a3340' }, ticks: { stroke: '#2a3340' } },
          { stroke: '#9aa4b2', grid: { stroke: '#2a3340' }, ticks: { stroke: '#2a3340' }, size: 44 },
        ],
        series: [
          {},
          ...spec.signs.map(([, label, color]) => ({
            label: `${label} (${spec.unit})`,
            stroke: color,
            width: 1.5,
            spanGaps: false,
          })),
        ],
      },
      data,
      el.current,
    );
    return () => {
      plot.current?.destroy();
      plot.current = null;
    };
  }, []);

  useEffect(() => {
    plot.current?.setData(data);
  }, [data]);

  const count = data[0].length;
  return (
    <figure class="chart">
      <figcaption>
        {spec.title} <span class="muted">({spec.unit})</span>
      </figcaption>
      <div ref={el} role="img" aria-label={`${spec.title} trend, ${count} points`} />
    </figure>
  );
}
