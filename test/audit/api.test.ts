/**
 * The auditor API: checkpoints that verify under the published key, entries by range and
 * filter, proofs checked by the independent RFC verifier in reference.ts, whole-log verification
 * over HTTP (API and `carewire audit verify --server`), and refusals for everyone else.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  decodeBase64Strict,
  generateLogKey,
  openCheckpoint,
  parseSignerKey,
  parseVerifierKey,
  signCheckpoint,
} from '../../src/audit/merkle/index.ts';
import { call, ENGINES, login, startTestApp, type TestApp } from '../helpers/app.ts';
import { runCli } from '../helpers/cli.ts';
import { PASSWORD, seedWorld, type World } from '../helpers/fixtures.ts';
import { refLeaf, refVerifyConsistency, refVerifyInclusion } from './reference.ts';

const b = (s: string) => decodeBase64Strict(s)!;

describe.each(ENGINES)('auditor API on %s', (engine) => {
  let t: TestApp;
  let world: World;
  let auditor: string;
  let clinician: string;

  beforeAll(async () => {
    t = await startTestApp(engine, {}, async (s) => {
      world = await seedWorld(s);
    });
    auditor = (await login(t.url, 'auditor', PASSWORD)).body.accessToken;
    clinician = (await login(t.url, 'clinician', PASSWORD)).body.accessToken;
    for (let i = 0; i < 5; i++) {
      await call(t.url, 'GET', `/api/patients/${world.patients.team}`, { token: clinician });
      await call(t.url, 'GET', `/api/patients/${world.patients.other}`, { token: clinician }); // denied
    }
  });
  afterAll(() => t.close());

  const get = (path: string, token = auditor) => call(t.url, 'GET', path, { token });

  it('publishes a signed checkpoint that verifies under the log key, and proofs an independent verifier accepts', async () => {
    const first = await get('/api/audit/checkpoint');
    expect(first.status).toBe(200);
    const cp = openCheckpoint(first.body.note, [parseVerifierKey(first.body.vkey)], {
      origin: first.body.origin,
    });
    expect(cp.size).toBe(first.body.size);
    await call(t.url, 'GET', `/api/patients/${world.patients.team}`, { token: clinician });
    const second = (await get('/api/audit/checkpoint')).body;
    expect(second.size).toBeGreaterThan(first.body.size);
    const raw = (await get(`/api/audit/raw?from=0&to=${second.size}`)).body.entries as string[];
    expect(raw).toHaveLength(second.size);
    for (const index of [0, Math.floor(second.size / 2), second.size - 1]) {
      const p = (await get(`/api/audit/proof/inclusion?index=${index}&size=${second.size}`)).body;
      const leaf = refLeaf(Buffer.from(raw[index]!, 'utf8'));
      expect(Buffer.from(b(p.leafHash)).equals(Buffer.from(leaf))).toBe(true);
      expect(p.root).toBe(second.root);
      expect(refVerifyInclusion(index, second.size, leaf, p.proof.map(b), b(p.root))).toBe(true);
    }
    const c = (await get(`/api/audit/proof/consistency?from=${first.body.size}&to=${second.size}`)).body;
    expect(c.fromRoot).toBe(first.body.root);
    expect(
      refVerifyConsistency(first.body.size, second.size, b(first.body.root), b(second.root), c.proof.map(b)),
    ).toBe(true);
    const tree = (await get('/api/audit/tree?level=1&from=0&to=2')).body;
    expect(tree.hashes).toHaveLength(2);
    const head = (await get('/api/audit/head')).body;
    expect(head.size).toBeGreaterThanOrEqual(second.size);
  });

  it('filters entries by type, outcome, patient and seq range, newest first on request', async () => {
    const denied = await get(
      `/api/audit/entries?outcome=4&patientId=${world.patients.other}&order=desc&limit=3`,
    );
    expect(denied.status).toBe(200);
    expect(denied.body.entries).toHaveLength(3);
    for (const e of denied.body.entries) {
      expect(e.entry).toMatchObject({
        type: 'access.denied',
        outcome: 4,
        entity: { patientId: world.patients.other },
      });
      expect(JSON.parse(e.bytes)).toEqual(e.entry);
    }
    const seqs = denied.body.entries.map((e: { seq: number }) => e.seq);
    expect(seqs).toEqual([...seqs].sort((x: number, y: number) => y - x));
    const older = await get(
      `/api/audit/entries?outcome=4&patientId=${world.patients.other}&order=desc&to=${seqs.at(-1)}`,
    );
    expect(older.body.entries.every((e: { seq: number }) => e.seq < seqs.at(-1))).toBe(true);
    const reads = await get('/api/audit/entries?type=patient.read&from=0&to=5');
    expect(reads.body.entries.every((e: { seq: number; entry: { type: string } }) => e.seq < 5)).toBe(true);
  });

  it('verifies the whole log on request, and spots a saved checkpoint from another history', async () => {
    const ok = await call(t.url, 'POST', '/api/audit/verify', { token: auditor, body: {} });
    expect(ok.status).toBe(200);
    expect(ok.body).toMatchObject({ ok: true, firstBad: null, problemCount: 0 });
    const saved = (await get('/api/audit/checkpoint')).body;
    const withSaved = await call(t.url, 'POST', '/api/audit/verify', {
      token: auditor,
      body: { checkpoint: saved.note },
    });
    expect(withSaved.body.ok).toBe(true);
    expect(withSaved.body.growth.ok).toBe(true);
    // A checkpoint signed by some other key for this origin is not evidence of anything.
    const other = generateLogKey(saved.origin);
    const forged = signCheckpoint(
      { origin: saved.origin, size: saved.size, root: new Uint8Array(32) },
      parseSignerKey(other.skey),
    );
    const bad = await call(t.url, 'POST', '/api/audit/verify', {
      token: auditor,
      body: { checkpoint: forged },
    });
    expect(bad.body.ok).toBe(false);
    expect(bad.body.firstBad.kind).toBe('checkpoint-signature');
  });

  it('refuses non-auditors (audited) and bad ranges', async () => {
    for (const path of ['/api/audit/checkpoint', '/api/audit/entries', '/api/audit/raw?from=0&to=1']) {
      const r = await get(path, clinician);
      expect(r.status).toBe(403);
    }
    await t.services.audit.flush();
    const denials = await t.services.audit.query({
      userId: world.users.clinician,
      type: 'access.denied',
      limit: 1000,
    });
    expect(denials.some((d) => (d.detail as { requested?: string }).requested === 'audit:read')).toBe(true);
    expect((await get('/api/audit/proof/inclusion?index=5&size=5')).status).toBe(400);
    expect((await get('/api/audit/proof/inclusion?index=0&size=99999999')).status).toBe(400);
    expect((await get('/api/audit/proof/consistency?from=9&to=3')).status).toBe(400);
    expect((await get('/api/audit/raw?from=9&to=3')).status).toBe(400);
    expect((await get('/api/audit/entries?outcome=3')).status).toBe(400);
    expect((await get('/api/audit/entries?limit=100000')).status).toBe(400);
    expect((await call(t.url, 'GET', '/api/audit/checkpoint')).status).toBe(401);
  });

  it('`carewire audit verify --server` and `audit checkpoint --server` work through the API', async () => {
    const saved = await runCli(
      ['audit', 'checkpoint', '--server', t.url, '--user', 'auditor', '--password-stdin'],
      { input: `${PASSWORD}\n` },
    );
    expect(saved.code, saved.stderr).toBe(0);
    expect(saved.stdout).toMatch(/\n\u2014 /);
    const { writeFileSync } = await import('node:fs');
    const file = `${t.dataDir}/saved.cp`;
    writeFileSync(file, saved.stdout);
    const r = await runCli(
      ['audit', 'verify', '--server', t.url, '--user', 'auditor', '--password-stdin', '--checkpoint', file],
      { input: `${PASSWORD}\n` },
    );
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect(r.stdout).toMatch(/OK: the log is intact/);
    expect(r.stdout).toMatch(/saved checkpoint: /);
    const wrong = await runCli(
      ['audit', 'verify', '--server', t.url, '--user', 'auditor', '--password-stdin'],
      {
        input: 'not the password\n',
      },
    );
    expect(wrong.code).toBe(2);
  });
});
