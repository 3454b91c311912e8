/**
 * `carewire fhir push` against a second CareWire over real HTTP (both engines): everything
 * arrives, a rerun creates nothing new, refusals are reported with the server's OperationOutcome;
 * and the client retries 429/5xx (honouring Retry-After) but not other errors.
 */
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Bundle } from '@medplum/fhirtypes';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FhirClient, FhirHttpError } from '../../src/fhir/client.ts';
import { call, ENGINES, login, startTestApp, type TestApp } from '../helpers/app.ts';
import { runCli } from '../helpers/cli.ts';
import { PASSWORD, seedWorld, type World } from '../helpers/fixtures.ts';
import { expectValid, expectVitalSign } from './validator.ts';

const T0 = Date.parse('2024-03-05T00:00:00Z');

async function count(t: TestApp, table: 'patients' | 'observations'): Promise<number> {
  const r = await t.services.store.db
    .selectFrom(table)
    .select((eb) => eb.fn.countAll<number>().as('n'))
    .executeTakeFirstOrThrow();
  return Number(r.n);
}

describe.each(ENGINES)('fhir push to a second CareWire on %s', (engine) => {
  let a: TestApp;
  let b: TestApp;
  let w: World;
  let adminB = '';
  let clinicianB = '';
  const storeFlags = () => [
    '--data',
    a.dataDir,
    ...(a.app.config.databaseUrl ? ['--database-url', a.app.config.databaseUrl] : []),
  ];

  beforeAll(async () => {
    a = await startTestApp(engine, {}, async (s) => {
      w = await seedWorld(s);
      const obs = Array.from({ length: 40 }, (_, i) => ({
        patientId: i % 2 ? w.patients.own : w.patients.team,
        code: '8867-4',
        mdcCode: '147842',
        valueNum: 60 + i,
        unit: '/min',
        category: 'vital-signs',
        effectiveAt: T0 + i * 60_000,
        source: 'device' as const,
      }));
      await s.observations.insertIn(s.store.db, [
        ...obs,
        {
          patientId: w.patients.own,
          code: '8480-6',
          valueNum: 120,
          unit: 'mm[Hg]',
          panel: '85354-9',
          category: 'vital-signs',
          effectiveAt: T0,
          source: 'hl7',
        },
        {
          patientId: w.patients.own,
          code: '8462-4',
          valueNum: 80,
          unit: 'mm[Hg]',
          panel: '85354-9',
          category: 'vital-signs',
          effectiveAt: T0,
          source: 'hl7',
        },
      ]);
    });
    b = await startTestApp(engine, {}, async (s) => {
      await s.users.create({ username: 'admin', password: PASSWORD, role: 'admin' });
      await s.users.create({ username: 'clin', password: PASSWORD, role: 'clinician' });
    });
    adminB = (await login(b.url, 'admin', PASSWORD)).body.accessToken;
    clinicianB = (await login(b.url, 'clin', PASSWORD)).body.accessToken;
  });
  afterAll(async () => {
    await a?.close();
    await b?.close();
  });

  it('pushes patients and observations in chunks; a rerun creates nothing new', async () => {
    const args = [
      'fhir',
      'push',
      '--server',
      `${b.url}/fhir/R4`,
      '--token',
      adminB,
      '--all',
      '--chunk',
      '7',
      ...storeFlags(),
    ];
    const first = await runCli(args, { timeoutMs: 60_000 });
    expect(first.stderr).not.toMatch(/refused|error/i);
    expect(first.code).toBe(0);
    // 3 patients, 40 heart rates and one BP panel (two rows, one resource).
    expect(first.stdout).toMatch(
      /patients 3 created, 0 already there; observations 41 created, 0 already there/,
    );
    expect(first.stderr).toMatch(/100% 45\/45 rows/);
    expect(await count(b, 'patients')).toBe(3);
    expect(await count(b, 'observations')).toBe(42);

    const again = await runCli(args, { timeoutMs: 60_000 });
    expect(again.code).toBe(0);
    expect(again.stdout).toMatch(
      /patients 0 created, 3 already there; observations 0 created, 41 already there/,
    );
    expect(await count(b, 'patients')).toBe(3);
    expect(await count(b, 'observations')).toBe(42);

    // What arrived is the same data, served to the vital-signs profile by the second instance.
    const own = await b.services.store.db
      .selectFrom('patients')
      .selectAll()
      .where('mrn', '=', 'T-1')
      .executeTakeFirstOrThrow();
    await b.services.users.create({ username: 'doc', password: PASSWORD, role: 'clinician' });
    const doc = await b.services.store.db
      .selectFrom('users')
      .select('id')
      .where('username', '=', 'doc')
      .executeTakeFirstOrThrow();
    await b.services.careTeams.linkTrusted(doc.id, own.id);
    const docTok = (await login(b.url, 'doc', PASSWORD)).body.accessToken;
    const r = await call(b.url, 'GET', `/fhir/R4/Observation?patient=${own.id}&_count=100`, {
      token: docTok,
    });
    expectValid(r.body);
    const list = (r.body as Bundle).entry!.map((e) => e.resource as import('@medplum/fhirtypes').Observation);
    expect(list).toHaveLength(21);
    for (const o of list) expectVitalSign(o);
    const bp = list.find((o) => o.code.coding?.[0]?.code === '85354-9')!;
    expect(bp.component?.map((c) => c.valueQuantity?.value)).toEqual([120, 80]);
    // The identifier names the original: pushing on from here would still deduplicate.
    expect(bp.identifier?.[0]?.system).toBe('https://carewire.dev/fhir/sid/observation');
    expect(own.given_name).toBe('Pat');

    // The push is audited on the source: data left CareWire.
    await a.services.audit.flush();
    const audits = await a.services.audit.query({ type: 'fhir.push', limit: 100 });
    expect(new Set(audits.map((e) => e.patientId))).toEqual(
      new Set([w.patients.own, w.patients.team, w.patients.other]),
    );
  });

  it('pushes one patient, honours --since, and reports refusals with the OperationOutcome', async () => {
    const base = ['fhir', 'push', '--server', `${b.url}/fhir/R4`, '--no-progress', ...storeFlags()];
    const future = await runCli([
      ...base,
      '--token',
      adminB,
      '--patient',
      'T-2',
      '--since',
      '2999-01-01T00:00:00Z',
    ]);
    expect(future.code).toBe(0);
    expect(future.stdout).toMatch(
      /patients 0 created, 1 already there; observations 0 created, 0 already there/,
    );
    const refused = await runCli([...base, '--token', clinicianB, '--patient', w.patients.own]);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/bundle 1 refused \(HTTP 403\): error forbidden/);
    const noAuth = await runCli([...base, '--patient', w.patients.own]);
    expect(noAuth.code).toBe(1);
    expect(noAuth.stderr).toMatch(/HTTP 401/);
    const bad = await runCli([...base, '--token', adminB]);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/exactly one of --patient ID or --all/);
    const badSince = await runCli([...base, '--token', adminB, '--all', '--since', 'last tuesday']);
    expect(badSince.code).toBe(2);
    expect(badSince.stderr).toMatch(/--since/);
    const missing = await runCli([...base, '--token', adminB, '--patient', 'NO-SUCH']);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(/no patient with id or MRN NO-SUCH/);
  });
});

/** A FHIR server that answers from a script, recording what it was sent. */
async function scripted(
  answers: Array<{ status: number; headers?: Record<string, string>; body?: unknown }>,
): Promise<{ url: string; server: Server; seen: string[] }> {
  const seen: string[] = [];
  let i = 0;
  const server = createServer(async (req: IncomingMessage, res) => {
    let body = '';
    for await (const c of req) body += c;
    seen.push(`${req.method} ${req.url} ${req.headers.authorization ?? ''} ${body.length}`);
    const a = answers[Math.min(i++, answers.length - 1)]!;
    res.writeHead(a.status, { 'content-type': 'application/fhir+json', ...a.headers });
    res.end(a.body === undefined ? '' : JSON.stringify(a.body));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/fhir`, server, seen };
}

const OK: Bundle = {
  resourceType: 'Bundle',
  type: 'transaction-response',
  entry: [{ response: { status: '201 Created', location: 'Patient/x/_history/1' } }],
};
const TX: Bundle = { resourceType: 'Bundle', type: 'transaction', entry: [] };

describe('FHIR client retries', () => {
  it('retries a 429, waiting as long as Retry-After asks, then succeeds', async () => {
    const s = await scripted([
      { status: 429, headers: { 'retry-after': '7' } },
      { status: 200, body: OK },
    ]);
    const waits: number[] = [];
    try {
      const c = new FhirClient({ baseUrl: s.url, token: 'tok', sleep: async (ms) => void waits.push(ms) });
      expect(await c.bundle(TX)).toEqual(OK);
      expect(s.seen).toHaveLength(2);
      expect(s.seen[0]).toMatch(/^POST \/fhir\/ Bearer tok \d+$/);
      expect(waits).toEqual([7000]);
    } finally {
      s.server.close();
    }
  });

  it('backs off exponentially on 5xx and gives up after maxAttempts', async () => {
    const s = await scripted([{ status: 503 }]);
    const waits: number[] = [];
    try {
      const c = new FhirClient({
        baseUrl: s.url,
        maxAttempts: 4,
        baseDelayMs: 100,
        sleep: async (ms) => void waits.push(ms),
      });
      await expect(c.bundle(TX)).rejects.toMatchObject({ status: 503 });
      expect(s.seen).toHaveLength(4);
      expect(waits).toHaveLength(3);
      for (const [i, ms] of waits.entries()) expect(ms).toBeLessThanOrEqual(100 * 2 ** i);
    } finally {
      s.server.close();
    }
  });

  it('does not retry a refusal and reports its OperationOutcome', async () => {
    const outcome = {
      resourceType: 'OperationOutcome',
      issue: [{ severity: 'error', code: 'processing', diagnostics: 'entry 3: bad unit' }],
    };
    const s = await scripted([{ status: 422, body: outcome }]);
    try {
      const c = new FhirClient({ baseUrl: s.url, sleep: async () => {} });
      const err = await c.bundle(TX).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(err).toBeInstanceOf(FhirHttpError);
      expect((err as FhirHttpError).outcome).toEqual(outcome);
      expect((err as FhirHttpError).message).toMatch(/HTTP 422: error processing entry 3: bad unit/);
      expect(s.seen).toHaveLength(1);
    } finally {
      s.server.close();
    }
  });

  it('the push command retries a server answering 429 then 200', async () => {
    const t = await startTestApp('sqlite', {}, async (svc) => {
      await seedWorld(svc);
    });
    const s = await scripted([
      { status: 429, headers: { 'retry-after': '0' } },
      { status: 200, body: OK },
    ]);
    try {
      const r = await runCli([
        'fhir',
        'push',
        '--server',
        s.url,
        '--token',
        'tok',
        '--patient',
        'T-1',
        '--data',
        t.dataDir,
        '--no-progress',
      ]);
      expect(r.stderr).toMatch(/retrying after HTTP 429 in 0\.0 s \(attempt 2\)/);
      expect(r.code).toBe(0);
      expect(s.seen).toHaveLength(2);
    } finally {
      s.server.close();
      await t.close();
    }
  });
});
