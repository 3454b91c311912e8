/**
 * The auditor page (web/static/auditor.html) in Chromium under the server's strict CSP: integrity
 * status and "verify now", the filterable timeline, the per-patient access report, keyboard use.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { call, login, startTestApp, type TestApp } from '../helpers/app.ts';
import { PASSWORD, seedWorld, type World } from '../helpers/fixtures.ts';
import { type Browser, openBrowser } from '../web/browser.ts';

describe('auditor page', () => {
  let t: TestApp;
  let world: World;
  let b: Browser;

  beforeAll(async () => {
    t = await startTestApp('sqlite', {}, async (s) => {
      world = await seedWorld(s);
    });
    const clinician = (await login(t.url, 'clinician', PASSWORD)).body.accessToken;
    await call(t.url, 'GET', `/api/patients/${world.patients.team}`, { token: clinician });
    await call(t.url, 'GET', `/api/patients/${world.patients.other}`, { token: clinician }); // denied
    await t.services.audit.checkpoint();
    b = await openBrowser();
  });
  afterAll(async () => {
    await b?.close();
    await t.close();
  });

  it('shows the checkpoint, verifies on request, filters the timeline and reports per patient', async () => {
    const { page } = b;
    // The session cookie, as the sign-in page would set it.
    const r = await page.request.post(`${t.url}/api/auth/login`, {
      data: { username: 'auditor', password: PASSWORD },
      headers: { origin: t.url },
    });
    expect(r.status()).toBe(200);
    await page.goto(`${t.url}/auditor.html`);
    await expect.poll(() => page.locator('#cp-size').textContent()).toMatch(/^\d+$/);
    await expect.poll(() => page.locator('#events tbody tr').count()).toBeGreaterThan(3);

    await page.getByRole('button', { name: 'Verify now' }).click();
    await expect.poll(() => page.locator('#verify-status').textContent()).toMatch(/^Intact: \d+ entries/);

    // Keyboard only: the filter form is labelled and submits with Enter.
    await page.getByLabel('Outcome').selectOption('4');
    await page.getByLabel('Patient id').first().fill(world.patients.other);
    await page.getByLabel('Patient id').first().press('Enter');
    await expect.poll(() => page.locator('#timeline-status').textContent()).toMatch(/1 entries shown/);
    expect(await page.locator('#events tbody tr.denied').count()).toBe(1);
    expect(await page.locator('#events tbody tr td').nth(3).textContent()).toBe('access.denied');

    await page.getByLabel('Patient id').nth(1).fill(world.patients.team);
    await page.getByRole('button', { name: 'Show report' }).click();
    await expect.poll(() => page.locator('#report-status').textContent()).toMatch(/accesses by \d+ users/);
    const users = await page.locator('#report-summary tbody tr td:first-child').allTextContents();
    expect(users).toContain('clinician');
    expect(b.problems.filter((p) => /Content Security Policy|pageerror|Refused/.test(p))).toEqual([]);
  });

  it('tells a non-auditor the page is not for them', async () => {
    const c = await openBrowser();
    try {
      await c.page.request.post(`${t.url}/api/auth/login`, {
        data: { username: 'clinician', password: PASSWORD },
        headers: { origin: t.url },
      });
      await c.page.goto(`${t.url}/auditor.html`);
      await expect.poll(() => c.page.locator('#gate').textContent()).toBe('The audit log is for auditors.');
      expect(await c.page.locator('#timeline').isHidden()).toBe(true);
    } finally {
      await c.close();
    }
  });
});
