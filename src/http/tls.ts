/**
 * TLS material for the servers: the operator's files (--tls-cert/--tls-key) or, with --tls alone, a
 * self-signed certificate generated once into DATA/tls and reused on later starts.
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import path from 'node:path';
import { generate } from 'selfsigned';
import type { Config } from '../config.ts';

export interface TlsMaterial {
  key: string;
  cert: string;
  certFile: string;
  selfSigned: boolean;
}

export async function loadTls(config: Config): Promise<TlsMaterial | undefined> {
  if (!config.tls) return undefined;
  if (config.tlsCert && config.tlsKey) {
    return {
      cert: readFileSync(config.tlsCert, 'utf8'),
      key: readFileSync(config.tlsKey, 'utf8'),
      certFile: config.tlsCert,
      selfSigned: false,
    };
  }
  const dir = path.join(config.dataDir, 'tls');
  const certFile = path.join(dir, 'cert.pem');
  const keyFile = path.join(dir, 'key.pem');
  if (!existsSync(certFile) || !existsSync(keyFile)) {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    const names = [...new Set(['localhost', hostname(), config.host])];
    const pems = await generate([{ name: 'commonName', value: 'CareWire self-signed' }], {
      keyType: 'ec',
      curve: 'P-256',
      algorithm: 'sha256',
      notAfterDate: new Date(Date.now() + 365 * 24 * 3600 * 1000),
      extensions: [
        { name: 'basicConstraints', cA: false },
        { name: 'keyUsage', digitalSignature: true, keyEncipherment: true },
        { name: 'extKeyUsage', serverAuth: true },
        {
          name: 'subjectAltName',
          altNames: [
            ...names.filter((n) => !/^[\d.:]+$/.test(n)).map((value) => ({ type: 2 as const, value })),
            { type: 7 as const, ip: '127.0.0.1' },
            { type: 7 as const, ip: '::1' },
          ],
        },
      ],
    });
    writeFileSync(keyFile, pems.private, { mode: 0o600 });
    writeFileSync(certFile, pems.cert, { mode: 0o644 });
  }
  return {
    cert: readFileSync(certFile, 'utf8'),
    key: readFileSync(keyFile, 'utf8'),
    certFile,
    selfSigned: true,
  };
}
