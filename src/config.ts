/**
 * One typed, validated configuration object, built from CLI flags and CAREWIRE_* variables.
 *
 * Every setting is declared once in SETTINGS: the CLI derives its flags from it, the loader
 * derives the variable name from it, and a bad value names both so an operator can find it.
 * Precedence: flag > environment variable > default.
 */
import { isIP } from 'node:net';
import path from 'node:path';
import { isTimeZone } from './hl7/dtm.ts';

type Kind = 'port' | 'string' | 'bool' | 'int' | 'list' | 'url' | 'level';

interface Setting {
  /** Key in the Config object. */
  key: keyof Config;
  /** Long CLI flag without the dashes; the variable is CAREWIRE_ + upper snake case of it. */
  flag: string;
  kind: Kind;
  description: string;
  default?: string | number | boolean | string[];
  /** Placeholder for the flag's value in --help. */
  arg?: string;
}

export interface Config {
  dataDir: string;
  host: string;
  port: number;
  hl7Port: number;
  telemetryPort: number;
  alarmPort: number;
  databaseUrl: string | undefined;
  redisUrl: string | undefined;
  tls: boolean;
  tlsCert: string | undefined;
  tlsKey: string | undefined;
  insecure: boolean;
  logLevel: 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';
  corsOrigins: string[];
  publicUrl: string | undefined;
  accessTokenTtl: number;
  refreshTokenTtl: number;
  bodyLimit: number;
  rateLimit: number;
  loginRateLimit: number;
  breakGlassTtl: number;
  groupCommitMs: number;
  groupCommitMax: number;
  hl7MaxFrame: number;
  hl7IdleMs: number;
  hl7MaxInflight: number;
  hl7ClientCa: string | undefined;
  hl7RequireClientCert: boolean;
  hl7RejectUnknown: boolean;
  hl7Timezone: string;
  auditCheckpointMs: number;
  alarmClientCa: string | undefined;
}

export const SETTINGS: readonly Setting[] = [
  {
    key: 'dataDir',
    flag: 'data',
    kind: 'string',
    arg: 'dir',
    default: './data',
    description: 'data folder (database, keys, ports.json)',
  },
  {
    key: 'host',
    flag: 'host',
    kind: 'string',
    default: '127.0.0.1',
    description: 'address to listen on (non-loopback needs TLS or --insecure)',
  },
  {
    key: 'port',
    flag: 'port',
    kind: 'port',
    default: 8080,
    description: 'HTTP/HTTPS port (0 picks a free one)',
  },
  { key: 'hl7Port', flag: 'hl7-port', kind: 'port', default: 2575, description: 'HL7 v2 MLLP port (TCP)' },
  {
    key: 'telemetryPort',
    flag: 'telemetry-port',
    kind: 'port',
    default: 2576,
    description: 'vitals telemetry port (UDP)',
  },
  {
    key: 'alarmPort',
    flag: 'alarm-port',
    kind: 'port',
    default: 2577,
    description: 'device alarm channel port (TCP)',
  },
  {
    key: 'databaseUrl',
    flag: 'database-url',
    kind: 'url',
    arg: 'url',
    description: 'postgres://… to use PostgreSQL instead of the embedded SQLite file',
  },
  {
    key: 'redisUrl',
    flag: 'redis-url',
    kind: 'url',
    arg: 'url',
    description: 'redis://… to share the bus between several nodes',
  },
  {
    key: 'tls',
    flag: 'tls',
    kind: 'bool',
    default: false,
    description: 'serve HTTPS; generates a self-signed certificate into the data folder if none is given',
  },
  {
    key: 'tlsCert',
    flag: 'tls-cert',
    kind: 'string',
    arg: 'file',
    description: 'PEM certificate (implies --tls)',
  },
  {
    key: 'tlsKey',
    flag: 'tls-key',
    kind: 'string',
    arg: 'file',
    description: 'PEM private key (implies --tls)',
  },
  {
    key: 'insecure',
    flag: 'insecure',
    kind: 'bool',
    default: false,
    description: 'allow plain HTTP on a non-loopback address',
  },
  {
    key: 'logLevel',
    flag: 'log-level',
    kind: 'level',
    default: 'info',
    description: 'fatal|error|warn|info|debug|trace|silent',
  },
  {
    key: 'corsOrigins',
    flag: 'cors-origins',
    kind: 'list',
    arg: 'list',
    default: [],
    description: 'comma-separated origins allowed to call the API from a browser',
  },
  {
    key: 'publicUrl',
    flag: 'public-url',
    kind: 'url',
    arg: 'url',
    description: 'external URL of this server (used as token issuer and CSRF origin)',
  },
  {
    key: 'accessTokenTtl',
    flag: 'access-token-ttl',
    kind: 'int',
    default: 300,
    description: 'access token lifetime, seconds',
  },
  {
    key: 'refreshTokenTtl',
    flag: 'refresh-token-ttl',
    kind: 'int',
    default: 8 * 3600,
    description: 'refresh token (session) lifetime, seconds',
  },
  {
    key: 'bodyLimit',
    flag: 'body-limit',
    kind: 'int',
    default: 1024 * 1024,
    description: 'largest HTTP request body, bytes',
  },
  {
    key: 'rateLimit',
    flag: 'rate-limit',
    kind: 'int',
    default: 6000,
    description: 'API requests per minute per client',
  },
  {
    key: 'loginRateLimit',
    flag: 'login-rate-limit',
    kind: 'int',
    default: 30,
    description: 'login attempts per minute per IP address',
  },
  {
    key: 'breakGlassTtl',
    flag: 'break-glass-ttl',
    kind: 'int',
    default: 3600,
    description: 'how long break-the-glass access lasts, seconds',
  },
  {
    key: 'groupCommitMs',
    flag: 'group-commit-ms',
    kind: 'int',
    default: 2,
    description: 'longest a write waits to be batched with others, ms',
  },
  {
    key: 'groupCommitMax',
    flag: 'group-commit-max',
    kind: 'int',
    default: 1024,
    description: 'most writes committed in one transaction',
  },
  {
    key: 'auditCheckpointMs',
    flag: 'audit-checkpoint-ms',
    kind: 'int',
    default: 5000,
    description: 'how often the audit log signs a checkpoint when it grew, ms',
  },
  {
    key: 'alarmClientCa',
    flag: 'alarm-client-ca',
    kind: 'string',
    arg: 'file',
    description: 'PEM CA for device client certificates on the alarm channel (mutual TLS; needs --tls)',
  },
  {
    key: 'hl7MaxFrame',
    flag: 'hl7-max-frame',
    kind: 'int',
    default: 1024 * 1024,
    description: 'largest HL7 message (MLLP frame), bytes; larger: AR and close',
  },
  {
    key: 'hl7IdleMs',
    flag: 'hl7-idle-ms',
    kind: 'int',
    default: 600_000,
    description: 'close an HL7 connection idle this long, ms',
  },
  {
    key: 'hl7MaxInflight',
    flag: 'hl7-max-inflight',
    kind: 'int',
    default: 256,
    description: 'HL7 messages per connection read ahead of their ACKs (pipelining bound)',
  },
  {
    key: 'hl7ClientCa',
    flag: 'hl7-client-ca',
    kind: 'string',
    arg: 'file',
    description: 'PEM CA for HL7 sender certificates (mutual TLS; needs --tls)',
  },
  {
    key: 'hl7RequireClientCert',
    flag: 'hl7-require-client-cert',
    kind: 'bool',
    default: false,
    description: 'refuse HL7 connections without a client certificate signed by --hl7-client-ca',
  },
  {
    key: 'hl7RejectUnknown',
    flag: 'hl7-reject-unknown',
    kind: 'bool',
    default: false,
    description: 'answer HL7 types CareWire does not interpret with AR 200, not AA (stored either way)',
  },
  {
    key: 'hl7Timezone',
    flag: 'hl7-timezone',
    kind: 'string',
    arg: 'zone',
    default: Intl.DateTimeFormat().resolvedOptions().timeZone,
    description: "IANA time zone of HL7 times sent without an offset (the senders' local time)",
  },
];

export class ConfigError extends Error {
  override name = 'ConfigError';
}

export function envName(flag: string): string {
  return `CAREWIRE_${flag.replaceAll('-', '_').toUpperCase()}`;
}

const LEVELS = new Set(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']);

function parseValue(s: Setting, raw: unknown, source: string): unknown {
  const bad = (why: string) =>
    new ConfigError(
      `invalid ${source} (--${s.flag} / ${envName(s.flag)}): ${why}, got ${JSON.stringify(raw)}`,
    );
  if (s.kind === 'bool') {
    if (typeof raw === 'boolean') return raw;
    const v = String(raw).toLowerCase();
    if (['1', 'true', 'yes', 'on'].includes(v)) return true;
    if (['0', 'false', 'no', 'off', ''].includes(v)) return false;
    throw bad('expected true or false');
  }
  if (s.kind === 'list') {
    if (Array.isArray(raw)) return raw.map(String);
    return String(raw)
      .split(',')
      .map((x) => x.trim())
      .filter(Boolean);
  }
  const str = String(raw).trim();
  if (s.kind === 'port' || s.kind === 'int') {
    if (!/^\d+$/.test(str)) throw bad('expected a whole number');
    const n = Number(str);
    if (s.kind === 'port' && n > 65535) throw bad('a port is 0 to 65535');
    if (s.kind === 'int' && (n < 1 || !Number.isSafeInteger(n)))
      throw bad('expected a positive whole number');
    return n;
  }
  if (s.kind === 'level') {
    if (!LEVELS.has(str)) throw bad(`expected one of ${[...LEVELS].join(', ')}`);
    return str;
  }
  if (s.kind === 'url') {
    if (!URL.canParse(str)) throw bad('expected a URL');
    return str;
  }
  if (str === '') throw bad('must not be empty');
  return str;
}

/** camelCase of a flag, as commander names its options. */
export function optionKey(flag: string): string {
  return flag.replace(/-([a-z0-9])/g, (_, c: string) => c.toUpperCase());
}

/**
 * Builds the config. `flags` holds commander's parsed options (camelCase keys); absent or
 * undefined flags fall back to the environment, then to the default.
 */
export function loadConfig(
  flags: Record<string, unknown> = {},
  env: NodeJS.ProcessEnv = process.env,
): Config {
  const out: Record<string, unknown> = {};
  for (const s of SETTINGS) {
    const fromFlag = flags[optionKey(s.flag)];
    const fromEnv = env[envName(s.flag)];
    if (fromFlag !== undefined) out[s.key] = parseValue(s, fromFlag, 'flag');
    else if (fromEnv !== undefined && fromEnv !== '') out[s.key] = parseValue(s, fromEnv, 'variable');
    else out[s.key] = s.default;
  }
  const cfg = out as unknown as Config;
  cfg.dataDir = path.resolve(cfg.dataDir);
  if (cfg.tlsCert || cfg.tlsKey) {
    if (!cfg.tlsCert || !cfg.tlsKey) throw new ConfigError('--tls-cert and --tls-key must be given together');
    cfg.tls = true;
  }
  if (cfg.databaseUrl && !/^postgres(ql)?:\/\//.test(cfg.databaseUrl)) {
    throw new ConfigError(
      `invalid --database-url / CAREWIRE_DATABASE_URL: only postgres:// URLs are supported`,
    );
  }
  if (!isTimeZone(cfg.hl7Timezone)) {
    throw new ConfigError(
      `invalid --hl7-timezone / CAREWIRE_HL7_TIMEZONE: not an IANA time zone (e.g. Europe/Berlin), got ${JSON.stringify(cfg.hl7Timezone)}`,
    );
  }
  if (cfg.redisUrl && !/^rediss?:\/\//.test(cfg.redisUrl)) {
    throw new ConfigError(`invalid --redis-url / CAREWIRE_REDIS_URL: expected redis:// or rediss://`);
  }
  if (!isLoopback(cfg.host) && !cfg.tls && !cfg.insecure) {
    throw new ConfigError(
      `refusing to listen on ${cfg.host} (--host / CAREWIRE_HOST) without TLS: ` +
        'add --tls (self-signed), --tls-cert/--tls-key, or --insecure if a proxy terminates TLS',
    );
  }
  return cfg;
}

export function isLoopback(host: string): boolean {
  if (host === 'localhost') return true;
  if (isIP(host) === 4) return host.startsWith('127.');
  if (isIP(host) === 6) return host === '::1' || host === '0:0:0:0:0:0:0:1';
  return false;
}
