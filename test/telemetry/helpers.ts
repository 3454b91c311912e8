/** Shared bits for the telemetry server tests: datagrams, a UDP sender, metric scraping. */
import dgram from 'node:dgram';
import { type VitalKey, vitalByKey } from '../../src/clinical/vital-signs.ts';
import { type DeviceKey, encodeDatagram } from '../../src/telemetry/datagram.ts';

export function datagram(
  deviceId: string,
  key: DeviceKey,
  seq: number,
  values: Partial<Record<VitalKey, number>> = { heartRate: 72, spo2: 97 },
  ts = Date.now(),
): Buffer {
  const measurements = Object.entries(values).map(([k, value]) => ({
    code: vitalByKey(k as VitalKey).code,
    value,
  }));
  return encodeDatagram({ deviceId, sequence: seq, timestamp: ts, measurements }, key);
}

/** Sends each buffer to 127.0.0.1:port, pacing a little so loopback never drops on the test itself. */
export async function sendAll(port: number, bufs: readonly Buffer[]): Promise<void> {
  const s = dgram.createSocket('udp4');
  try {
    for (let i = 0; i < bufs.length; i++) {
      await new Promise<void>((resolve, reject) =>
        s.send(bufs[i]!, port, '127.0.0.1', (err) => (err ? reject(err) : resolve())),
      );
      if (i % 50 === 49) await new Promise((r) => setTimeout(r, 2));
    }
  } finally {
    s.close();
  }
}

/** The value of one Prometheus sample from /metrics text, 0 when absent. */
export function metric(text: string, name: string, labels: Record<string, string> = {}): number {
  for (const line of text.split('\n')) {
    if (!line.startsWith(name)) continue;
    const m = /^([a-zA-Z_:][\w:]*)(\{[^}]*\})?\s+(\S+)/.exec(line);
    if (!m || m[1] !== name) continue;
    const got: Record<string, string> = {};
    for (const kv of (m[2] ?? '').slice(1, -1).matchAll(/(\w+)="([^"]*)"/g)) got[kv[1]!] = kv[2]!;
    if (Object.entries(labels).every(([k, v]) => got[k] === v)) return Number(m[3]);
  }
  return 0;
}
