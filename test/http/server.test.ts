/** The HTTP server's cross-cutting behaviour: headers, error shape, limits, probes, metrics, docs, TLS. */
import { readFileSync, statSync } from 'node:fs';
import https from 'node:https';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { call, login, startTestApp, type TestApp } from '../helpers/app.ts';
import { PASSWORD, seedWorld } from '../helpers/fixtures.ts';

describe('HTTP server', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp('sqlite', { bodyLimit: '4096' }, async (s) => {
      await seedWorld(s);
    });
  });
  afterAll(() => t.close());

  it('sends a strict CSP and other security headers', async () => {
    const r = await fetch(`${t.url}/`);
    expect(r.status).toBe(200);
    const csp = r.headers.get('content-security-policy') ?? '';
    expect(csp).toContain("default-src 'self'");
    expect(csp).toContain("script-src 'self'");
    expect(csp).not.toContain('unsafe-inline');
    expect(csp).toContain("frame-ancestors 'none'");
    expect(r.headers.get('x-content-type-options')).toBe('nosniff');
    expect(await r.text()).toContain('Sign in');
  });

  it('answers unknown API routes with problem+json 404', async () => {
    const r = await call(t.url, 'GET', '/api/nope');
    expect(r.status).toBe(404);
    expect(r.headers.get('content-type')).toMatch(/application\/problem\+json/);
    expect(r.body).toMatchObject({ status: 404, title: 'not-found' });
  });

  it('refuses an oversized body with 413 and malformed JSON with 400', async () => {
    const big = await call(t.url, 'POST', '/api/auth/login', {
      body: { username: 'x', password: 'y'.repeat(10_000) },
    });
    expect(big.status).toBe(413);
    const res = await fetch(`${t.url}/api/auth/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: '{"username":',
    });
    expect(res.status).toBe(400);
    expect(res.headers.get('content-type')).toMatch(/problem\+json/);
  });

  it('validates input against the schema and names the field', async () => {
    const r = await call(t.url, 'POST', '/api/auth/login', { body: { username: 'x' } });
    expect(r.status).toBe(400);
    expect(r.body.detail).toMatch(/password/);
  });

  it('has health, readiness and Prometheus metrics', async () => {
    expect((await call(t.url, 'GET', '/healthz')).body).toEqual({ status: 'ok' });
    expect((await call(t.url, 'GET', '/readyz')).body).toMatchObject({ status: 'ready', store: 'sqlite' });
    const m = await fetch(`${t.url}/metrics`);
    const text = await m.text();
    expect(text).toContain('carewire_http_request_duration_seconds');
    expect(text).toContain('process_cpu_user_seconds_total');
  });

  it('serves the OpenAPI document and UI at /docs', async () => {
    const ui = await fetch(`${t.url}/docs/`);
    expect(ui.status).toBe(200);
    const spec = await call(t.url, 'GET', '/docs/json');
    expect(spec.body.openapi).toMatch(/^3\./);
    expect(Object.keys(spec.body.paths)).toEqual(
      expect.arrayContaining(['/api/auth/login', '/api/me', '/api/patients/{id}']),
    );
  });

  it('writes the ports in use to DATA/ports.json', () => {
    const ports = JSON.parse(readFileSync(path.join(t.dataDir, 'ports.json'), 'utf8'));
    expect(ports.http).toBe(Number(new URL(t.url).port));
  });

  it('rate-limits login attempts per address', async () => {
    const limited = await startTestApp('sqlite', { loginRateLimit: '3' });
    try {
      const codes = [];
      for (let i = 0; i < 5; i++) codes.push((await login(limited.url, `user${i}`, 'whatever-pass')).status);
      expect(codes.slice(0, 3)).toEqual([401, 401, 401]);
      expect(codes.slice(3)).toEqual([429, 429]);
    } finally {
      await limited.close();
    }
  });

  it('a stored key file is private to the owner', () => {
    const mode = statSync(path.join(t.dataDir, 'keys', 'token-signing-ed25519.pem')).mode & 0o777;
    expect(mode).toBe(0o600);
  });

  it('logs in through the plain login page script', async () => {
    const js = await fetch(`${t.url}/app.js`);
    expect(js.status).toBe(200);
    expect((await login(t.url, 'patient', PASSWORD)).status).toBe(200);
  });
});

describe('HTTP server with --tls', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp('sqlite', { tls: true, host: '127.0.0.1' }, async (s) => {
      await seedWorld(s);
    });
  });
  afterAll(() => t.close());

  const get = (pathname: string, init: { method?: string; body?: string } = {}) =>
    new Promise<{ status: number; headers: Record<string, string | string[] | undefined>; body: string }>(
      (resolve, reject) => {
        const ca = readFileSync(path.join(t.dataDir, 'tls', 'cert.pem'));
        const req = https.request(
          `${t.url}${pathname}`,
          {
            ca,
            method: init.method ?? 'GET',
            headers: init.body ? { 'content-type': 'application/json' } : {},
          },
          (res) => {
            let body = '';
            res.on('data', (c) => {
              body += c;
            });
            res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
          },
        );
        req.on('error', reject);
        req.end(init.body);
      },
    );

  it('generates a self-signed certificate that verifies for 127.0.0.1, and sets HSTS', async () => {
    expect(t.url.startsWith('https://')).toBe(true);
    const r = await get('/healthz');
    expect(r.status).toBe(200);
    expect(r.headers['strict-transport-security']).toMatch(/max-age=/);
    const keyMode = statSync(path.join(t.dataDir, 'tls', 'key.pem')).mode & 0o777;
    expect(keyMode).toBe(0o600);
  });

  it('uses __Host- prefixed Secure cookies under TLS', async () => {
    const r = await get('/api/auth/login', {
      method: 'POST',
      body: JSON.stringify({ username: 'clinician', password: PASSWORD }),
    });
    expect(r.status).toBe(200);
    const cookies = (r.headers['set-cookie'] ?? []) as string[];
    const at = cookies.find((c) => c.startsWith('__Host-cw_at='));
    expect(at).toBeDefined();
    expect(at).toMatch(/Secure/);
    expect(at).toMatch(/Path=\//);
    expect(at).not.toMatch(/Domain=/i);
  });
});
