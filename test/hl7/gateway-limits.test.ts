/**
 * Bounds and transport security of the MLLP gateway: an oversized frame is refused with an AR NAK
 * and the connection closed (nothing accepted earlier is lost); an idle connection is closed;
 * TLS with and without a required client certificate; unknown message types AA or AR 200.
 */
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { generate } from 'selfsigned';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MllpClient, MllpClientError } from '../../src/hl7/client.ts';
import { DEMO_PATIENTS, labOru } from '../../src/hl7/demo-messages.ts';
import {
  errSegments,
  exchange,
  framed,
  type Hl7App,
  msa,
  startHl7App,
  storedRows,
} from './gateway-helpers.ts';

const p = DEMO_PATIENTS[5]!;

describe('frame size and idle bounds', () => {
  let t: Hl7App;
  beforeAll(async () => {
    t = await startHl7App('sqlite', { hl7MaxFrame: '4096', hl7IdleMs: '300' });
  });
  afterAll(async () => {
    await t.close();
  });

  it('answers the frames before an oversized one, then NAKs it with AR and closes', async () => {
    const ok = framed(labOru(p, 'BIG-0', 1));
    const big = framed(`MSH|^~\\&|A|B|C|D|20240101||ADT^A08|BIG-1|P|2.5\rNTE|1||${'x'.repeat(5000)}\r`);
    const after = framed(labOru(p, 'BIG-2', 2));
    const r = await exchange(t.port, [Buffer.concat([ok, big, after])], { timeoutMs: 5000 });
    expect(r.closed).toBe(true);
    expect(r.replies.length).toBe(2);
    expect(msa(r.replies[0]!)).toEqual({ code: 'AA', controlId: 'BIG-0' });
    expect(msa(r.replies[1]!).code).toBe('AR');
    expect(errSegments(r.replies[1]!)[0]).toContain('exceeds the maximum of 4096 bytes');
    const ids = (await storedRows(t.services)).map((x) => x.control_id);
    expect(ids).toContain('BIG-0');
    expect(ids).not.toContain('BIG-1');
    expect(ids).not.toContain('BIG-2');
    // The server is still up for the next connection.
    const next = await exchange(t.port, [after], { expect: 1 });
    expect(msa(next.replies[0]!)).toEqual({ code: 'AA', controlId: 'BIG-2' });
  });

  it('closes a connection that stays idle, also one stuck in half a frame', async () => {
    const t0 = Date.now();
    const idle = await exchange(t.port, [], { timeoutMs: 5000 });
    expect(idle.closed).toBe(true);
    expect(Date.now() - t0).toBeLessThan(4000);
    const half = framed(labOru(p, 'HALF-1', 1));
    const r = await exchange(t.port, [half.subarray(0, 50)], { timeoutMs: 5000 });
    expect(r.closed).toBe(true);
    expect(r.replies).toEqual([]);
    // The connection audit records why it closed.
    await t.services.audit.flush();
    const closes = await t.services.audit.query({ type: 'hl7.connection.close', limit: 1000 });
    const reasons = closes.map((c) => c.detail?.reason);
    expect(reasons).toContain('idle');
    expect(reasons).toContain('frame-too-large');
  });
});

describe('message types CareWire does not interpret', () => {
  it('are stored and answered AA by default, AR 200 with --hl7-reject-unknown', async () => {
    const msg = 'MSH|^~\\&|X|Y|CW|CW|20240101||MDM^T02|UNK-1|P|2.5\rTXA|1\r';
    const a = await startHl7App('sqlite');
    const b = await startHl7App('sqlite', { hl7RejectUnknown: true });
    try {
      const ra = await exchange(a.port, [framed(msg)], { expect: 1 });
      expect(msa(ra.replies[0]!)).toEqual({ code: 'AA', controlId: 'UNK-1' });
      const rb = await exchange(b.port, [framed(msg)], { expect: 1 });
      expect(msa(rb.replies[0]!)).toEqual({ code: 'AR', controlId: 'UNK-1' });
      expect(errSegments(rb.replies[0]!)[0]).toMatch(/\|200\^Unsupported message type\^HL70357\|/);
      for (const s of [a, b]) {
        const rows = await storedRows(s.services);
        expect(rows.map((r) => r.control_id)).toEqual(['UNK-1']);
        expect(rows[0]!.raw).toBe(msg);
      }
    } finally {
      await a.close();
      await b.close();
    }
  });
});

async function makeCa(dir: string) {
  const ca = await generate([{ name: 'commonName', value: 'CareWire test CA' }], {
    keyType: 'ec',
    algorithm: 'sha256',
    extensions: [
      { name: 'basicConstraints', cA: true },
      { name: 'keyUsage', keyCertSign: true, cRLSign: true, digitalSignature: true },
    ],
  });
  const client = await generate([{ name: 'commonName', value: 'lab-analyzer-7' }], {
    keyType: 'ec',
    algorithm: 'sha256',
    ca: { key: ca.private, cert: ca.cert },
    extensions: [
      { name: 'basicConstraints', cA: false },
      { name: 'keyUsage', digitalSignature: true },
      { name: 'extKeyUsage', clientAuth: true },
    ],
  });
  const other = await generate([{ name: 'commonName', value: 'stranger' }], {
    keyType: 'ec',
    algorithm: 'sha256',
  });
  const caFile = path.join(dir, 'ca.pem');
  writeFileSync(caFile, ca.cert);
  return {
    caFile,
    client: { cert: client.cert, key: client.private },
    stranger: { cert: other.cert, key: other.private },
  };
}

describe('TLS', () => {
  it('serves MLLP over TLS without client certificates', async () => {
    const t = await startHl7App('sqlite', { tls: true });
    try {
      const ca = readFileSync(t.app.tlsCertFile!, 'utf8');
      const c = await MllpClient.connect({ host: '127.0.0.1', port: t.port, tls: { ca } });
      const r = await c.send(labOru(p, 'TLS-1', 1), { timeoutMs: 5000 });
      await c.close();
      expect(r.code).toBe('AA');
      // A client that does not trust the server's certificate never gets to send.
      await expect(MllpClient.connect({ host: '127.0.0.1', port: t.port, tls: true })).rejects.toThrow(
        MllpClientError,
      );
    } finally {
      await t.close();
    }
  });

  it('with a required client certificate: refuses none or a foreign one, accepts and audits a signed one', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'cw-hl7-ca-'));
    const pki = await makeCa(dir);
    const t = await startHl7App('sqlite', { tls: true, hl7ClientCa: pki.caFile, hl7RequireClientCert: true });
    try {
      const ca = readFileSync(t.app.tlsCertFile!, 'utf8');
      const c = await MllpClient.connect({ host: '127.0.0.1', port: t.port, tls: { ca, ...pki.client } });
      const r = await c.send(labOru(p, 'MTLS-1', 1), { timeoutMs: 5000 });
      await c.close();
      expect(r.code).toBe('AA');
      for (const creds of [{}, pki.stranger]) {
        // TLS 1.3 reports the refusal after the handshake: the send fails, nothing is stored.
        const attempt = (async () => {
          const x = await MllpClient.connect({ host: '127.0.0.1', port: t.port, tls: { ca, ...creds } });
          return x.send(labOru(p, 'MTLS-NO', 2), { timeoutMs: 3000 });
        })();
        await expect(attempt).rejects.toThrow(MllpClientError);
      }
      const ids = (await storedRows(t.services)).map((x) => x.control_id);
      expect(ids).toEqual(['MTLS-1']);
      await t.services.audit.flush();
      const opens = await t.services.audit.query({ type: 'hl7.connection.open', limit: 1000 });
      expect(opens.map((o) => o.agent?.username)).toEqual(['lab-analyzer-7']);
    } finally {
      await t.close();
    }
  });

  it('refuses to start mutual TLS without TLS, or a required certificate without a CA', async () => {
    await expect(startHl7App('sqlite', { hl7ClientCa: '/nonexistent.pem' })).rejects.toThrow(/needs --tls/);
    await expect(startHl7App('sqlite', { tls: true, hl7RequireClientCert: true })).rejects.toThrow(
      /needs --hl7-client-ca/,
    );
  });
});
