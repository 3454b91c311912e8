/**
 * The central station: the alarm bar (IEC 60601-1-8 colours and flash rates, always with a text
 * label) and a tile per patient sorted by acuity. A tile whose feed has been silent for 5 s turns
 * stale: greyed, hatched, its numbers dimmed and its age written out, so it can never pass for live.
 */

import { memo } from 'preact/compat';
import { age, bp, clock, fmt, news2Words, PRIORITY_LABEL } from '../format.ts';
import type { AlarmSnapshot, LiveStation, PatientInfo } from '../live.ts';
import { STALE_MS } from '../live.ts';
import { Sparkline } from './sparkline.tsx';

const RANK: Record<string, number> = { high: 3, medium: 2, low: 1 };
/** One collator for every sort (localeCompare with options builds a new one per comparison). */
const BED_ORDER = new Intl.Collator('en', { numeric: true });

export function AlarmBar(props: {
  live: LiveStation;
  canAck: boolean;
  onAck: (a: AlarmSnapshot) => void;
  acking: ReadonlySet<string>;
  now: number;
}) {
  const { live } = props;
  const open = live.openAlarms();
  const active = open.filter((a) => a.state === 'active').length;
  return (
    <section class="alarmbar" aria-label="Alarms" data-testid="alarm-bar">
      <h2 class="alarmbar-title">
        Alarms <span class="count">{active} active</span>
        {open.length > active ? (
          <span class="count muted"> · {open.length - active} acknowledged</span>
        ) : null}
      </h2>
      {open.length === 0 ? (
        <p class="alarmbar-empty">No open alarms</p>
      ) : (
        <ul class="alarm-list" aria-live="assertive" aria-relevant="additions">
          {open.slice(0, 12).map((a) => {
            const p = live.patients.get(a.patientId);
            const escalated = a.escalatedAt !== null && a.state === 'active';
            return (
              <li
                key={a.id}
                class={`alarm alarm-${a.priority} alarm-${a.state}`}
                data-testid="alarm"
                data-alarm-id={a.id}
                data-state={a.state}
                data-priority={a.priority}
              >
                <span class="alarm-priority">{PRIORITY_LABEL[a.priority] ?? a.priority}</span>
                <span class="alarm-bed">{p?.bed ?? '?'}</span>
                <span class="alarm-text">
                  <strong>{a.text}</strong> <span class="alarm-patient">{p?.name ?? a.patientId}</span>
                </span>
                <span>{escalated ? <span class="alarm-escalated">ESCALATED</span> : null}</span>
                <span class="alarm-time" title={new Date(a.raisedAt).toISOString()}>
                  {clock(a.raisedAt)} · {age(props.now - a.raisedAt)} ago
                </span>
                {a.state === 'active' && props.canAck ? (
                  <button
                    type="button"
                    class="ack"
                    disabled={props.acking.has(a.id)}
                    onClick={() => props.onAck(a)}
                    aria-label={`Acknowledge ${PRIORITY_LABEL[a.priority]} alarm ${a.text}, bed ${p?.bed ?? ''} ${p?.name ?? ''}`}
                  >
                    Acknowledge
                  </button>
                ) : (
                  <span class="alarm-acked">
                    {a.state === 'acknowledged' ? `Acknowledged by ${a.acknowledgedBy ?? '?'}` : ''}
                  </span>
                )}
              </li>
            );
          })}
          {open.length > 12 ? <li class="alarm-more">+ {open.length - 12} more open alarms</li> : null}
        </ul>
      )}
    </section>
  );
}

function acuity(live: LiveStation, p: PatientInfo, byPatient: Map<string, AlarmSnapshot[]>): number {
  let top = 0;
  for (const a of byPatient.get(p.id) ?? [])
    top = Math.max(top, (RANK[a.priority] ?? 0) * (a.state === 'active' ? 2 : 1));
  return top * 100 + (live.news2.get(p.id)?.total ?? 0);
}

export function Tiles(props: { live: LiveStation; now: number }) {
  const { live, now } = props;
  const byPatient = new Map<string, AlarmSnapshot[]>();
  for (const a of live.openAlarms()) {
    const list = byPatient.get(a.patientId);
    if (list) list.push(a);
    else byPatient.set(a.patientId, [a]);
  }
  const patients = [...live.patients.values()].sort(
    (a, b) =>
      acuity(live, b, byPatient) - acuity(live, a, byPatient) ||
      BED_ORDER.compare(`${a.ward}${a.bed}`, `${b.ward}${b.bed}`),
  );
  return (
    <section class="tiles" aria-label="Patients, most urgent first">
      {patients.map((p) => {
        const ageMs = live.ageMs(p.id, now);
        return (
          <Tile
            key={p.id}
            live={live}
            p={p}
            alarms={byPatient.get(p.id) ?? []}
            ageMs={ageMs}
            ageS={Number.isFinite(ageMs) ? Math.floor(ageMs / 1000) : -1}
            rev={live.rev.get(p.id) ?? 0}
          />
        );
      })}
    </section>
  );
}

interface TileProps {
  live: LiveStation;
  p: PatientInfo;
  alarms: AlarmSnapshot[];
  ageMs: number;
  /** Whole seconds of age: the only part of the age a tile shows. */
  ageS: number;
  /** Changes whenever the patient's data changes. */
  rev: number;
}

/**
 * Re-renders only when its patient's data changed, its age moved a second, or it turned stale:
 * with 100 patients at 1 Hz, most renders of the station touch a few tiles.
 */
const Tile = memo(
  TileView,
  (a: TileProps, b: TileProps) =>
    a.rev === b.rev && a.ageS === b.ageS && a.ageMs > STALE_MS === b.ageMs > STALE_MS && a.p === b.p,
);

function TileView(props: TileProps) {
  const { live, p, alarms, ageMs } = props;
  const v = live.vitals.get(p.id);
  const stale = ageMs > STALE_MS;
  const n = live.news2.get(p.id);
  const top = alarms[0];
  const values = v?.latest ?? {};
  const status = stale ? `stale, last data ${age(ageMs)} ago` : 'live';
  return (
    <a
      href={`#/patient/${encodeURIComponent(p.id)}`}
      class={`tile ${stale ? 'tile-stale' : 'tile-live'} ${top ? `tile-alarm-${top.priority} tile-alarm-${top.state}` : ''}`}
      data-testid="tile"
      data-patient-id={p.id}
      data-stale={stale ? 'true' : 'false'}
      aria-label={`Bed ${p.bed ?? '?'}, ${p.name}: ${status}${top ? `, ${PRIORITY_LABEL[top.priority]} alarm ${top.text}` : ''}${n ? `, NEWS2 ${n.total}` : ''}`}
    >
      <div class="tile-head">
        <span class="tile-bed">{p.bed ?? '—'}</span>
        <span class="tile-name">{p.name}</span>
        <News2Badge n={n} />
      </div>
      {top ? (
        <div class={`tile-alarm tile-alarm-line-${top.priority}`}>
          {PRIORITY_LABEL[top.priority]} · {top.text}
          {top.state === 'acknowledged' ? ' (acknowledged)' : ''}
        </div>
      ) : (
        <div class="tile-alarm tile-alarm-none">No alarm</div>
      )}
      <div class="numerics">
        <Num label="HR" unit="/min" cls="hr" value={fmt(values.heartRate ?? values.pulseRate)} testid="hr" />
        <Num label="SpO₂" unit="%" cls="spo2" value={fmt(values.spo2)} testid="spo2" />
        <Num
          label="NIBP"
          unit={nibpAge(v?.latestAt.systolicBp, v?.lastTs)}
          cls="bp"
          value={bp(values)}
          testid="bp"
          wide
        />
        <Num label="RR" unit="/min" cls="rr" value={fmt(values.respiratoryRate)} testid="rr" />
        <Num label="Temp" unit="°C" cls="temp" value={fmt(values.temperature, 1)} testid="temp" />
      </div>
      <div class="tile-foot">
        <Sparkline samples={v?.samples ?? []} sign="heartRate" label="Heart rate" />
        <span class={`age ${stale ? 'age-stale' : 'age-live'}`} data-testid="age">
          {stale ? <strong>STALE</strong> : <span class="live-dot" aria-hidden="true" />}
          {stale ? ` · ${age(ageMs)}` : ` ${Math.floor(ageMs / 1000)} s`}
        </span>
      </div>
    </a>
  );
}

function Num(props: {
  label: string;
  unit: string;
  value: string;
  cls: string;
  testid: string;
  wide?: boolean;
}) {
  return (
    <div class={`num num-${props.cls}${props.wide ? ' num-wide' : ''}`} data-testid={props.testid}>
      <span class="num-label">
        {props.label} <span class="num-unit">{props.unit}</span>
      </span>
      <span class="num-value">{props.value}</span>
    </div>
  );
}

export function News2Badge(props: { n: { total: number; band: string; complete: boolean } | undefined }) {
  const n = props.n;
  if (!n)
    return (
      <span class="news2 news2-none" title="NEWS2 not yet scored">
        NEWS2 –
      </span>
    );
  return (
    <span
      class={`news2 news2-${n.band}`}
      title={`${news2Words(n.band)}${n.complete ? '' : ' (incomplete: some inputs missing)'}`}
      data-testid="news2"
    >
      NEWS2 {n.total}
      {n.complete ? '' : '*'}
    </span>
  );
}

/** NIBP is intermittent: say how old the reading is when it is not from the last minute. */
function nibpAge(at: number | undefined, newest: number | undefined): string {
  if (at === undefined || newest === undefined || newest - at < 60_000) return 'mmHg';
  const min = Math.floor((newest - at) / 60_000);
  return `mmHg · ${min < 120 ? `${min} min` : `${Math.floor(min / 60)} h`} ago`;
}
