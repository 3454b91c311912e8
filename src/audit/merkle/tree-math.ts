/**
 * Pure index arithmetic for an RFC 6962 log stored as complete subtrees.
 *
 * A stored node (level, index) is the root of the perfect subtree over leaves
 * [index·2^level, (index+1)·2^level). Only complete subtrees are ever stored, so a node never
 * changes once written: the store is append-only, like the log. Any range the RFC recursion asks
 * for — MTH(D[a:b]) where a is aligned to a power of two ≥ b − a — is the right-to-left fold of at
 * most log2(b − a) + 1 such nodes, which is what makes roots and proofs O(log n) reads.
 *
 * Numbers, not bigints: sizes stay below 2^53 and all arithmetic here is exact in doubles
 * (no 32-bit bit operators).
 */

export interface NodeId {
  readonly level: number;
  readonly index: number;
}

/** The largest log this code accepts: every leaf index stays an exact double. */
export const MAX_TREE_SIZE = Number.MAX_SAFE_INTEGER;

/** One proof element: the fold (right to left) of these complete-subtree nodes, left to right. */
export type RangeNodes = readonly NodeId[];

export function assertSize(name: string, n: number): void {
  if (!Number.isSafeInteger(n) || n < 0)
    throw new RangeError(`${name} must be a non-negative safe integer, got ${n}`);
}

/** The largest power of two strictly smaller than n (n ≥ 2): RFC 6962's split point k. */
export function splitPoint(n: number): number {
  if (n < 2) throw new RangeError(`split point needs n ≥ 2, got ${n}`);
  let k = 1;
  while (k * 2 < n) k *= 2;
  return k;
}

/**
 * The complete subtrees covering [begin, begin + count), largest first, for a range whose start is
 * aligned to a power of two ≥ count (the only kind the RFC 6962 recursion produces). This is the
 * right border ("compact range") of that subtree.
 */
export function rangeNodes(begin: number, count: number): NodeId[] {
  const out: NodeId[] = [];
  let pos = begin;
  let rest = count;
  while (rest > 0) {
    let width = 1;
    let level = 0;
    while (width * 2 <= rest) {
      width *= 2;
      level++;
    }
    out.push({ level, index: pos / width });
    pos += width;
    rest -= width;
  }
  return out;
}

/** The nodes whose fold is the root of the tree of `size` leaves: one per set bit of size. */
export function rootNodes(size: number): NodeId[] {
  return rangeNodes(0, size);
}

/**
 * RFC 6962 §2.1.1 PATH(m, D[n]) as a list of ranges, deepest first. Each element is one audit-path
 * hash: MTH of a sub-range, expressed as the complete subtrees to fold.
 */
export function inclusionPlan(index: number, size: number): RangeNodes[] {
  assertSize('tree size', size);
  assertSize('leaf index', index);
  if (index >= size) throw new RangeError(`leaf index ${index} is outside a tree of size ${size}`);
  const out: RangeNodes[] = [];
  // Walk from the root down, collecting the sibling range at each split, then reverse so the
  // path reads leaf-to-root as the RFC orders it.
  let begin = 0;
  let n = size;
  let m = index;
  while (n > 1) {
    const k = splitPoint(n);
    if (m < k) {
      out.push(rangeNodes(begin + k, n - k));
      n = k;
    } else {
      out.push(rangeNodes(begin, k));
      begin += k;
      m -= k;
      n -= k;
    }
  }
  return out.reverse();
}

/**
 * RFC 6962 §2.1.2 PROOF(m, D[n]) = SUBPROOF(m, D[n], true) as a list of ranges in RFC order.
 * Sizes m = 0 and m = n have the empty proof.
 */
export function consistencyPlan(size1: number, size2: number): RangeNodes[] {
  assertSize('old size', size1);
  assertSize('new size', size2);
  if (size1 > size2) throw new RangeError(`old size ${size1} is larger than new size ${size2}`);
  if (size1 === 0 || size1 === size2) return [];
  // SUBPROOF appends its right-hand MTH after recursing, so collect top-down and reverse.
  const out: RangeNodes[] = [];
  let begin = 0;
  let n = size2;
  let m = size1;
  let whole = true; // SUBPROOF's b flag: true while m is the original old tree's full range
  while (m !== n) {
    const k = splitPoint(n);
    if (m <= k) {
      out.push(rangeNodes(begin + k, n - k));
      n = k;
    } else {
      out.push(rangeNodes(begin, k));
      begin += k;
      m -= k;
      n -= k;
      whole = false;
    }
  }
  if (!whole) out.push(rangeNodes(begin, n));
  return out.reverse();
}

/** Every distinct node a plan reads, in first-use order (for one batched store read). */
export function planNodeIds(plan: readonly RangeNodes[]): NodeId[] {
  const seen = new Set<string>();
  const out: NodeId[] = [];
  for (const range of plan) {
    for (const id of range) {
      const key = `${id.level}/${id.index}`;
      if (!seen.has(key)) {
        seen.add(key);
        out.push(id);
      }
    }
  }
  return out;
}
