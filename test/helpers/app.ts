/** Starts a real CareWire server on loopback port 0 in a temporary data folder, on either engine. */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { type RunningApp, startApp } from '../../src/app.ts';
import { type Config, loadConfig } from '../../src/config.ts';
import type { Services } from '../../src/services.ts';
import { createPgSchema, type PgSchema } from './pg.ts';

export type EngineName = 'sqlite' | 'postgres';
export const ENGINES: EngineName[] = ['sqlite', 'postgres'];

export interface TestApp {
  app: RunningApp;
  url: string;
  dataDir: string;
  services: Services;
  close(): Promise<void>;
}

export function tempDir(prefix = 'cw-test-'): string {
  return mkdtempSync(path.join(tmpdir(), prefix));
}

export async function startTestApp(
  engine: EngineName,
  flags: Record<string, unknown> = {},
  beforeListen?: (s: Services) => Promise<void>,
): Promise<TestApp> {
  const dataDir = tempDir();
  let schema: PgSchema | undefined;
  if (engine === 'postgres') schema = await createPgSchema();
  const config: Config = loadConfig(
    {
      data: dataDir,
      port: '0',
      hl7Port: '0',
      telemetryPort: '0',
      alarmPort: '0',
      logLevel: 'silent',
      databaseUrl: schema?.url,
      ...flags,
    },
    {},
  );
  const app = await startApp(config, beforeListen ? { beforeListen } : {});
  return {
    app,
    url: app.url,
    dataDir,
    services: app.services,
    async close() {
      await app.stop();
      await schema?.drop();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

export interface Json {
  status: number;
  headers: Headers;
  // biome-ignore lint/suspicious/noExplicitAny: test responses are inspected field by field
  body: any;
}

/** fetch with JSON in and out; never throws on an HTTP error status. */
export async function call(
  base: string,
  method: string,
  pathname: string,
  opts: { token?: string; body?: unknown; headers?: Record<string, string> } = {},
): Promise<Json> {
  const headers: Record<string, string> = { ...opts.headers };
  if (opts.token) headers.authorization = `Bearer ${opts.token}`;
  if (opts.body !== undefined) headers['content-type'] = 'application/json';
  const res = await fetch(base + pathname, {
    method,
    headers,
    body: opts.body === undefined ? undefined : JSON.stringify(opts.body),
  });
  const text = await res.text();
  let body: unknown = text;
  try {
    body = text ? JSON.parse(text) : null;
  } catch {
    // not JSON: keep the text
  }
  return { status: res.status, headers: res.headers, body };
}

export async function login(base: string, username: string, password: string): Promise<Json> {
  return call(base, 'POST', '/api/auth/login', { body: { username, password } });
}
