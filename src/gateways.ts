/**
 * Network gateways other than HTTP (HL7 MLLP, UDP telemetry, TCP alarms). Each feature adds its
 * factory to GATEWAYS; the app starts them after the HTTP server, writes their ports to
 * DATA/ports.json, and on stop closes them before the services flush, so intake stops first and
 * everything accepted is committed.
 */
import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import type { Config } from './config.ts';
import { hl7Gateway } from './hl7/gateway.ts';
import type { TlsMaterial } from './http/tls.ts';
import type { Services } from './services.ts';
import { alarmGateway } from './telemetry/alarm-gateway.ts';
import { telemetryGateway } from './telemetry/udp-gateway.ts';

export interface GatewayContext {
  config: Config;
  services: Services;
  logger: Logger;
  tls: TlsMaterial | undefined;
  /** The /metrics registry, for gateways that export counters. */
  registry?: Registry | undefined;
}

export interface Gateway {
  /** Key in ports.json: `hl7`, `telemetry`, `alarm`. */
  readonly name: string;
  /** Starts listening; resolves with the port actually bound. */
  start(): Promise<number>;
  /** Stops accepting, answers what was committed, closes connections. */
  stop(): Promise<void>;
}

export type GatewayFactory = (ctx: GatewayContext) => Gateway;

export const GATEWAYS: GatewayFactory[] = [hl7Gateway, telemetryGateway, alarmGateway];
