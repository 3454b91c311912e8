/**
 * The composition root: builds config-driven parts in order (store, services, servers), starts
 * them, writes DATA/ports.json, and stops them in reverse order on a graceful stop: stop intake,
 * flush pending group commits, close the store.
 */
import { renameSync, writeFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import type { FastifyInstance } from 'fastify';
import pino, { type Logger } from 'pino';
import { createBus } from './bus/bus.ts';
import type { Config } from './config.ts';
import { GATEWAYS, type Gateway } from './gateways.ts';
import { createRegistry } from './http/metrics.ts';
import { buildHttpServer } from './http/server.ts';
import { loadTls } from './http/tls.ts';
import { attachRealtime, type Realtime } from './realtime/server.ts';
import { createServices, type Services } from './services.ts';
import { openStore } from './store/db.ts';

/** Ports in use by name: `http`, and one per gateway (`hl7`, `telemetry`, `alarm`). */
export type Ports = { http: number } & Record<string, number>;

export interface RunningApp {
  config: Config;
  services: Services;
  http: FastifyInstance;
  /** Socket.IO on the HTTP server's port (src/realtime/). */
  realtime: Realtime;
  ports: Ports;
  /** Base URL of the web app and API. */
  url: string;
  tlsCertFile: string | undefined;
  stop(): Promise<void>;
}

export interface StartOptions {
  logger?: Logger;
  /** Runs after the store and services exist, before listeners open (demo seeding). */
  beforeListen?: (services: Services) => Promise<void>;
}

export async function startApp(config: Config, opts: StartOptions = {}): Promise<RunningApp> {
  const logger = opts.logger ?? pino({ level: config.logLevel });
  const store = await openStore({ dataDir: config.dataDir, databaseUrl: config.databaseUrl });
  const services = await createServices(config, store, await createBus(config.redisUrl), {
    writerThread: true,
  });
  let ready = false;
  let http: FastifyInstance | undefined;
  let realtime: Realtime | undefined;
  const gateways: Gateway[] = [];
  try {
    if (opts.beforeListen) await opts.beforeListen(services);
    const tls = await loadTls(config);
    const registry = createRegistry();
    http = await buildHttpServer({
      config,
      services,
      registry,
      logger,
      tls,
      isReady: () => ready,
    });
    realtime = await attachRealtime({ server: http.server, services, config, logger, tls: !!tls, registry });
    await http.listen({ host: config.host, port: config.port });
    const port = (http.server.address() as AddressInfo).port;
    const ports: Ports = { http: port };
    for (const factory of GATEWAYS) {
      const g = factory({ config, services, logger, tls, registry });
      gateways.push(g);
      ports[g.name] = await g.start();
    }
    // Written aside and renamed: whoever polls for the file (simulators, scripts, tests) never
    // reads it half-written.
    const portsFile = path.join(config.dataDir, 'ports.json');
    writeFileSync(`${portsFile}.${process.pid}.tmp`, `${JSON.stringify(ports, null, 2)}\n`);
    renameSync(`${portsFile}.${process.pid}.tmp`, portsFile);
    const hostForUrl = config.host.includes(':') ? `[${config.host}]` : config.host;
    const url = `${tls ? 'https' : 'http'}://${hostForUrl}:${port}`;
    ready = true;
    logger.info({ url, ports, store: store.location }, 'carewire started');
    let stopping: Promise<void> | undefined;
    const server = http;
    const live = realtime;
    return {
      config,
      services,
      http: server,
      realtime: live,
      ports,
      url,
      tlsCertFile: tls?.certFile,
      stop() {
        stopping ??= (async () => {
          ready = false;
          // Sockets first: the HTTP server's close waits for upgraded connections.
          await live.close();
          // Stop intake everywhere; in-flight requests and frames finish.
          await Promise.all([server.close(), ...gateways.map((g) => g.stop())]);
          await services.close(); // commit what was accepted
          await store.close();
          logger.info('carewire stopped');
        })();
        return stopping;
      },
    };
  } catch (err) {
    await Promise.allSettled(gateways.map((g) => g.stop()));
    await realtime?.close();
    await http?.close();
    await services.close();
    await store.close();
    throw err;
  }
}
