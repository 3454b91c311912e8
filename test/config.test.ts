import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../src/config.ts';

describe('config', () => {
  it('has the documented defaults', () => {
    const c = loadConfig({}, {});
    expect(c.port).toBe(8080);
    expect(c.hl7Port).toBe(2575);
    expect(c.host).toBe('127.0.0.1');
    expect(c.dataDir.endsWith('/data')).toBe(true);
    expect(c.tls).toBe(false);
  });

  it('reads CAREWIRE_* variables and lets flags win', () => {
    const env = { CAREWIRE_PORT: '9000', CAREWIRE_HL7_PORT: '3000', CAREWIRE_ALARM_PORT: '0' };
    const c = loadConfig({ port: '9100' }, env);
    expect(c.port).toBe(9100);
    expect(c.hl7Port).toBe(3000);
    expect(c.alarmPort).toBe(0);
  });

  it.each([
    [{ port: 'abc' }, {}, /--port \/ CAREWIRE_PORT/],
    [{}, { CAREWIRE_TELEMETRY_PORT: '70000' }, /--telemetry-port \/ CAREWIRE_TELEMETRY_PORT.*0 to 65535/],
    [{ logLevel: 'loud' }, {}, /--log-level/],
    [{}, { CAREWIRE_DATABASE_URL: 'mysql://x' }, /CAREWIRE_DATABASE_URL/],
    [{}, { CAREWIRE_TLS: 'maybe' }, /--tls \/ CAREWIRE_TLS/],
    [{ accessTokenTtl: '0' }, {}, /--access-token-ttl/],
    [{ tlsCert: '/x.pem' }, {}, /--tls-cert and --tls-key/],
  ])('names the bad setting %#', (flags, env, msg) => {
    expect(() => loadConfig(flags, env)).toThrow(ConfigError);
    expect(() => loadConfig(flags, env)).toThrow(msg);
  });

  it('refuses a non-loopback address without TLS unless --insecure', () => {
    expect(() => loadConfig({ host: '0.0.0.0' }, {})).toThrow(/refusing to listen on 0.0.0.0.*without TLS/);
    expect(() => loadConfig({}, { CAREWIRE_HOST: '192.0.2.10' })).toThrow(/without TLS/);
    expect(loadConfig({ host: '0.0.0.0', tls: true }, {}).host).toBe('0.0.0.0');
    expect(loadConfig({ host: '0.0.0.0', insecure: true }, {}).insecure).toBe(true);
    expect(loadConfig({ host: '::1' }, {}).host).toBe('::1');
    expect(loadConfig({ host: 'localhost' }, {}).host).toBe('localhost');
  });
});
