import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  appendLeaves,
  EMPTY_FRONTIER,
  isValidConsistency,
  isValidInclusion,
  leafHash,
  MemoryNodeStore,
  MerkleTree,
  NodeStoreError,
  toHex,
} from '../../src/audit/merkle/index.ts';
import { refMth, refPath, refProof, refVerifyConsistency, refVerifyInclusion } from './reference.ts';

const leavesOf = (n: number, salt: number): Uint8Array[] =>
  Array.from({ length: n }, (_, i) => leafHash(Buffer.from(`entry ${salt} ${i}`)));

/** Appends in the given batch sizes (cycled), as group commit would. */
async function build(leaves: readonly Uint8Array[], batches: readonly number[]): Promise<MerkleTree> {
  const t = await MerkleTree.open(new MemoryNodeStore(), 0);
  let i = 0;
  let b = 0;
  while (i < leaves.length) {
    const step = Math.max(1, batches[b++ % batches.length]!);
    await t.appendBatch(leaves.slice(i, i + step));
    i += step;
  }
  return t;
}

const flipBit = (proof: readonly Uint8Array[], at: number, bit: number): Uint8Array[] =>
  proof.map((h, i) => {
    const c = Buffer.from(h);
    if (i === at) c[bit >> 3]! ^= 1 << (bit & 7);
    return c;
  });

const sizes = fc.integer({ min: 1, max: 200 });
const batchPlan = fc.array(fc.integer({ min: 1, max: 40 }), { minLength: 1, maxLength: 6 });

describe('Merkle tree properties (fast-check)', () => {
  it('root after any batching equals the RFC 6962 MTH; reopening gives the same tree', async () => {
    await fc.assert(
      fc.asyncProperty(sizes, batchPlan, fc.nat(), async (n, batches, salt) => {
        const leaves = leavesOf(n, salt);
        const t = await build(leaves, batches);
        expect(toHex(t.root)).toBe(toHex(refMth(leaves)));
        const m = (salt % n) + 1;
        expect(toHex(await t.rootAt(m))).toBe(toHex(refMth(leaves.slice(0, m))));
      }),
      { numRuns: 60 },
    );
  });

  it('every inclusion proof equals the RFC PATH and verifies; any tampering fails', async () => {
    await fc.assert(
      fc.asyncProperty(
        sizes,
        batchPlan,
        fc.nat(),
        fc.nat(),
        fc.nat(255),
        async (n, batches, salt, pick, bit) => {
          const leaves = leavesOf(n, salt);
          const t = await build(leaves, batches);
          const size = (pick % n) + 1; // any past tree size
          const root = refMth(leaves.slice(0, size));
          for (let i = 0; i < size; i++) {
            const proof = await t.inclusionProof(i, size);
            expect(proof.map(toHex)).toEqual(refPath(i, leaves.slice(0, size)).map(toHex));
            expect(isValidInclusion(i, size, leaves[i]!, proof, root)).toBe(true);
            expect(refVerifyInclusion(i, size, leaves[i]!, proof, root)).toBe(true);
          }
          const i = pick % size;
          const proof = await t.inclusionProof(i, size);
          const other = leafHash(Buffer.from('not in the log'));
          expect(isValidInclusion(i, size, other, proof, root)).toBe(false);
          if (size > 1) {
            expect(isValidInclusion((i + 1) % size, size, leaves[i]!, proof, root)).toBe(false);
            const at = bit % proof.length;
            expect(isValidInclusion(i, size, leaves[i]!, flipBit(proof, at, bit), root)).toBe(false);
            expect(isValidInclusion(i, size, leaves[i]!, proof.slice(1), root)).toBe(false);
            expect(isValidInclusion(i, size, leaves[i]!, [...proof, root], root)).toBe(false);
          }
          // Doubling the claimed size adds a level: the same path can no longer fit. (size + 1 can be
          // legitimately the same shape, e.g. index 1 of 3 and of 4, so it is not a tampering probe.)
          expect(isValidInclusion(i, size * 2, leaves[i]!, proof, root)).toBe(false);
          expect(isValidInclusion(i, size, leaves[i]!, proof, flipBit([root], 0, bit)[0]!)).toBe(false);
        },
      ),
      { numRuns: 40 },
    );
  });

  it('every consistency proof m ≤ n equals the RFC PROOF and verifies; any tampering fails', async () => {
    await fc.assert(
      fc.asyncProperty(sizes, batchPlan, fc.nat(), fc.nat(255), async (n, batches, salt, bit) => {
        const leaves = leavesOf(n, salt);
        const t = await build(leaves, batches);
        const newRoot = refMth(leaves);
        // Every m for small trees; for larger ones the ends, the powers of two and a spread between.
        const ms =
          n <= 48 ? Array.from({ length: n + 1 }, (_, m) => m) : [0, 1, n - 1, n, 2, 4, 8, 16, 32, 64, 128];
        for (let j = 0; n > 48 && j < 24; j++) ms.push((salt * 31 + j * 97) % (n + 1));
        for (const m of ms.filter((x) => x <= n)) {
          const oldRoot = refMth(leaves.slice(0, m));
          const proof = await t.consistencyProof(m, n);
          expect(proof.map(toHex)).toEqual(refProof(m, leaves).map(toHex));
          expect(isValidConsistency(m, n, oldRoot, newRoot, proof)).toBe(true);
          expect(refVerifyConsistency(m, n, oldRoot, newRoot, proof)).toBe(true);
          if (m === 0 || m === n) continue;
          expect(isValidConsistency(m, n, oldRoot, newRoot, flipBit(proof, bit % proof.length, bit))).toBe(
            false,
          );
          expect(isValidConsistency(m, n, oldRoot, newRoot, proof.slice(0, -1))).toBe(false);
          expect(isValidConsistency(m, n, newRoot, oldRoot, proof)).toBe(false);
          expect(isValidConsistency(m, n, flipBit([oldRoot], 0, bit)[0]!, newRoot, proof)).toBe(false);
          expect(isValidConsistency(m, n, oldRoot, flipBit([newRoot], 0, bit)[0]!, proof)).toBe(false);
          // A history that differs in one old leaf has a different old root: the proof must fail.
          const forged = [...leaves.slice(0, m)];
          forged[bit % m] = leafHash(Buffer.from('forged'));
          expect(isValidConsistency(m, n, refMth(forged), newRoot, proof)).toBe(false);
        }
      }),
      { numRuns: 25 },
    );
  });

  it('appending writes at most 2 nodes per leaf and never rewrites a node', async () => {
    await fc.assert(
      fc.asyncProperty(sizes, batchPlan, async (n, batches) => {
        const store = new MemoryNodeStore();
        const t = await MerkleTree.open(store, 0);
        let i = 0;
        let b = 0;
        let written = 0;
        const leaves = leavesOf(n, 7);
        while (i < n) {
          const step = batches[b++ % batches.length]!;
          const plan = await t.appendBatch(leaves.slice(i, i + step));
          written += plan.nodes.length;
          i += step;
        }
        expect(written).toBeLessThanOrEqual(2 * n);
        expect(store.size).toBe(written); // no (level, index) written twice
      }),
      { numRuns: 40 },
    );
  });
});

describe('two-phase append', () => {
  it('prepareAppend changes nothing until commit; a stale plan is refused', async () => {
    const store = new MemoryNodeStore();
    const t = await MerkleTree.open(store, 0);
    const leaves = leavesOf(10, 1);
    const plan = t.prepareAppend(leaves.slice(0, 6));
    expect(t.size).toBe(0);
    expect(plan.size).toBe(6);
    expect(toHex(plan.root)).toBe(toHex(refMth(leaves.slice(0, 6))));
    // Transaction failed: the plan is dropped, the tree is unchanged and appends go on.
    const plan2 = t.prepareAppend(leaves.slice(0, 3));
    await store.putNodes(plan2.nodes);
    t.commit(plan2);
    expect(() => t.commit(plan)).toThrow(/stale append plan/);
    expect(t.size).toBe(3);
    expect(toHex(t.root)).toBe(toHex(refMth(leaves.slice(0, 3))));
  });

  it('a pure append from a frontier matches the stored tree', () => {
    const leaves = leavesOf(37, 2);
    const a = appendLeaves(EMPTY_FRONTIER, leaves.slice(0, 20));
    const b = appendLeaves(a.frontier, leaves.slice(20));
    expect(b.fromSize).toBe(20);
    expect(toHex(b.root)).toBe(toHex(refMth(leaves)));
    expect(b.nodes[0]).toMatchObject({ level: 0, index: 20 });
  });

  it('refuses bad leaf hashes and a store missing nodes', async () => {
    const store = new MemoryNodeStore();
    const t = await MerkleTree.open(store, 0);
    expect(() => t.prepareAppend([new Uint8Array(31)])).toThrow(/32 bytes/);
    await expect(MerkleTree.open(store, 5)).rejects.toThrow(NodeStoreError);
    await expect(MerkleTree.open(store, -1)).rejects.toThrow(RangeError);
    await expect(MerkleTree.open(store, 1.5)).rejects.toThrow(RangeError);
    const four = leavesOf(4, 3);
    await t.appendBatch(four);
    expect(Buffer.compare(await t.leafHash(2), four[2]!)).toBe(0);
    await expect(t.leafHash(4)).rejects.toThrow(/beyond/);
    await expect(t.leafHash(-1)).rejects.toThrow(/leaf index/);
    await expect(store.putNodes([{ level: 0, index: 1, hash: new Uint8Array(32) }])).rejects.toThrow(
      /different hash/,
    );
  });
});
