/**
 * The Fastify server: security headers (strict CSP), CORS allow-list, rate limits, body limits,
 * schema-validated input, one error shape under /api (application/problem+json, RFC 9457),
 * health and readiness probes, Prometheus metrics, OpenAPI at /docs and the web app.
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import fastifyCookie from '@fastify/cookie';
import fastifyCors from '@fastify/cors';
import fastifyRateLimit from '@fastify/rate-limit';
import fastifyStatic from '@fastify/static';
import fastifySwagger from '@fastify/swagger';
import fastifySwaggerUi from '@fastify/swagger-ui';
import Fastify, {
  type FastifyError,
  type FastifyInstance,
  type FastifyReply,
  type FastifyRequest,
  LogController,
} from 'fastify';
import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import type { Config } from '../config.ts';
import { AppError } from '../errors.ts';
import { FHIR_PREFIX } from '../fhir/constants.ts';
import { sendOperationOutcome } from '../fhir/outcome.ts';
import type { Services } from '../services.ts';
import { cookieNames, makeAuthenticate } from './auth-hook.ts';
import type { HttpContext } from './context.ts';
import { instrumentHttp } from './metrics.ts';
import { adminRoutes } from './routes/admin.ts';
import { alarmsRoutes } from './routes/alarms.ts';
import { auditRoutes } from './routes/audit.ts';
import { authRoutes } from './routes/auth.ts';
import { devicesRoutes } from './routes/devices.ts';
import { fhirRoutes } from './routes/fhir.ts';
import { hl7Routes } from './routes/hl7.ts';
import { patientRoutes } from './routes/patients.ts';
import { recordsRoutes } from './routes/records.ts';
import { vitalsRoutes } from './routes/vitals.ts';
import { addSecurityHeaders } from './security-headers.ts';
import type { TlsMaterial } from './tls.ts';

export const WEB_ROOT = path.resolve(import.meta.dirname, '../../web/static');
/** The built web app (`vite build`, run by npm install); its files win over web/static's. */
export const WEB_DIST = path.resolve(import.meta.dirname, '../../web/dist');

export interface HttpServerOptions {
  config: Config;
  services: Services;
  registry: Registry;
  logger: Logger;
  tls: TlsMaterial | undefined;
  isReady: () => boolean;
}

export async function buildHttpServer(opts: HttpServerOptions): Promise<FastifyInstance> {
  const { config, services, registry, tls } = opts;
  const app = Fastify({
    loggerInstance: opts.logger,
    bodyLimit: config.bodyLimit,
    // Behind no proxy by default: the socket's address is the client's.
    trustProxy: false,
    // Request lines are off: every access to patient data is in the audit log, and a log line per
    // request would cost more than the request itself at benchmark rates.
    logController: new LogController({ disableRequestLogging: true }),
    ...(tls ? { https: { key: tls.key, cert: tls.cert, minVersion: 'TLSv1.2' as const } } : {}),
    ajv: { customOptions: { removeAdditional: false, coerceTypes: 'array', allErrors: false } },
  }) as unknown as FastifyInstance;

  const cookies = cookieNames(!!tls);
  const allowedOrigins = new Set(config.corsOrigins);
  if (config.publicUrl) allowedOrigins.add(new URL(config.publicUrl).origin);
  const ctx: HttpContext = {
    config,
    services,
    registry,
    tls: !!tls,
    cookies,
    allowedOrigins,
    authenticate: makeAuthenticate(services.auth, cookies, allowedOrigins),
    isReady: opts.isReady,
  };

  addSecurityHeaders(app, !!tls);
  await app.register(fastifyCors, {
    origin: (origin, cb) => cb(null, !origin || allowedOrigins.has(origin)),
    credentials: true,
  });
  await app.register(fastifyCookie);
  await app.register(fastifyRateLimit, {
    global: true,
    max: config.rateLimit,
    timeWindow: '1 minute',
    // Health probes and metrics are scraped often by infrastructure, never by attackers' scripts alone.
    allowList: (req) => req.url === '/healthz' || req.url === '/readyz' || req.url === '/metrics',
    errorResponseBuilder: (_req, c) =>
      new AppError(429, 'too-many-requests', `rate limit exceeded; retry in ${Math.ceil(c.ttl / 1000)} s`, {
        'retry-after': String(Math.ceil(c.ttl / 1000)),
      }),
  });
  await app.register(fastifySwagger, {
    openapi: {
      info: { title: 'CareWire API', version: '0.1.0', description: 'Clinical communication hub REST API' },
      components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer', bearerFormat: 'JWT' } } },
      security: [{ bearer: [] }],
    },
  });
  await app.register(fastifySwaggerUi, {
    routePrefix: '/docs',
    staticCSP: true,
    // Its default policy asks browsers to upgrade to https, which breaks the UI on plain loopback HTTP.
    transformStaticCSP: (h) => (tls ? h : h.replace(/\s*upgrade-insecure-requests;?/, '')),
  });

  app.setErrorHandler((err: FastifyError | AppError, req, reply) => sendError(err, req, reply));
  app.setNotFoundHandler((req, reply) =>
    sendError(new AppError(404, 'not-found', `no route ${req.method} ${req.url.split('?')[0]}`), req, reply),
  );
  instrumentHttp(app, registry);

  app.get('/healthz', { schema: { hide: true } }, async () => ({ status: 'ok' }));
  app.get('/readyz', { schema: { hide: true } }, async (_req, reply) => {
    if (!ctx.isReady()) return reply.code(503).send({ status: 'starting or stopping' });
    await services.store.ping();
    return { status: 'ready', store: services.store.engine };
  });
  app.get('/metrics', { schema: { hide: true } }, async (_req, reply) => {
    reply.type(registry.contentType);
    return registry.metrics();
  });

  authRoutes(app, ctx);
  patientRoutes(app, ctx);
  adminRoutes(app, ctx);
  auditRoutes(app, ctx);
  hl7Routes(app, ctx);
  fhirRoutes(app, ctx);
  recordsRoutes(app, ctx);
  alarmsRoutes(app, ctx);
  vitalsRoutes(app, ctx);
  devicesRoutes(app, ctx);

  const webRoots = existsSync(WEB_DIST) ? [WEB_DIST, WEB_ROOT] : WEB_ROOT;
  await app.register(fastifyStatic, { root: webRoots, index: ['index.html'], wildcard: false });
  return app;
}

function sendError(err: FastifyError | AppError, req: FastifyRequest, reply: FastifyReply): FastifyReply {
  let status: number;
  let code: string;
  let detail: string;
  if (err instanceof AppError) {
    status = err.status;
    code = err.code;
    detail = err.message;
    for (const [k, v] of Object.entries(err.headers)) reply.header(k, v);
  } else if ((err as FastifyError).validation) {
    status = 400;
    code = 'validation';
    detail = err.message;
  } else if (typeof err.statusCode === 'number' && err.statusCode >= 400 && err.statusCode < 500) {
    status = err.statusCode;
    code = err.code ? err.code.toLowerCase() : 'bad-request';
    detail = err.message;
  } else {
    status = 500;
    code = 'internal';
    // Internal details stay in the log, not in the response.
    detail = 'internal error';
    req.log.error({ err }, 'request failed');
  }
  // FHIR clients expect OperationOutcome, not problem+json.
  if (req.url.startsWith(FHIR_PREFIX)) return sendOperationOutcome(reply, status, code, detail);
  const problem = {
    type: `https://carewire.dev/problems/${code}`,
    title: code,
    status,
    detail,
    instance: req.url.split('?')[0],
  };
  if (req.url.startsWith('/api/') || req.url === '/api') {
    return reply.code(status).type('application/problem+json').send(problem);
  }
  return reply.code(status).send(problem);
}
