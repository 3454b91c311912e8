/**
 * An independent RFC 6962 reference, written straight from the RFC's recursive definitions
 * (§2.1 MTH, §2.1.1 PATH, §2.1.2 PROOF/SUBPROOF) with its own hashing, so the tests never check
 * the code under test against itself. Quadratic and slow on purpose: clarity over speed.
 */
import { createHash } from 'node:crypto';

const sha = (...parts: Uint8Array[]): Uint8Array => {
  const h = createHash('sha256');
  for (const p of parts) h.update(p);
  return h.digest();
};

export const refLeaf = (d: Uint8Array): Uint8Array => sha(Uint8Array.of(0), d);
export const refNode = (l: Uint8Array, r: Uint8Array): Uint8Array => sha(Uint8Array.of(1), l, r);

/** k: the largest power of two smaller than n. */
function k(n: number): number {
  let p = 1;
  while (p * 2 < n) p *= 2;
  return p;
}

/** MTH over leaf hashes (D given already leaf-hashed). */
export function refMth(leaves: readonly Uint8Array[]): Uint8Array {
  if (leaves.length === 0) return sha();
  if (leaves.length === 1) return leaves[0]!;
  const s = k(leaves.length);
  return refNode(refMth(leaves.slice(0, s)), refMth(leaves.slice(s)));
}

export function refPath(m: number, leaves: readonly Uint8Array[]): Uint8Array[] {
  const n = leaves.length;
  if (n <= 1) return [];
  const s = k(n);
  if (m < s) return [...refPath(m, leaves.slice(0, s)), refMth(leaves.slice(s))];
  return [...refPath(m - s, leaves.slice(s)), refMth(leaves.slice(0, s))];
}

function subproof(m: number, leaves: readonly Uint8Array[], b: boolean): Uint8Array[] {
  const n = leaves.length;
  if (m === n) return b ? [] : [refMth(leaves)];
  const s = k(n);
  if (m <= s) return [...subproof(m, leaves.slice(0, s), b), refMth(leaves.slice(s))];
  return [...subproof(m - s, leaves.slice(s), false), refMth(leaves.slice(0, s))];
}

export function refProof(m: number, leaves: readonly Uint8Array[]): Uint8Array[] {
  if (m === 0 || m === leaves.length) return [];
  return subproof(m, leaves, true);
}

const same = (a: Uint8Array, b: Uint8Array): boolean => Buffer.compare(a, b) === 0;

/** Recursive inclusion verifier: walks the same splits as PATH, consuming the path from its end. */
export function refVerifyInclusion(
  m: number,
  n: number,
  leaf: Uint8Array,
  path: readonly Uint8Array[],
  root: Uint8Array,
): boolean {
  if (!(m >= 0 && m < n)) return false;
  if (path.some((p) => p.length !== 32) || leaf.length !== 32) return false;
  const walk = (mm: number, nn: number, p: readonly Uint8Array[]): Uint8Array | undefined => {
    if (nn === 1) return p.length === 0 ? leaf : undefined;
    if (p.length === 0) return undefined;
    const s = k(nn);
    const last = p[p.length - 1]!;
    const rest = p.slice(0, -1);
    if (mm < s) {
      const left = walk(mm, s, rest);
      return left && refNode(left, last);
    }
    const right = walk(mm - s, nn - s, rest);
    return right && refNode(last, right);
  };
  const got = walk(m, n, path);
  return got !== undefined && same(got, root);
}

/** Recursive consistency verifier mirroring SUBPROOF: rebuilds both roots from the proof. */
export function refVerifyConsistency(
  m: number,
  n: number,
  oldRoot: Uint8Array,
  newRoot: Uint8Array,
  proof: readonly Uint8Array[],
): boolean {
  if (m < 0 || m > n || proof.some((p) => p.length !== 32)) return false;
  if (m === 0) return proof.length === 0;
  if (m === n) return proof.length === 0 && same(oldRoot, newRoot);
  const walk = (
    mm: number,
    nn: number,
    p: readonly Uint8Array[],
    b: boolean,
  ): [Uint8Array, Uint8Array] | undefined => {
    if (mm === nn) {
      if (b) return p.length === 0 ? [oldRoot, oldRoot] : undefined;
      return p.length === 1 ? [p[0]!, p[0]!] : undefined;
    }
    if (p.length === 0) return undefined;
    const s = k(nn);
    const last = p[p.length - 1]!;
    const rest = p.slice(0, -1);
    if (mm <= s) {
      const r = walk(mm, s, rest, b);
      return r && [r[0], refNode(r[1], last)];
    }
    const r = walk(mm - s, nn - s, rest, false);
    return r && [refNode(last, r[0]), refNode(last, r[1])];
  };
  const got = walk(m, n, proof, true);
  return got !== undefined && same(got[0], oldRoot) && same(got[1], newRoot);
}
