/**
 * RFC 6962 §2.1 hashing with SHA-256, domain-separated so that a leaf can never be passed off as
 * an interior node (second-preimage defence): leaf = SHA-256(0x00 ‖ entry),
 * node = SHA-256(0x01 ‖ left ‖ right). The empty tree's root is SHA-256 of the empty string.
 */
import { hash, timingSafeEqual } from 'node:crypto';

export const HASH_SIZE = 32;

/** Root of the empty tree: SHA-256(""). */
export const EMPTY_ROOT: Uint8Array = hash('sha256', new Uint8Array(0), 'buffer');

// One scratch buffer for interior nodes: `crypto.hash` on a single 65-byte input is about twice as
// fast as createHash().update().update().digest(), and node hashing is the append/verify hot path.
const nodeScratch = Buffer.alloc(1 + 2 * HASH_SIZE);
nodeScratch[0] = 0x01;
let leafScratch = Buffer.alloc(4096);

/** SHA-256(0x00 ‖ data). */
export function leafHash(data: Uint8Array): Uint8Array {
  if (data.length + 1 > leafScratch.length)
    leafScratch = Buffer.alloc(Math.max(data.length + 1, leafScratch.length * 2));
  leafScratch[0] = 0x00;
  leafScratch.set(data, 1);
  return hash('sha256', leafScratch.subarray(0, data.length + 1), 'buffer');
}

/** SHA-256(0x01 ‖ left ‖ right). Both inputs must be HASH_SIZE bytes. */
export function nodeHash(left: Uint8Array, right: Uint8Array): Uint8Array {
  if (left.length !== HASH_SIZE || right.length !== HASH_SIZE) {
    throw new RangeError(
      `node hash inputs must be ${HASH_SIZE} bytes, got ${left.length} and ${right.length}`,
    );
  }
  nodeScratch.set(left, 1);
  nodeScratch.set(right, 1 + HASH_SIZE);
  return hash('sha256', nodeScratch, 'buffer');
}

/** Constant-time equality for hashes (false, not an exception, when lengths differ). */
export function hashesEqual(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && timingSafeEqual(a, b);
}

export function toHex(h: Uint8Array): string {
  return Buffer.from(h.buffer, h.byteOffset, h.byteLength).toString('hex');
}

export function toBase64(h: Uint8Array): string {
  return Buffer.from(h.buffer, h.byteOffset, h.byteLength).toString('base64');
}

/** Strict hex decoding of one hash: exactly 64 hex digits. */
export function hashFromHex(hex: string): Uint8Array {
  if (!/^[0-9a-fA-F]{64}$/.test(hex))
    throw new RangeError(`not a ${HASH_SIZE}-byte hex hash: ${JSON.stringify(hex.slice(0, 80))}`);
  return Buffer.from(hex, 'hex');
}
