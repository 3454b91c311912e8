/** Login, refresh, logout and "who am I". Tokens go both into HttpOnly cookies and the JSON body. */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { Type } from 'typebox';
import type { IssuedTokens } from '../../auth/auth-service.ts';
import { PASSWORD_MAX } from '../../auth/passwords.ts';
import { forbidden, unauthorized } from '../../errors.ts';
import { actorOf, originAllowed } from '../auth-hook.ts';
import type { HttpContext } from '../context.ts';
import { UserSchema } from './schemas.ts';

const LoginBody = Type.Object(
  {
    username: Type.String({ minLength: 1, maxLength: 64 }),
    password: Type.String({ minLength: 1, maxLength: PASSWORD_MAX }),
  },
  { additionalProperties: false },
);
const RefreshBody = Type.Object(
  { refreshToken: Type.Optional(Type.String({ maxLength: 200 })) },
  { additionalProperties: false },
);
const TokenResponse = Type.Object({
  accessToken: Type.String(),
  tokenType: Type.Literal('Bearer'),
  expiresIn: Type.Integer({ description: 'seconds until the access token expires' }),
  refreshToken: Type.String(),
  user: UserSchema,
});

export function authRoutes(app: FastifyInstance, ctx: HttpContext): void {
  const { auth } = ctx.services;
  const { cookies, tls, allowedOrigins } = ctx;
  const loginLimit = { max: ctx.config.loginRateLimit, timeWindow: '1 minute' };

  const setCookies = (reply: FastifyReply, t: IssuedTokens) => {
    const base = { httpOnly: true, sameSite: 'strict' as const, secure: tls, path: '/' };
    reply.setCookie(cookies.access, t.accessToken, { ...base, expires: new Date(t.accessExpiresAt) });
    reply.setCookie(cookies.refresh, t.refreshToken, { ...base, expires: new Date(t.refreshExpiresAt) });
  };
  const body = (t: IssuedTokens) => ({
    accessToken: t.accessToken,
    tokenType: 'Bearer' as const,
    expiresIn: Math.round((t.accessExpiresAt - Date.now()) / 1000),
    refreshToken: t.refreshToken,
    user: t.user,
  });
  // A browser that sends an Origin must send ours: stops login CSRF (logging a victim into an
  // attacker's account). API clients without an Origin header are not browsers and pass.
  const checkOrigin = (req: FastifyRequest) => {
    if (req.headers.origin && !originAllowed(req, allowedOrigins))
      throw forbidden('cross-site request refused (Origin check)');
  };
  const reqCtx = (req: FastifyRequest) => ({
    address: req.ip,
    userAgent: req.headers['user-agent'],
    source: 'http',
  });

  app.post(
    '/api/auth/login',
    {
      config: { rateLimit: loginLimit },
      schema: {
        tags: ['auth'],
        summary: 'Log in with username and password',
        body: LoginBody,
        response: { 200: TokenResponse },
      },
    },
    async (req, reply) => {
      checkOrigin(req);
      const { username, password } = req.body as { username: string; password: string };
      const t = await auth.login(username, password, reqCtx(req));
      setCookies(reply, t);
      return body(t);
    },
  );

  app.post(
    '/api/auth/refresh',
    {
      config: { rateLimit: loginLimit },
      schema: {
        tags: ['auth'],
        summary: 'Exchange a refresh token (body or cookie) for new tokens; the old one stops working',
        body: Type.Optional(RefreshBody),
        response: { 200: TokenResponse },
      },
    },
    async (req, reply) => {
      const fromBody = (req.body as { refreshToken?: string } | undefined)?.refreshToken;
      const token = fromBody ?? req.cookies[cookies.refresh];
      if (!token) throw unauthorized('no refresh token');
      if (!fromBody && !originAllowed(req, allowedOrigins))
        throw forbidden('cross-site request refused (Origin check)');
      const t = await auth.refresh(token, reqCtx(req));
      setCookies(reply, t);
      return body(t);
    },
  );

  app.post(
    '/api/auth/logout',
    {
      onRequest: ctx.authenticate,
      schema: {
        tags: ['auth'],
        summary: 'End this session (all its tokens)',
        response: { 204: Type.Null() },
      },
    },
    async (req, reply) => {
      await auth.logout(actorOf(req), reqCtx(req));
      reply.clearCookie(cookies.access, { path: '/' });
      reply.clearCookie(cookies.refresh, { path: '/' });
      return reply.code(204).send();
    },
  );

  app.get(
    '/api/me',
    {
      onRequest: ctx.authenticate,
      schema: {
        tags: ['auth'],
        summary: 'The logged-in user',
        response: {
          200: Type.Object({
            id: Type.String(),
            username: Type.String(),
            role: Type.String(),
            patientId: Type.Union([Type.String(), Type.Null()]),
          }),
        },
      },
    },
    async (req) => {
      const a = actorOf(req);
      return { id: a.userId, username: a.username, role: a.role, patientId: a.patientId ?? null };
    },
  );
}
