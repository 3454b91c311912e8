/**
 * Keys generated into the data folder on first start (never committed): the Ed25519 key that signs
 * access tokens. Files are created with mode 0600 and reused on later starts.
 */
import {
  createHash,
  createPrivateKey,
  createPublicKey,
  generateKeyPairSync,
  type KeyObject,
} from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';

export interface SigningKey {
  privateKey: KeyObject;
  publicKey: KeyObject;
  /** Key id: a short hash of the public key, put in each token's header. */
  kid: string;
}

export function keysDir(dataDir: string): string {
  const dir = path.join(dataDir, 'keys');
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  return dir;
}

export function loadOrCreateEd25519(dataDir: string, name: string): SigningKey {
  const file = path.join(keysDir(dataDir), `${name}.pem`);
  if (!existsSync(file)) {
    const { privateKey } = generateKeyPairSync('ed25519');
    // 'wx' fails if another process created it in the meantime, rather than overwriting its key.
    try {
      writeFileSync(file, privateKey.export({ type: 'pkcs8', format: 'pem' }), { mode: 0o600, flag: 'wx' });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
  }
  const privateKey = createPrivateKey(readFileSync(file));
  const publicKey = createPublicKey(privateKey);
  const spki = publicKey.export({ type: 'spki', format: 'der' });
  const kid = createHash('sha256').update(spki).digest('base64url').slice(0, 16);
  return { privateKey, publicKey, kid };
}
