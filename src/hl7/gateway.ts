// The HL7 v2 MLLP gateway as the app starts it: settings from Config, TLS from the HTTP server's
// material (plus an optional client CA for mutual TLS), the ingest service with its group commit,
// one audit entry when a connection opens and one with its counts when it closes, and Prometheus
// counters when the app passes its registry.

import { readFileSync } from 'node:fs';
import type { TlsOptions } from 'node:tls';
import { Counter, type Registry } from 'prom-client';
import { ConfigError } from '../config.ts';
import type { Gateway, GatewayContext } from '../gateways.ts';
import { buildAck } from './ack.ts';
import { Hl7Ingest } from './ingest.ts';
import { frame } from './mllp.ts';
import { type MllpConnectionInfo, MllpServer } from './server.ts';

interface ConnectionTally {
  aa: number;
  ae: number;
  ar: number;
  duplicates: number;
}

function hl7Metrics(registry: Registry | undefined) {
  if (!registry) return undefined;
  return {
    messages: new Counter({
      name: 'carewire_hl7_messages_total',
      help: 'HL7 messages answered, by outcome (AA, AE, AR) and whether they were duplicates',
      labelNames: ['code', 'duplicate'],
      registers: [registry],
    }),
    connections: new Counter({
      name: 'carewire_hl7_connections_total',
      help: 'MLLP connections accepted',
      registers: [registry],
    }),
    refused: new Counter({
      name: 'carewire_hl7_refused_total',
      help: 'MLLP connections closed for an oversized frame, idleness or a store failure',
      labelNames: ['reason'],
      registers: [registry],
    }),
  };
}

function tlsOptions(ctx: GatewayContext): TlsOptions | undefined {
  const { config, tls } = ctx;
  if (config.hl7RequireClientCert && !config.hl7ClientCa) {
    throw new ConfigError(
      '--hl7-require-client-cert needs --hl7-client-ca (the CA that signs sender certificates)',
    );
  }
  if (!tls) {
    if (config.hl7ClientCa) throw new ConfigError('--hl7-client-ca needs --tls (mutual TLS is TLS)');
    return undefined;
  }
  const opts: TlsOptions = { key: tls.key, cert: tls.cert, minVersion: 'TLSv1.2' };
  if (config.hl7ClientCa) {
    opts.ca = readFileSync(config.hl7ClientCa, 'utf8');
    // Asked for always once a CA is configured, so a presented certificate identifies the sender
    // in the audit log; refused without one only when required.
    opts.requestCert = true;
    opts.rejectUnauthorized = config.hl7RequireClientCert;
  }
  return opts;
}

export function hl7Gateway(ctx: GatewayContext): Gateway {
  const { config, services, logger } = ctx;
  const log = logger.child({ gateway: 'hl7' });
  const metrics = hl7Metrics(ctx.registry);
  const ingest = new Hl7Ingest(
    {
      store: services.store,
      patients: services.patients,
      // Undefined on PostgreSQL, whose writes never block the event loop.
      writer: services.store.writer(),
    },
    {
      rejectUnknownTypes: config.hl7RejectUnknown,
      timeZone: config.hl7Timezone,
      groupCommit: { maxDelayMs: config.groupCommitMs, maxItems: config.groupCommitMax },
    },
  );
  const tallies = new Map<number, ConnectionTally>();
  // Connections with a message waiting for its commit. Senders wait for each ACK, so once every
  // open connection is waiting nothing more can arrive: commit now instead of after the
  // group-commit delay (measured: the 2 ms timer was idle time in every cycle of the benchmark).
  const waiting = new Map<number, number>();
  const kick = () => {
    if (waiting.size === tallies.size) void ingest.committer.flush().catch(() => undefined);
  };
  const agent = (c: MllpConnectionInfo) => ({
    username: c.peer,
    role: 'hl7-sender',
    address: `${c.remoteAddress}:${c.remotePort}`,
  });
  const audit = (event: Parameters<typeof services.audit.append>[0]) => {
    services.audit.append(event).catch((err: unknown) => log.error({ err }, 'hl7 connection audit failed'));
  };
  const server = new MllpServer({
    host: config.host,
    port: config.hl7Port,
    maxFrameSize: config.hl7MaxFrame,
    idleTimeoutMs: config.hl7IdleMs,
    maxInFlight: config.hl7MaxInflight,
    tls: tlsOptions(ctx),
    async handle(bytes, conn) {
      waiting.set(conn.id, (waiting.get(conn.id) ?? 0) + 1);
      const pending = ingest.receive(bytes);
      kick();
      let r: Awaited<typeof pending>;
      try {
        r = await pending;
      } finally {
        const left = (waiting.get(conn.id) ?? 1) - 1;
        if (left > 0) waiting.set(conn.id, left);
        else waiting.delete(conn.id);
      }
      const t = tallies.get(conn.id);
      if (t) {
        if (r.code === 'AA') t.aa++;
        else if (r.code === 'AE') t.ae++;
        else t.ar++;
        if (r.duplicate) t.duplicates++;
      }
      metrics?.messages.inc({ code: r.code, duplicate: r.duplicate ? 'yes' : 'no' });
      return r.frames;
    },
    tooLarge() {
      const nak = buildAck(undefined, {
        code: 'AR',
        self: { application: 'CAREWIRE' },
        errors: [
          {
            code: '207',
            severity: 'E',
            message: `MLLP frame exceeds the maximum of ${config.hl7MaxFrame} bytes; connection closed`,
          },
        ],
      });
      return frame(nak.toBuffer());
    },
    onOpen(conn) {
      tallies.set(conn.id, { aa: 0, ae: 0, ar: 0, duplicates: 0 });
      metrics?.connections.inc();
      audit({
        type: 'hl7.connection.open',
        action: 'E',
        outcome: 0,
        agent: agent(conn),
        source: 'hl7',
        detail: { connection: conn.id, tls: conn.tls },
      });
    },
    onClose(conn, counts) {
      const t = tallies.get(conn.id);
      tallies.delete(conn.id);
      waiting.delete(conn.id);
      kick();
      const reason = counts.frameTooLarge
        ? 'frame-too-large'
        : counts.idle
          ? 'idle'
          : counts.failed
            ? 'store-failure'
            : undefined;
      if (reason) metrics?.refused.inc({ reason });
      audit({
        type: 'hl7.connection.close',
        action: 'E',
        outcome: counts.failed ? 8 : 0,
        agent: agent(conn),
        source: 'hl7',
        detail: { connection: conn.id, ...counts, ...t, ...(reason ? { reason } : {}) },
      });
    },
    onError(err, conn) {
      log.debug({ err, connection: conn?.id }, 'hl7 connection error');
    },
  });
  return {
    name: 'hl7',
    async start() {
      const port = await server.listen();
      log.info({ port, tls: !!ctx.tls }, 'hl7 mllp listening');
      return port;
    },
    async stop() {
      await server.stop();
      await ingest.close();
      log.info({ ...ingest.stats, ...ingest.committer.stats }, 'hl7 gateway stopped');
    },
  };
}
