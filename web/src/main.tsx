/**
 * The station app: who is signed in decides what is shown. Clinicians get the central station
 * (every patient they may see) and a patient view per patient; patients get their own view only;
 * auditors and admins see no clinical data here.
 */
import './styles/app.css';
import { render } from 'preact';
import { lazy, Suspense } from 'preact/compat';
import { useCallback, useEffect, useMemo, useState } from 'preact/hooks';
import { api, HttpError, logout, type Me } from './api.ts';
import { Header } from './components/header.tsx';
import { AlarmBar, Tiles } from './components/station.tsx';
import { startFlashing } from './flash.ts';
import { type AlarmSnapshot, LiveStation } from './live.ts';
import { AlarmTone } from './tone.ts';

const PatientView = lazy(() => import('./components/patient-view.tsx'));
const PAUSE_MS = 120_000;

function useHash(): string {
  const [hash, setHash] = useState(location.hash);
  useEffect(() => {
    const on = () => setHash(location.hash);
    window.addEventListener('hashchange', on);
    return () => window.removeEventListener('hashchange', on);
  }, []);
  return hash;
}

/** Re-renders on every live change and once a second (data ages move even when nothing arrives). */
function useLive(live: LiveStation): number {
  const [now, setNow] = useState(Date.now());
  useEffect(() => {
    const off = live.subscribe(() => setNow(Date.now()));
    const t = window.setInterval(() => setNow(Date.now()), 1000);
    return () => {
      off();
      window.clearInterval(t);
    };
  }, [live]);
  // A feed turns stale exactly when its 5 s run out, not up to a second later.
  useEffect(() => {
    const at = live.nextStaleAt(now);
    if (at === undefined) return;
    const t = window.setTimeout(() => setNow(Date.now()), Math.min(1000, at - Date.now()));
    return () => window.clearTimeout(t);
  }, [live, now]);
  return now;
}

async function signOut(): Promise<void> {
  await logout();
  location.assign('/login.html');
}

function App(props: { me: Me; live: LiveStation }) {
  const { me, live } = props;
  const now = useLive(live);
  const hash = useHash();
  const tone = useMemo(() => new AlarmTone(), []);
  const [soundEnabled, setSoundEnabled] = useState(false);
  const [pause, setPause] = useState<{ until: number; ids: Set<string> } | null>(null);
  const [acking, setAcking] = useState<ReadonlySet<string>>(new Set());
  const [notice, setNotice] = useState<string | null>(null);
  const isPatient = me.role === 'patient';
  const route = /^#\/patient\/([^/]+)$/.exec(hash);
  const patientId = isPatient ? me.patientId : route ? decodeURIComponent(route[1]!) : null;

  const open = live.openAlarms();
  const activeHigh = open.filter((a) => a.state === 'active' && a.priority === 'high');
  const paused = pause !== null && pause.until > now;
  // A pause silences the alarms sounding when it was taken; a new high alarm still sounds.
  const sounding = soundEnabled && activeHigh.some((a) => !paused || !pause.ids.has(a.id));
  useEffect(() => tone.set(sounding && !isPatient), [sounding, isPatient, tone]);

  const toggleSound = useCallback(() => {
    if (!soundEnabled) {
      tone.enable();
      setSoundEnabled(true);
      setPause(null);
    } else if (paused) setPause(null);
    else setPause({ until: Date.now() + PAUSE_MS, ids: new Set(activeHigh.map((a) => a.id)) });
  }, [soundEnabled, paused, activeHigh, tone]);

  const ack = useCallback(
    async (a: AlarmSnapshot) => {
      setAcking((s) => new Set([...s, a.id]));
      try {
        const updated = await api<AlarmSnapshot>(`/api/alarms/${encodeURIComponent(a.id)}/ack`, {
          method: 'POST',
        });
        live.applyAlarm(updated);
        setNotice(`Acknowledged: ${a.text}`);
      } catch (err) {
        setNotice(err instanceof HttpError ? `Could not acknowledge: ${err.message}` : String(err));
      } finally {
        setAcking((s) => new Set([...s].filter((id) => id !== a.id)));
      }
    },
    [live],
  );

  const wards = [...new Set([...live.patients.values()].map((p) => p.ward ?? 'No ward'))].join(', ');
  const title = patientId
    ? isPatient
      ? 'My vital signs'
      : 'Patient'
    : `Central station${wards ? ` · ${wards}` : ''}`;
  return (
    <>
      <a class="skip" href="#main">
        Skip to content
      </a>
      <Header
        me={me}
        title={title}
        connection={live.connection}
        downForMs={live.downForMs}
        sound={
          isPatient
            ? undefined
            : {
                enabled: soundEnabled,
                muted: paused,
                toggle: toggleSound,
                label: paused ? `Alarm sound paused ${Math.ceil((pause!.until - now) / 1000)} s` : undefined,
              }
        }
        onSignOut={() => void signOut()}
      />
      {live.error ? (
        <p class="banner banner-error" role="alert">
          {live.error}
        </p>
      ) : null}
      {live.connection !== 'live' && live.connection !== 'connecting' ? (
        <p class="banner banner-warn" role="alert" data-testid="conn-banner">
          {live.connection === 'offline' ? 'Offline' : 'Reconnecting'}: values below are not live and age
          until the connection returns.
        </p>
      ) : null}
      <p class="sr-only" aria-live="polite">
        {notice}
      </p>
      <main id="main" tabIndex={-1}>
        {isPatient ? null : (
          <AlarmBar
            live={live}
            canAck={me.role === 'clinician'}
            onAck={(a) => void ack(a)}
            acking={acking}
            now={now}
          />
        )}
        {patientId ? (
          <Suspense fallback={<p class="muted">Loading patient view…</p>}>
            <PatientView live={live} patientId={patientId} now={now} showBack={!isPatient} />
          </Suspense>
        ) : live.patients.size === 0 && live.connection === 'live' ? (
          <p class="empty">
            No patients to show. Patients appear here when you are assigned to their ward or care team.
          </p>
        ) : (
          <Tiles live={live} now={now} />
        )}
      </main>
    </>
  );
}

function NoClinicalData(props: { me: Me }) {
  return (
    <main class="center-card">
      <h1>CareWire</h1>
      <p>
        Signed in as <strong>{props.me.username}</strong> ({props.me.role}). This role sees no clinical
        values.
      </p>
      {props.me.role === 'auditor' ? (
        <p>
          <a href="/audit.html">Open the audit log</a>
        </p>
      ) : null}
      <button type="button" onClick={() => void signOut()}>
        Sign out
      </button>
    </main>
  );
}

async function boot(): Promise<void> {
  const root = document.getElementById('app')!;
  let me: Me;
  try {
    me = await api<Me>('/api/me');
  } catch {
    return; // api() has sent the browser to the login page
  }
  root.replaceChildren();
  if (me.role !== 'clinician' && me.role !== 'patient') {
    render(<NoClinicalData me={me} />, root);
    return;
  }
  const live = new LiveStation(
    me.role === 'patient' ? { scope: 'patient', patientId: me.patientId ?? '-' } : { scope: 'station' },
  );
  live.start();
  // Only the station shows active alarms; a patient's page has nothing to flash.
  if (me.role === 'clinician') startFlashing();
  render(<App me={me} live={live} />, root);
}

void boot();
