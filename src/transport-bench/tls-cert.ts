/**
 * A throwaway self-signed certificate for the TLS and handshake measurements. Generated fresh for
 * each bench server (never written to the data folder, never reused), so nothing secret is kept;
 * the client pins exactly this certificate, so the handshake still does full verification work.
 */
import { generate } from 'selfsigned';

export const BENCH_TLS_NAME = 'carewire-bench.invalid';

export interface BenchCert {
  key: string;
  cert: string;
}

export async function benchCertificate(): Promise<BenchCert> {
  const now = new Date();
  const pems = await generate([{ name: 'commonName', value: BENCH_TLS_NAME }], {
    // P-256: the curve a modern TLS 1.3 server would use; signing is far cheaper than RSA-2048,
    // so the handshake numbers show the protocol's round trips rather than a slow key.
    keyType: 'ec',
    curve: 'P-256',
    algorithm: 'sha256',
    notBeforeDate: new Date(now.getTime() - 60_000),
    notAfterDate: new Date(now.getTime() + 24 * 3600_000),
    extensions: [{ name: 'subjectAltName', altNames: [{ type: 2, value: BENCH_TLS_NAME }] }],
  });
  return { key: pems.private, cert: pems.cert };
}
