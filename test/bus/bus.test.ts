/** The bus in-process and on a real Redis, and two CareWire nodes sharing PostgreSQL and Redis. */
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startApp } from '../../src/app.ts';
import { type Bus, InProcessBus, RedisBus } from '../../src/bus/bus.ts';
import { loadConfig } from '../../src/config.ts';
import { call, login, tempDir } from '../helpers/app.ts';
import { waitFor } from '../helpers/cli.ts';
import { PASSWORD } from '../helpers/fixtures.ts';
import { createPgSchema, type PgSchema } from '../helpers/pg.ts';

const REDIS_URL = process.env.CAREWIRE_TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';

async function roundTrip(a: Bus, b: Bus, topic: string) {
  const got: unknown[] = [];
  const off = await b.subscribe(topic, (m) => got.push(m));
  const obj = { n: 1, nested: { s: 'x' } };
  await a.publish(topic, obj);
  obj.nested.s = 'mutated after publish';
  await waitFor(() => (got.length > 0 ? true : undefined), 2000, 'message');
  expect(got).toEqual([{ n: 1, nested: { s: 'x' } }]);
  await off();
  await a.publish(topic, { n: 2 });
  await new Promise((r) => setTimeout(r, 100));
  expect(got).toHaveLength(1);
}

describe('bus', () => {
  it('in-process: delivers a copy, asynchronously, until unsubscribed', async () => {
    const bus = new InProcessBus();
    let sync = true;
    let seenSync: boolean | undefined;
    await bus.subscribe('t', () => {
      seenSync = sync;
    });
    await bus.publish('t', {});
    sync = false;
    await waitFor(() => seenSync, 1000, 'delivery');
    expect(seenSync).toBe(false);
    await roundTrip(bus, bus, 'copy');
    await bus.close();
  });

  it('in-process, owned: delivers the very message, frozen to the last level, asynchronously', async () => {
    const bus = new InProcessBus();
    const got: unknown[] = [];
    await bus.subscribe('owned', (m) => got.push(m));
    const msg = { samples: [{ values: { heartRate: 80 } }] };
    await bus.publish('owned', msg, { owned: true });
    expect(got).toHaveLength(0);
    await waitFor(() => (got.length > 0 ? true : undefined), 1000, 'delivery');
    expect(got[0]).toBe(msg);
    expect(Object.isFrozen(msg.samples[0]!.values)).toBe(true);
    expect(() => {
      msg.samples[0]!.values.heartRate = 1;
    }).toThrow(TypeError);
    await bus.close();
  });

  it('Redis: a message published by one node reaches another', async () => {
    const prefix = `cwtest:${randomBytes(4).toString('hex')}:`;
    const a = await RedisBus.connect(REDIS_URL, prefix);
    const b = await RedisBus.connect(REDIS_URL, prefix);
    try {
      await roundTrip(a, b, 'topic');
    } finally {
      await a.close();
      await b.close();
    }
  });

  it('Redis: refuses to start when Redis is unreachable, with a clear error', async () => {
    await expect(RedisBus.connect('redis://127.0.0.1:1')).rejects.toThrow(
      /Redis at redis:\/\/127.0.0.1:1 is unreachable/,
    );
  });
});

describe('two nodes on PostgreSQL and Redis', () => {
  let schema: PgSchema;
  let nodes: Awaited<ReturnType<typeof startApp>>[] = [];

  beforeAll(async () => {
    schema = await createPgSchema();
    // Both nodes share the signing key (same key folder), as a deployment must.
    const data = tempDir();
    const flags = {
      data,
      port: '0',
      hl7Port: '0',
      telemetryPort: '0',
      alarmPort: '0',
      logLevel: 'silent',
      databaseUrl: schema.url,
      redisUrl: REDIS_URL,
    };
    const a = await startApp(loadConfig(flags, {}), {
      beforeListen: async (s) => {
        await s.users.create({ username: 'nurse', password: PASSWORD, role: 'clinician' });
      },
    });
    const b = await startApp(loadConfig(flags, {}));
    nodes = [a, b];
  });
  afterAll(async () => {
    for (const n of nodes) await n.stop();
    await schema.drop();
  });

  it('a token from node A works on node B, and a logout on A ends it on B at once', async () => {
    const [a, b] = nodes as [(typeof nodes)[0], (typeof nodes)[0]];
    const s = await login(a.url, 'nurse', PASSWORD);
    expect(s.status).toBe(200);
    const token = s.body.accessToken as string;
    expect((await call(b.url, 'GET', '/api/me', { token })).status).toBe(200); // B caches the session as active
    expect((await call(a.url, 'POST', '/api/auth/logout', { token })).status).toBe(204);
    // Well inside the 5 s re-check window: only the bus message can make B refuse this quickly.
    const refused = await waitFor(
      async () => ((await call(b.url, 'GET', '/api/me', { token })).status === 401 ? true : undefined),
      1500,
      'node B to refuse the revoked token',
    );
    expect(refused).toBe(true);
  });
});
