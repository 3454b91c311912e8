/** What the HTTP routes get from the composition root. */
import type { Registry } from 'prom-client';
import type { Config } from '../config.ts';
import type { Services } from '../services.ts';
import type { AuthenticateHook, CookieNames } from './auth-hook.ts';

export interface HttpContext {
  config: Config;
  services: Services;
  registry: Registry;
  tls: boolean;
  cookies: CookieNames;
  allowedOrigins: ReadonlySet<string>;
  authenticate: AuthenticateHook;
  /** False until every listener is up, and again while stopping: /readyz answers 503. */
  isReady: () => boolean;
}
