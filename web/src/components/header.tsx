/** Top bar: brand, connection indicator, sound toggle, user and sign-out. */
import type { Me } from '../api.ts';
import { age } from '../format.ts';
import type { Connection } from '../live.ts';

const CONN_TEXT: Record<Connection, string> = {
  connecting: 'Connecting…',
  live: 'Live',
  reconnecting: 'Reconnecting…',
  offline: 'Offline',
};

export function ConnectionBadge(props: { state: Connection; downForMs: number }) {
  const { state } = props;
  return (
    <div
      class={`conn conn-${state}`}
      role="status"
      aria-live="polite"
      data-testid="connection"
      data-state={state}
    >
      <span class="conn-dot" aria-hidden="true" />
      <span class="conn-text">{CONN_TEXT[state]}</span>
      {state !== 'live' && state !== 'connecting' && props.downForMs > 0 ? (
        <span class="conn-age"> for {age(props.downForMs)}</span>
      ) : null}
    </div>
  );
}

export function Header(props: {
  me: Me;
  title: string;
  connection: Connection;
  downForMs: number;
  sound?: { enabled: boolean; muted: boolean; toggle: () => void; label?: string | undefined } | undefined;
  onSignOut: () => void;
}) {
  const s = props.sound;
  return (
    <header class="topbar">
      <div class="brand">
        <span class="brand-mark" aria-hidden="true" />
        CareWire
      </div>
      <h1 class="page-title">{props.title}</h1>
      <div class="topbar-right">
        <ConnectionBadge state={props.connection} downForMs={props.downForMs} />
        {s ? (
          <button
            type="button"
            class={`sound ${s.enabled && !s.muted ? 'sound-on' : 'sound-off'}`}
            aria-pressed={s.enabled && !s.muted}
            onClick={s.toggle}
            data-testid="sound"
          >
            <SpeakerIcon on={s.enabled && !s.muted} />
            {s.enabled
              ? s.muted
                ? (s.label ?? 'Alarm sound paused')
                : 'Alarm sound on'
              : 'Turn alarm sound on'}
          </button>
        ) : null}
        <span class="who">
          {props.me.username} <span class="role">{props.me.role}</span>
        </span>
        <button type="button" class="ghost" onClick={props.onSignOut}>
          Sign out
        </button>
      </div>
    </header>
  );
}

function SpeakerIcon(props: { on: boolean }) {
  return (
    <svg class="icon" viewBox="0 0 24 24" aria-hidden="true">
      <path d="M4 9h4l5-4v14l-5-4H4z" />
      {props.on ? (
        <path class="wave" d="M16 8.5a5 5 0 0 1 0 7M18.5 6a8.5 8.5 0 0 1 0 12" />
      ) : (
        <path class="wave" d="M16 9l6 6M22 9l-6 6" />
      )}
    </svg>
  );
}
