/**
 * Socket handshake authentication: the same credentials as HTTP (Bearer token in the handshake's
 * `auth.token` or Authorization header, or the HttpOnly session cookie), checked by the same
 * AuthService. A cookie-authenticated handshake must come from an allowed Origin (or this
 * server's own): browsers send cookies on cross-site WebSocket handshakes, and SameSite does not
 * cover every case (cross-site WebSocket hijacking).
 */
import type { IncomingHttpHeaders } from 'node:http';
import type { AuthService } from '../auth/auth-service.ts';
import type { Actor } from '../auth/policy.ts';
import { AppError, forbidden, unauthorized } from '../errors.ts';

export interface HandshakeInfo {
  headers: IncomingHttpHeaders;
  auth: Record<string, unknown>;
  address: string;
  secure: boolean;
}

export interface Credentials {
  token: string;
  via: 'bearer' | 'cookie';
}

const TOKEN_RE = /^[A-Za-z0-9._~+/-]+=*$/;
const MAX_TOKEN = 4096;

/** Reads one cookie from a Cookie header without decoding anything else. */
export function readCookie(header: string | undefined, name: string): string | undefined {
  if (!header) return undefined;
  for (const part of header.split(';')) {
    const eq = part.indexOf('=');
    if (eq < 0) continue;
    if (part.slice(0, eq).trim() === name) {
      const v = part.slice(eq + 1).trim();
      return v.startsWith('"') && v.endsWith('"') ? v.slice(1, -1) : v;
    }
  }
  return undefined;
}

export function credentialsOf(h: HandshakeInfo, cookieName: string): Credentials {
  const fromAuth = h.auth.token;
  if (fromAuth !== undefined) {
    if (typeof fromAuth !== 'string' || fromAuth.length > MAX_TOKEN || !TOKEN_RE.test(fromAuth))
      throw unauthorized('malformed token in the handshake');
    return { token: fromAuth, via: 'bearer' };
  }
  const header = h.headers.authorization;
  if (header) {
    const m = /^Bearer\s+([A-Za-z0-9._~+/-]+=*)$/i.exec(header);
    if (!m || m[1]!.length > MAX_TOKEN) throw unauthorized('malformed Authorization header');
    return { token: m[1]!, via: 'bearer' };
  }
  const cookie = readCookie(h.headers.cookie, cookieName);
  if (!cookie) throw unauthorized();
  return { token: cookie, via: 'cookie' };
}

export function originAllowed(h: HandshakeInfo, allowed: ReadonlySet<string>): boolean {
  const origin = h.headers.origin;
  if (!origin) return false;
  if (allowed.has(origin)) return true;
  return origin === `${h.secure ? 'https' : 'http'}://${h.headers.host}`;
}

/** Authenticates a handshake; throws an AppError (401/403) with a message fit for the client. */
export async function authenticateHandshake(
  auth: AuthService,
  h: HandshakeInfo,
  cookieName: string,
  allowedOrigins: ReadonlySet<string>,
): Promise<{ actor: Actor; credentials: Credentials }> {
  const credentials = credentialsOf(h, cookieName);
  if (credentials.via === 'cookie' && !originAllowed(h, allowedOrigins))
    throw forbidden('cross-site socket refused (Origin check)');
  const actor =
    auth.authenticateCached(credentials.token, h.address) ??
    (await auth.authenticate(credentials.token, h.address));
  return { actor, credentials };
}

/** Socket.IO passes errors to the client as `connect_error` with `message` and `data`. */
export function handshakeError(err: unknown): Error & { data: { status: number; code: string } } {
  const e = new Error(err instanceof AppError ? err.message : 'internal error') as Error & {
    data: { status: number; code: string };
  };
  e.data =
    err instanceof AppError ? { status: err.status, code: err.code } : { status: 500, code: 'internal' };
  return e;
}
