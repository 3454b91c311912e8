/** What the HTTP routes get from the composition root. */
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { Registry } from 'prom-client';
import type { Config } from '../config.ts';
import type { Services } from '../services.ts';
import type { CookieNames } from './auth-hook.ts';

export interface HttpContext {
  config: Config;
  services: Services;
  registry: Registry;
  tls: boolean;
  cookies: CookieNames;
  allowedOrigins: ReadonlySet<string>;
  authenticate: (req: FastifyRequest, reply: FastifyReply) => Promise<void>;
  /** False until every listener is up, and again while stopping: /readyz answers 503. */
  isReady: () => boolean;
}
