/**
 * The audit log's Ed25519 checkpoint key, generated into the data folder on first start:
 *
 *   DATA/keys/audit-log.skey   PRIVATE+KEY+<origin>+<id>+<seed>   mode 0600, secret
 *   DATA/keys/audit-log.vkey   <origin>+<id>+<public key>          mode 0644, give to auditors
 *
 * The C2SP key strings carry the key's name, which is also the log's origin line, so the origin
 * can never drift from the key that signs it. Several nodes of one deployment share the keys
 * folder (as they already must for the token key).
 */
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { keysDir } from '../auth/keys.ts';
import {
  formatVerifierKey,
  generateLogKey,
  type NoteSigner,
  type NoteVerifier,
  parseSignerKey,
  parseVerifierKey,
} from './merkle/index.ts';

export interface LogKey {
  signer: NoteSigner;
  verifier: NoteVerifier;
  /** The log's origin line (the key's name). */
  origin: string;
  /** Verifier key string for auditors. */
  vkey: string;
}

const SKEY = 'audit-log.skey';
const VKEY = 'audit-log.vkey';

/** A unique origin per log, in the schema-less URL form C2SP recommends. */
export function defaultOrigin(publicUrl?: string): string {
  const host = publicUrl ? new URL(publicUrl).host : 'carewire.local';
  return `${host}/audit/${randomBytes(4).toString('hex')}`;
}

export function loadOrCreateLogKey(dataDir: string, publicUrl?: string): LogKey {
  const dir = keysDir(dataDir);
  const file = path.join(dir, SKEY);
  if (!existsSync(file)) {
    const k = generateLogKey(defaultOrigin(publicUrl));
    try {
      // 'wx': another process that created it first wins, and its key is used below.
      writeFileSync(file, `${k.skey}\n`, { mode: 0o600, flag: 'wx' });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
  }
  const signer = parseSignerKey(readFileSync(file, 'utf8').trim());
  const vkey = formatVerifierKey(signer.name, signer.publicKey);
  const vfile = path.join(dir, VKEY);
  if (!existsSync(vfile) || readFileSync(vfile, 'utf8').trim() !== vkey)
    writeFileSync(vfile, `${vkey}\n`, { mode: 0o644 });
  return { signer, verifier: parseVerifierKey(vkey), origin: signer.name, vkey };
}

/** The verifier key an operator's data folder holds, without creating anything. */
export function readLogVerifierKey(dataDir: string): string | undefined {
  const vfile = path.join(dataDir, 'keys', VKEY);
  if (existsSync(vfile)) return readFileSync(vfile, 'utf8').trim();
  const sfile = path.join(dataDir, 'keys', SKEY);
  if (!existsSync(sfile)) return undefined;
  const signer = parseSignerKey(readFileSync(sfile, 'utf8').trim());
  return formatVerifierKey(signer.name, signer.publicKey);
}
