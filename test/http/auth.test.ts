/** Login, cookies, refresh rotation, reuse detection, logout, brute force and CSRF over real HTTP. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { call, ENGINES, login, startTestApp, type TestApp } from '../helpers/app.ts';
import { PASSWORD, seedWorld } from '../helpers/fixtures.ts';

describe.each(ENGINES)('auth over HTTP on %s', (engine) => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp(engine, {}, async (s) => {
      await seedWorld(s);
    });
  });
  afterAll(() => t.close());

  it('logs in: JSON tokens plus HttpOnly SameSite=Strict cookies, and /api/me answers', async () => {
    const r = await login(t.url, 'clinician', PASSWORD);
    expect(r.status).toBe(200);
    expect(r.body).toMatchObject({ tokenType: 'Bearer', user: { username: 'clinician', role: 'clinician' } });
    expect(r.body.user.password_hash).toBeUndefined();
    const cookies = r.headers.getSetCookie();
    const at = cookies.find((c) => c.startsWith('cw_at='));
    expect(at).toMatch(/HttpOnly/i);
    expect(at).toMatch(/SameSite=Strict/i);
    const me = await call(t.url, 'GET', '/api/me', { token: r.body.accessToken });
    expect(me.body).toMatchObject({ username: 'clinician', role: 'clinician' });
    const viaCookie = await call(t.url, 'GET', '/api/me', { headers: { cookie: at!.split(';')[0]! } });
    expect(viaCookie.status).toBe(200);
  });

  it('refuses a wrong password and an unknown user with the same answer, and audits both', async () => {
    const a = await login(t.url, 'clinician', 'wrong password!');
    const b = await login(t.url, 'nobody', 'wrong password!');
    expect(a.status).toBe(401);
    expect(b.status).toBe(401);
    expect(a.body.detail).toBe(b.body.detail);
    expect(a.headers.get('content-type')).toMatch(/application\/problem\+json/);
    await t.services.audit.flush();
    const failures = await t.services.audit.query({ type: 'auth.login', limit: 1000 });
    expect(failures.filter((e) => e.outcome === 4 && e.agent?.username === 'nobody').length).toBeGreaterThan(
      0,
    );
  });

  it('rotates refresh tokens and detects reuse by revoking the session', async () => {
    const first = await login(t.url, 'patient', PASSWORD);
    const r1 = first.body.refreshToken as string;
    const second = await call(t.url, 'POST', '/api/auth/refresh', { body: { refreshToken: r1 } });
    expect(second.status).toBe(200);
    const r2 = second.body.refreshToken as string;
    expect(r2).not.toBe(r1);
    expect((await call(t.url, 'GET', '/api/me', { token: second.body.accessToken })).status).toBe(200);
    // The old token again: theft. The session dies, including the newest tokens.
    const replay = await call(t.url, 'POST', '/api/auth/refresh', { body: { refreshToken: r1 } });
    expect(replay.status).toBe(401);
    expect(replay.body.detail).toMatch(/reused/);
    expect((await call(t.url, 'POST', '/api/auth/refresh', { body: { refreshToken: r2 } })).status).toBe(401);
    expect((await call(t.url, 'GET', '/api/me', { token: second.body.accessToken })).status).toBe(401);
    await t.services.audit.flush();
    const ev = await t.services.audit.query({ type: 'auth.refresh', limit: 1000 });
    expect(ev.some((e) => e.outcome === 8)).toBe(true);
  });

  it('refuses malformed and unknown refresh tokens', async () => {
    for (const refreshToken of ['x', 'nope.nope', `${'a'.repeat(36)}.secret`]) {
      expect((await call(t.url, 'POST', '/api/auth/refresh', { body: { refreshToken } })).status).toBe(401);
    }
    expect((await call(t.url, 'POST', '/api/auth/refresh', { body: {} })).status).toBe(401);
  });

  it('logout revokes the session: its access and refresh tokens stop working', async () => {
    const s = await login(t.url, 'auditor', PASSWORD);
    const token = s.body.accessToken as string;
    const out = await call(t.url, 'POST', '/api/auth/logout', { token });
    expect(out.status).toBe(204);
    expect((await call(t.url, 'GET', '/api/me', { token })).status).toBe(401);
    expect(
      (await call(t.url, 'POST', '/api/auth/refresh', { body: { refreshToken: s.body.refreshToken } }))
        .status,
    ).toBe(401);
  });

  it('refuses requests without or with a malformed token', async () => {
    expect((await call(t.url, 'GET', '/api/me')).status).toBe(401);
    expect((await call(t.url, 'GET', '/api/me', { headers: { authorization: 'Basic abc' } })).status).toBe(
      401,
    );
    expect((await call(t.url, 'GET', '/api/me', { token: 'a.b.c' })).status).toBe(401);
  });

  it('backs off one account from one address after repeated failures, without locking out the real user elsewhere', async () => {
    const codes: number[] = [];
    for (let i = 0; i < 7; i++) codes.push((await login(t.url, 'admin', 'not the password')).status);
    expect(codes.slice(0, 5)).toEqual([401, 401, 401, 401, 401]);
    expect(codes.slice(5)).toContain(429);
    const blocked = await login(t.url, 'admin', PASSWORD);
    expect(blocked.status).toBe(429);
    expect(Number(blocked.headers.get('retry-after'))).toBeGreaterThan(0);
    expect(Number(blocked.headers.get('retry-after'))).toBeLessThanOrEqual(60);
    // The same user from another address is not affected (the guard keys on account + address).
    const other = await t.services.auth.login('admin', PASSWORD, { address: '198.51.100.7' });
    expect(other.user.username).toBe('admin');
  });

  it('refuses cookie-authenticated state changes from another origin (CSRF), accepts same-origin and Bearer', async () => {
    const s = await login(t.url, 'clinician', PASSWORD);
    const cookie = s.headers
      .getSetCookie()
      .map((c) => c.split(';')[0])
      .join('; ');
    const evil = await call(t.url, 'POST', '/api/auth/logout', {
      headers: { cookie, origin: 'https://evil.example' },
    });
    expect(evil.status).toBe(403);
    const noOrigin = await call(t.url, 'POST', '/api/auth/logout', { headers: { cookie } });
    expect(noOrigin.status).toBe(403);
    expect((await call(t.url, 'GET', '/api/me', { headers: { cookie } })).status).toBe(200);
    const cross = await call(t.url, 'POST', '/api/auth/login', {
      body: { username: 'clinician', password: PASSWORD },
      headers: { origin: 'https://evil.example' },
    });
    expect(cross.status).toBe(403);
    const same = await call(t.url, 'POST', '/api/auth/logout', { headers: { cookie, origin: t.url } });
    expect(same.status).toBe(204);
  });
});

describe('expired access token over HTTP', () => {
  it('is refused with 401 once its lifetime has passed, and a refresh gives a working one', async () => {
    const t = await startTestApp('sqlite', { accessTokenTtl: '1' }, async (s) => {
      await seedWorld(s);
    });
    try {
      const s = await login(t.url, 'clinician', PASSWORD);
      expect((await call(t.url, 'GET', '/api/me', { token: s.body.accessToken })).status).toBe(200);
      await new Promise((r) => setTimeout(r, 2100));
      const expired = await call(t.url, 'GET', '/api/me', { token: s.body.accessToken });
      expect(expired.status).toBe(401);
      expect(expired.body.detail).toMatch(/expired/);
      const fresh = await call(t.url, 'POST', '/api/auth/refresh', {
        body: { refreshToken: s.body.refreshToken },
      });
      expect((await call(t.url, 'GET', '/api/me', { token: fresh.body.accessToken })).status).toBe(200);
    } finally {
      await t.close();
    }
  });
});
