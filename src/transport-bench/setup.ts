/**
 * Connection set-up costs, one connection at a time, each closed (and its close finished) before
 * the next starts: TCP connect (one round trip), TLS 1.3 full handshake (TCP + one more round trip
 * + certificate signature and verification), TLS 1.3 resumed with a session ticket (no certificate
 * work), WebSocket upgrade (TCP + an HTTP upgrade round trip), and one HTTP request on a new
 * connection (TCP + request/response).
 */
import http from 'node:http';
import net from 'node:net';
import tls from 'node:tls';
import { WebSocket } from 'ws';
import { tlsOptions } from './pingpong.ts';
import type { ServerInfo } from './protocol.ts';

export const SETUP_KINDS = [
  'tcp-connect',
  'tls-full',
  'tls-resumed',
  'ws-upgrade',
  'http-new-connection',
] as const;
export type SetupKind = (typeof SETUP_KINDS)[number];

export const SETUP_LABELS: Record<SetupKind, string> = {
  'tcp-connect': 'TCP connect',
  'tls-full': 'TLS 1.3 full handshake',
  'tls-resumed': 'TLS 1.3 resumed (ticket)',
  'ws-upgrade': 'WebSocket upgrade',
  'http-new-connection': 'HTTP request, new connection',
};

export interface SetupSpec {
  host: string;
  info: ServerInfo;
  kind: SetupKind;
  count: number;
  warmup: number;
  onProgress?: (n: number) => void;
}

export interface SetupRun {
  /** Microseconds from "start connecting" to "ready to send" (or response complete for HTTP). */
  us: Float64Array;
  /** For tls-resumed: how many handshakes the server really resumed (the rest were full). */
  resumed: number;
}

type Attempt = () => Promise<{ us: number; resumed: boolean }>;

function closed(s: net.Socket): Promise<void> {
  return new Promise((resolve) => {
    if (s.destroyed && s.closed) resolve();
    else {
      s.once('close', () => resolve());
      s.destroy();
    }
  });
}

function tcpAttempt(spec: SetupSpec): Attempt {
  return () =>
    new Promise((resolve, reject) => {
      const t0 = performance.now();
      const s = net.connect({ host: spec.host, port: spec.info.ports.tcp, noDelay: true });
      s.once('error', reject);
      s.once('connect', () => {
        const us = (performance.now() - t0) * 1000;
        closed(s).then(() => resolve({ us, resumed: false }), reject);
      });
    });
}

function tlsAttempt(spec: SetupSpec, session: () => Buffer | undefined): Attempt {
  return () =>
    new Promise((resolve, reject) => {
      const t0 = performance.now();
      const s = tls.connect({ ...tlsOptions(spec), session: session() });
      s.once('error', reject);
      s.once('secureConnect', () => {
        const us = (performance.now() - t0) * 1000;
        const resumed = s.isSessionReused();
        closed(s).then(() => resolve({ us, resumed }), reject);
      });
    });
}

/** One full handshake whose TLS 1.3 ticket (sent by the server after the handshake) we keep. */
function fetchTicket(spec: SetupSpec): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const s = tls.connect(tlsOptions(spec));
    const timer = setTimeout(() => {
      s.destroy();
      reject(new Error('the TLS server sent no session ticket'));
    }, 5000);
    s.once('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    s.once('session', (ticket: Buffer) => {
      clearTimeout(timer);
      s.destroy();
      resolve(ticket);
    });
  });
}

function wsAttempt(spec: SetupSpec): Attempt {
  const host = net.isIPv6(spec.host) ? `[${spec.host}]` : spec.host;
  const url = `ws://${host}:${spec.info.ports.http}${spec.info.wsPath}`;
  return () =>
    new Promise((resolve, reject) => {
      const t0 = performance.now();
      const ws = new WebSocket(url, { perMessageDeflate: false });
      ws.once('error', reject);
      ws.once('open', () => {
        const us = (performance.now() - t0) * 1000;
        ws.once('close', () => resolve({ us, resumed: false }));
        ws.terminate();
      });
    });
}

function httpAttempt(spec: SetupSpec): Attempt {
  return () =>
    new Promise((resolve, reject) => {
      const t0 = performance.now();
      // agent: false = a fresh connection that closes after this one request.
      const req = http.get(
        { host: spec.host, port: spec.info.ports.http, path: '/ping', agent: false },
        (res) => {
          res.resume();
          res.once('end', () => {
            const us = (performance.now() - t0) * 1000;
            if (res.statusCode !== 200) reject(new Error(`GET /ping answered ${res.statusCode}`));
            else closed(res.socket).then(() => resolve({ us, resumed: false }), reject);
          });
        },
      );
      req.once('error', reject);
    });
}

export async function measureSetup(spec: SetupSpec): Promise<SetupRun> {
  let attempt: Attempt;
  switch (spec.kind) {
    case 'tcp-connect':
      attempt = tcpAttempt(spec);
      break;
    case 'tls-full':
      attempt = tlsAttempt(spec, () => undefined);
      break;
    case 'tls-resumed': {
      const ticket = await fetchTicket(spec);
      attempt = tlsAttempt(spec, () => ticket);
      break;
    }
    case 'ws-upgrade':
      attempt = wsAttempt(spec);
      break;
    case 'http-new-connection':
      attempt = httpAttempt(spec);
      break;
  }
  const us = new Float64Array(spec.count);
  let resumed = 0;
  for (let i = -spec.warmup; i < spec.count; i++) {
    const r = await attempt();
    if (i < 0) continue;
    us[i] = r.us;
    if (r.resumed) resumed++;
    spec.onProgress?.(1);
  }
  return { us, resumed };
}
