/**
 * Request authentication for the HTTP API: a Bearer token (CLI, devices, API clients) or the
 * HttpOnly session cookie (the web app). Cookie-authenticated requests that change state must
 * come from an allowed Origin: SameSite=Strict already stops cross-site sends in current browsers,
 * and the Origin check covers older ones and same-site subdomains (defence in depth).
 */
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { AuthService } from '../auth/auth-service.ts';
import type { Actor } from '../auth/policy.ts';
import { forbidden, unauthorized } from '../errors.ts';

declare module 'fastify' {
  interface FastifyRequest {
    actor?: Actor;
  }
}

export interface CookieNames {
  access: string;
  refresh: string;
}

export function cookieNames(tls: boolean): CookieNames {
  // The __Host- prefix makes the browser refuse the cookie unless it is Secure, host-only and Path=/.
  return tls ? { access: '__Host-cw_at', refresh: '__Host-cw_rt' } : { access: 'cw_at', refresh: 'cw_rt' };
}

const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

export function originAllowed(req: FastifyRequest, allowed: ReadonlySet<string>): boolean {
  const origin = req.headers.origin ?? refererOrigin(req.headers.referer);
  if (!origin) return false;
  if (allowed.has(origin)) return true;
  // Same origin as the request itself (the web app served by this server).
  return origin === `${req.protocol}://${req.host}`;
}

function refererOrigin(referer: string | undefined): string | undefined {
  if (!referer || !URL.canParse(referer)) return undefined;
  return new URL(referer).origin;
}

export function bearerToken(req: FastifyRequest): string | undefined {
  const h = req.headers.authorization;
  if (!h) return undefined;
  const m = /^Bearer\s+([A-Za-z0-9._~+/-]+=*)$/i.exec(h);
  if (!m) throw unauthorized('malformed Authorization header: expected "Bearer <token>"');
  return m[1];
}

export type AuthenticateHook = (
  req: FastifyRequest,
  reply: FastifyReply,
  done: (err?: Error) => void,
) => void;

/**
 * A callback-style hook rather than an async one: on the cached path (nearly every request) it
 * completes synchronously and costs no promise or microtask turn.
 */
export function makeAuthenticate(
  auth: AuthService,
  cookies: CookieNames,
  allowedOrigins: ReadonlySet<string>,
): AuthenticateHook {
  return function authenticate(req, _reply, done) {
    let token: string;
    try {
      const bearer = bearerToken(req);
      const t = bearer ?? req.cookies[cookies.access];
      if (!t) throw unauthorized();
      if (!bearer && !SAFE_METHODS.has(req.method) && !originAllowed(req, allowedOrigins)) {
        throw forbidden('cross-site request refused (Origin check)');
      }
      token = t;
      const cached = auth.authenticateCached(token, req.ip);
      if (cached) {
        req.actor = cached;
        done();
        return;
      }
    } catch (err) {
      done(err as Error);
      return;
    }
    auth.authenticate(token, req.ip).then(
      (actor) => {
        req.actor = actor;
        done();
      },
      (err: Error) => done(err),
    );
  };
}

export function actorOf(req: FastifyRequest): Actor {
  if (!req.actor) throw unauthorized();
  return req.actor;
}
