/** Hashes in API answers are base64 (as in checkpoints); this reads them back strictly. */
import { decodeBase64Strict, HASH_SIZE, toBase64 } from './merkle/index.ts';

export function hashFromBase64(s: string): Uint8Array {
  const h = decodeBase64Strict(s);
  if (h === undefined || h.length !== HASH_SIZE)
    throw new Error(`not a base64 SHA-256 hash: ${s.slice(0, 60)}`);
  return h;
}

export const b64 = toBase64;
