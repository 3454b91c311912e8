/**
 * Proof verification as specified in RFC 9162 §2.1.3.2 (inclusion) and §2.1.4.2 (consistency),
 * which verify the RFC 6962 proof shapes without rebuilding any tree. These are what an
 * auditor's client runs, so they take only hashes and sizes and trust nothing else.
 *
 * Each throws ProofError naming what failed; the `is…` forms return a boolean.
 */
import { HASH_SIZE, hashesEqual, nodeHash } from './hash.ts';
import { assertSize } from './tree-math.ts';

export class ProofError extends Error {
  override readonly name = 'ProofError';
}

function checkHashes(what: string, hashes: readonly Uint8Array[]): void {
  hashes.forEach((h, i) => {
    if (h.length !== HASH_SIZE)
      throw new ProofError(`${what}[${i}] is ${h.length} bytes, expected ${HASH_SIZE}`);
  });
}

function checkHash(what: string, h: Uint8Array): void {
  if (h.length !== HASH_SIZE) throw new ProofError(`${what} is ${h.length} bytes, expected ${HASH_SIZE}`);
}

// Exact halving for sizes up to 2^53 (the 32-bit shift operators would truncate).
const half = (x: number): number => Math.floor(x / 2);
const odd = (x: number): boolean => x % 2 === 1;

/** RFC 9162 §2.1.3.2: the root implied by an audit path. Throws if the path has the wrong length. */
export function rootFromInclusionProof(
  index: number,
  size: number,
  leafHash: Uint8Array,
  proof: readonly Uint8Array[],
): Uint8Array {
  assertSize('tree size', size);
  assertSize('leaf index', index);
  if (index >= size) throw new ProofError(`leaf index ${index} is outside a tree of size ${size}`);
  checkHash('leaf hash', leafHash);
  checkHashes('proof', proof);
  let fn = index;
  let sn = size - 1;
  let r = leafHash;
  for (const p of proof) {
    if (sn === 0) throw new ProofError(`inclusion proof is too long (${proof.length} hashes)`);
    if (odd(fn) || fn === sn) {
      r = nodeHash(p, r);
      if (!odd(fn)) {
        while (!odd(fn) && fn !== 0) {
          fn = half(fn);
          sn = half(sn);
        }
      }
    } else {
      r = nodeHash(r, p);
    }
    fn = half(fn);
    sn = half(sn);
  }
  if (sn !== 0) throw new ProofError(`inclusion proof is too short (${proof.length} hashes)`);
  return r;
}

export function verifyInclusion(
  index: number,
  size: number,
  leafHash: Uint8Array,
  proof: readonly Uint8Array[],
  root: Uint8Array,
): void {
  checkHash('root', root);
  const got = rootFromInclusionProof(index, size, leafHash, proof);
  if (!hashesEqual(got, root))
    throw new ProofError(`inclusion proof for leaf ${index} does not lead to the root of size ${size}`);
}

export function isValidInclusion(
  index: number,
  size: number,
  leafHash: Uint8Array,
  proof: readonly Uint8Array[],
  root: Uint8Array,
): boolean {
  return passes(() => verifyInclusion(index, size, leafHash, proof, root));
}

/** RFC 9162 §2.1.4.2, with the trivial cases (size1 = 0, size1 = size2) handled first. */
export function verifyConsistency(
  size1: number,
  size2: number,
  root1: Uint8Array,
  root2: Uint8Array,
  proof: readonly Uint8Array[],
): void {
  assertSize('old size', size1);
  assertSize('new size', size2);
  checkHash('old root', root1);
  checkHash('new root', root2);
  checkHashes('proof', proof);
  if (size2 < size1)
    throw new ProofError(`new size ${size2} is smaller than old size ${size1}: the log shrank`);
  if (size1 === size2) {
    if (proof.length > 0) throw new ProofError('consistency proof between equal sizes must be empty');
    if (!hashesEqual(root1, root2)) throw new ProofError(`two different roots for the same size ${size1}`);
    return;
  }
  if (size1 === 0) {
    if (proof.length > 0) throw new ProofError('consistency proof from the empty tree must be empty');
    return;
  }
  if (proof.length === 0) throw new ProofError('consistency proof is empty');

  // Step 2: when the old tree is a complete subtree, its root is the proof's implicit first node.
  let path = proof;
  if (isPowerOfTwo(size1)) path = [root1, ...proof];
  let fn = size1 - 1;
  let sn = size2 - 1;
  while (odd(fn)) {
    fn = half(fn);
    sn = half(sn);
  }
  let fr = path[0]!;
  let sr = path[0]!;
  for (let i = 1; i < path.length; i++) {
    const c = path[i]!;
    if (sn === 0) throw new ProofError(`consistency proof is too long (${proof.length} hashes)`);
    if (odd(fn) || fn === sn) {
      fr = nodeHash(c, fr);
      sr = nodeHash(c, sr);
      if (!odd(fn)) {
        while (!odd(fn) && fn !== 0) {
          fn = half(fn);
          sn = half(sn);
        }
      }
    } else {
      sr = nodeHash(sr, c);
    }
    fn = half(fn);
    sn = half(sn);
  }
  if (sn !== 0) throw new ProofError(`consistency proof is too short (${proof.length} hashes)`);
  if (!hashesEqual(fr, root1))
    throw new ProofError(`consistency proof does not lead to the old root (size ${size1})`);
  if (!hashesEqual(sr, root2))
    throw new ProofError(`consistency proof does not lead to the new root (size ${size2})`);
}

export function isValidConsistency(
  size1: number,
  size2: number,
  root1: Uint8Array,
  root2: Uint8Array,
  proof: readonly Uint8Array[],
): boolean {
  return passes(() => verifyConsistency(size1, size2, root1, root2, proof));
}

function isPowerOfTwo(n: number): boolean {
  let p = 1;
  while (p < n) p *= 2;
  return p === n;
}

function passes(check: () => void): boolean {
  try {
    check();
    return true;
  } catch (e) {
    if (e instanceof ProofError || e instanceof RangeError) return false;
    throw e;
  }
}
