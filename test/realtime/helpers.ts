/** Socket.IO clients and device alarms for the real-time tests. */
import { io, type Socket } from 'socket.io-client';
import type { SubscribeAck, SubscribeRequest } from '../../src/realtime/protocol.ts';
import type { Services } from '../../src/services.ts';

export function connect(
  url: string,
  opts: { token?: string; headers?: Record<string, string>; reconnection?: boolean } = {},
): Socket {
  return io(url, {
    transports: ['websocket'],
    reconnection: opts.reconnection ?? false,
    forceNew: true,
    ...(opts.token ? { auth: { token: opts.token } } : {}),
    ...(opts.headers ? { extraHeaders: opts.headers } : {}),
  });
}

/** Resolves on connect; rejects with the server's connect_error (message and data). */
export function connected(s: Socket): Promise<void> {
  return new Promise((resolve, reject) => {
    s.once('connect', () => resolve());
    s.once('connect_error', (err) => reject(err));
  });
}

export function subscribe(s: Socket, req: SubscribeRequest): Promise<SubscribeAck> {
  return s.timeout(10_000).emitWithAck('subscribe', req) as Promise<SubscribeAck>;
}

/** Collects every event of a name, with a way to wait for one that matches. */
export function collect<T>(
  s: Socket,
  event: string,
): { items: T[]; until(pred: (x: T) => boolean, ms?: number): Promise<T> } {
  const items: T[] = [];
  const waiters: Array<{ pred: (x: T) => boolean; resolve: (x: T) => void }> = [];
  s.on(event, (x: T) => {
    items.push(x);
    for (const w of [...waiters]) {
      if (w.pred(x)) {
        waiters.splice(waiters.indexOf(w), 1);
        w.resolve(x);
      }
    }
  });
  return {
    items,
    until(pred, ms = 8000) {
      const found = items.find(pred);
      if (found) return Promise.resolve(found);
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`no ${event} event matched within ${ms} ms`)), ms);
        waiters.push({
          pred,
          resolve: (x) => {
            clearTimeout(timer);
            resolve(x);
          },
        });
      });
    },
  };
}

let n = 0;
/** A device alarm straight into the alarm service (stored and published like one from the TCP channel). */
export async function raiseDeviceAlarm(
  s: Services,
  patientId: string,
  kind = 'asystole',
  priority: 'high' | 'medium' | 'low' = 'high',
): Promise<{ alarmRef: string | null }> {
  const alarmId = `t-${Date.now()}-${++n}`;
  return s.alarms.deviceAlarm(
    { id: `dev-${patientId.slice(0, 8)}`, patientId },
    {
      alarmId,
      event: 'raised',
      kind,
      category: kind === 'lead-off' || kind === 'sensor-off' ? 'technical' : 'physiological',
      priority,
      time: Date.now(),
      text: `${kind} (test)`,
    },
  );
}
