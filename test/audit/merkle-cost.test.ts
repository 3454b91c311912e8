import { describe, expect, it } from 'vitest';
import {
  isValidConsistency,
  isValidInclusion,
  leafHash,
  MemoryNodeStore,
  MerkleTree,
  readFrontier,
} from '../../src/audit/merkle/index.ts';

// Counts store reads (not time): a proof over a 100,000-leaf tree must touch O(log n) stored
// nodes in a single batched call, and appends must never read the store at all.
describe('storage cost is O(log n) per proof and O(1) amortized per append', () => {
  const N = 100_000;
  const LOG2N = Math.ceil(Math.log2(N)); // 17

  it(`builds ${N} leaves in batches of 1000 without reading the store`, { timeout: 60_000 }, async () => {
    const store = new MemoryNodeStore();
    const t = await MerkleTree.open(store, 0);
    const leaves: Uint8Array[] = [];
    for (let i = 0; i < N; i++) leaves.push(leafHash(Buffer.from(`e${i}`)));
    for (let i = 0; i < N; i += 1000) await t.appendBatch(leaves.slice(i, i + 1000));
    expect(store.reads).toBe(0);
    expect(store.writes).toBeLessThanOrEqual(2 * N);
    expect(store.writes).toBeGreaterThanOrEqual(N);

    // Reopening reads only the frontier: one node per set bit of N.
    store.resetCounters();
    const reopened = await MerkleTree.open(store, N);
    expect(store.readCalls).toBe(1);
    expect(store.reads).toBe((await readFrontier(store, N)).hashes.filter(Boolean).length);
    expect(Buffer.compare(reopened.root, t.root)).toBe(0);

    // Worst cases sampled across the tree, including the ragged right edge and past sizes.
    const cases: Array<[number, number]> = [
      [0, N],
      [N - 1, N],
      [N / 2, N],
      [65_535, N],
      [65_536, N],
      [99_999, 99_999 + 1],
      [12_345, 77_777],
      [77_776, 77_777],
    ];
    for (const [index, size] of cases) {
      store.resetCounters();
      const proof = await t.inclusionProof(index, size);
      expect(store.readCalls, `inclusion ${index}@${size}`).toBe(1);
      expect(store.reads, `inclusion ${index}@${size}`).toBeLessThanOrEqual(2 * LOG2N + 2);
      expect(proof.length).toBeLessThanOrEqual(LOG2N);
      expect(isValidInclusion(index, size, leaves[index]!, proof, await t.rootAt(size))).toBe(true);
    }
    const pairs: Array<[number, number]> = [
      [1, N],
      [N - 1, N],
      [65_536, N],
      [65_537, N],
      [3, 99_997],
      [50_001, 77_777],
    ];
    for (const [m, n] of pairs) {
      store.resetCounters();
      const proof = await t.consistencyProof(m, n);
      expect(store.readCalls, `consistency ${m}→${n}`).toBe(1);
      expect(store.reads, `consistency ${m}→${n}`).toBeLessThanOrEqual(2 * LOG2N + 2);
      expect(isValidConsistency(m, n, await t.rootAt(m), await t.rootAt(n), proof)).toBe(true);
    }
    for (const size of [1, 77_777, 99_999, 65_536]) {
      store.resetCounters();
      await t.rootAt(size);
      expect(store.reads, `root@${size}`).toBeLessThanOrEqual(LOG2N + 1);
    }
  });
});
