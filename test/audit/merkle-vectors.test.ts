import { describe, expect, it } from 'vitest';
import {
  consistencyPlan,
  EMPTY_ROOT,
  inclusionPlan,
  isValidConsistency,
  isValidInclusion,
  leafHash,
  MemoryNodeStore,
  MerkleTree,
  ProofError,
  rootFromInclusionProof,
  toHex,
  verifyConsistency,
  verifyInclusion,
} from '../../src/audit/merkle/index.ts';
import { refLeaf, refMth, refVerifyConsistency, refVerifyInclusion } from './reference.ts';
import {
  CONSISTENCY_NODES,
  CONSISTENCY_PROOFS,
  INCLUSION_NODES,
  INCLUSION_PROOFS,
  LEAF_INPUTS,
  NODE_HASHES,
  ROOTS,
} from './rfc6962-vectors.ts';

const hx = (s: string): Uint8Array => Buffer.from(s, 'hex');
const leaves = LEAF_INPUTS.map((s) => leafHash(hx(s)));
const SOME_HASH = hx('abacaba000000000000000000000000000000000000000000060061e00123456');

async function tree(n: number): Promise<{ t: MerkleTree; store: MemoryNodeStore }> {
  const store = new MemoryNodeStore();
  const t = await MerkleTree.open(store, 0);
  await t.appendBatch(leaves.slice(0, n));
  return { t, store };
}

describe('RFC 6962 hashing vectors', () => {
  it('hashes the reference leaf inputs like the reference implementation', () => {
    expect(leaves.map(toHex)).toEqual(NODE_HASHES[0]);
    expect(leaves.map((l, i) => Buffer.compare(l, refLeaf(hx(LEAF_INPUTS[i]!))))).toEqual(
      leaves.map(() => 0),
    );
  });

  it('gives the reference root for every size 0..8, appended one at a time', async () => {
    const store = new MemoryNodeStore();
    const t = await MerkleTree.open(store, 0);
    expect(toHex(t.root)).toBe(ROOTS[0]);
    expect(toHex(EMPTY_ROOT)).toBe(ROOTS[0]);
    for (let n = 1; n <= 8; n++) {
      await t.appendBatch([leaves[n - 1]!]);
      expect(toHex(t.root)).toBe(ROOTS[n]);
    }
    // Historical roots read back from stored nodes, and from a reopened tree.
    const reopened = await MerkleTree.open(store, 8);
    for (let n = 0; n <= 8; n++) {
      expect(toHex(await t.rootAt(n))).toBe(ROOTS[n]);
      expect(toHex(await reopened.rootAt(n))).toBe(ROOTS[n]);
      expect(toHex(refMth(leaves.slice(0, n)))).toBe(ROOTS[n]);
    }
  });

  it('stores exactly the complete subtrees, with the reference hashes', async () => {
    const { store } = await tree(8);
    expect(store.size).toBe(15);
    for (let level = 0; level < NODE_HASHES.length; level++) {
      const row = NODE_HASHES[level]!;
      const got = await store.getNodes(row.map((_, index) => ({ level, index })));
      expect(got.map((h) => (h ? toHex(h) : undefined))).toEqual(row);
    }
    // A tree of 7 leaves has no node for the incomplete subtree (level 1, index 3).
    const seven = await tree(7);
    expect(await seven.store.getNodes([{ level: 1, index: 3 }])).toEqual([undefined]);
    expect(seven.store.size).toBe(11);
  });
});

describe('RFC 6962 inclusion proof vectors', () => {
  for (const v of INCLUSION_PROOFS) {
    it(`leaf ${v.index} in a tree of ${v.size}`, async () => {
      const { t } = await tree(8);
      const proof = await t.inclusionProof(v.index, v.size);
      expect(proof.map(toHex)).toEqual(v.proof);
      const root = hx(ROOTS[v.size]!);
      expect(() => verifyInclusion(v.index, v.size, leaves[v.index]!, proof, root)).not.toThrow();
      expect(refVerifyInclusion(v.index, v.size, leaves[v.index]!, proof, root)).toBe(true);
      expect(toHex(rootFromInclusionProof(v.index, v.size, leaves[v.index]!, proof))).toBe(ROOTS[v.size]);

      // The reference implementation's corruption probes must all fail.
      const p = proof.map((h) => hx(toHex(h)));
      const probes: Array<[string, number, number, Uint8Array, readonly Uint8Array[], Uint8Array]> = [
        ['index - 1', v.index - 1, v.size, leaves[v.index]!, p, root],
        ['index + 1', v.index + 1, v.size, leaves[v.index]!, p, root],
        ['index ^ 2', v.index ^ 2, v.size, leaves[v.index]!, p, root],
        ['size * 2', v.index, v.size * 2, leaves[v.index]!, p, root],
        ['size / 2', v.index, Math.floor(v.size / 2), leaves[v.index]!, p, root],
        ['wrong leaf', v.index, v.size, Buffer.from('WrongLeaf'), p, root],
        ['empty root', v.index, v.size, leaves[v.index]!, p, EMPTY_ROOT],
        ['random root', v.index, v.size, leaves[v.index]!, p, SOME_HASH],
        ['trailing garbage', v.index, v.size, leaves[v.index]!, [...p, new Uint8Array(0)], root],
        ['trailing root', v.index, v.size, leaves[v.index]!, [...p, root], root],
        ['preceding garbage', v.index, v.size, leaves[v.index]!, [new Uint8Array(0), ...p], root],
        ['preceding root', v.index, v.size, leaves[v.index]!, [root, ...p], root],
        ['removed component', v.index, v.size, leaves[v.index]!, p.slice(0, -1), root],
        ['inserted component', v.index, v.size, leaves[v.index]!, [p[0]!, SOME_HASH, ...p.slice(1)], root],
      ];
      for (let i = 0; i < p.length; i++) {
        const flipped = p.map((h) => Buffer.from(h));
        flipped[i]![0]! ^= 8;
        probes.push([`modified proof[${i}]`, v.index, v.size, leaves[v.index]!, flipped, root]);
      }
      for (const [desc, index, size, leaf, proofs, r] of probes) {
        expect(isValidInclusion(index, size, leaf, proofs, r), desc).toBe(false);
        expect(refVerifyInclusion(index, size, leaf, proofs, r), desc).toBe(false);
      }
    });
  }

  it('refuses impossible index/size pairs with a clear error', () => {
    expect(() => verifyInclusion(0, 0, SOME_HASH, [], EMPTY_ROOT)).toThrow(/outside a tree of size 0/);
    expect(() => verifyInclusion(2, 1, SOME_HASH, [], SOME_HASH)).toThrow(ProofError);
    expect(() => verifyInclusion(0, 1, SOME_HASH, [], new Uint8Array(0))).toThrow(/root is 0 bytes/);
    expect(() => verifyInclusion(-1, 4, SOME_HASH, [], SOME_HASH)).toThrow(RangeError);
    // One-leaf tree: the root is the leaf hash and the proof is empty.
    expect(isValidInclusion(0, 1, SOME_HASH, [], SOME_HASH)).toBe(true);
    expect(isValidInclusion(0, 1, SOME_HASH, [], EMPTY_ROOT)).toBe(false);
  });

  it('reads the same stored nodes as the reference implementation', () => {
    for (const v of INCLUSION_NODES) {
      const plan = inclusionPlan(v.index, v.size).map((r) => r.map((id) => [id.level, id.index]));
      expect(plan, `${v.index}@${v.size}`).toEqual(v.nodes);
    }
    expect(() => inclusionPlan(8, 7)).toThrow(/outside/);
    expect(() => inclusionPlan(0, 0)).toThrow(/outside/);
  });
});

describe('RFC 6962 consistency proof vectors', () => {
  for (const v of CONSISTENCY_PROOFS) {
    it(`from ${v.size1} to ${v.size2}`, async () => {
      const { t } = await tree(8);
      const proof = await t.consistencyProof(v.size1, v.size2);
      expect(proof.map(toHex)).toEqual(v.proof);
      const r1 = hx(ROOTS[v.size1]!);
      const r2 = hx(ROOTS[v.size2]!);
      expect(() => verifyConsistency(v.size1, v.size2, r1, r2, proof)).not.toThrow();
      expect(refVerifyConsistency(v.size1, v.size2, r1, r2, proof)).toBe(true);
      if (proof.length === 0) return;
      const p = proof.map((h) => Buffer.from(h));
      const probes: Array<[string, number, number, Uint8Array, Uint8Array, readonly Uint8Array[]]> = [
        ['size1 - 1', v.size1 - 1, v.size2, r1, r2, p],
        ['size1 + 1', v.size1 + 1, v.size2, r1, r2, p],
        ['size1 ^ 2', v.size1 ^ 2, v.size2, r1, r2, p],
        ['size2 * 2', v.size1, v.size2 * 2, r1, r2, p],
        ['size2 / 2', v.size1, Math.floor(v.size2 / 2), r1, r2, p],
        ['wrong root1', v.size1, v.size2, Buffer.from('WrongRoot'), r2, p],
        ['wrong root2', v.size1, v.size2, r1, Buffer.from('WrongRoot'), p],
        ['swapped roots', v.size1, v.size2, r2, r1, p],
        ['empty proof', v.size1, v.size2, r1, r2, []],
        ['trailing garbage', v.size1, v.size2, r1, r2, [...p, new Uint8Array(0)]],
        ['trailing root1', v.size1, v.size2, r1, r2, [...p, r1]],
        ['trailing root2', v.size1, v.size2, r1, r2, [...p, r2]],
        ['preceding garbage', v.size1, v.size2, r1, r2, [new Uint8Array(0), ...p]],
        ['preceding root1', v.size1, v.size2, r1, r2, [r1, ...p]],
        ['preceding root2', v.size1, v.size2, r1, r2, [r2, ...p]],
        ['preceding proof[0]', v.size1, v.size2, r1, r2, [p[0]!, ...p]],
        ['truncated proof', v.size1, v.size2, r1, r2, p.slice(0, -1)],
      ];
      for (let i = 0; i < p.length; i++) {
        const flipped = p.map((h) => Buffer.from(h));
        flipped[i]![0]! ^= 16;
        probes.push([`modified proof[${i}]`, v.size1, v.size2, r1, r2, flipped]);
      }
      for (const [desc, s1, s2, a, b, pr] of probes) {
        expect(isValidConsistency(s1, s2, a, b, pr), desc).toBe(false);
        expect(refVerifyConsistency(s1, s2, a, b, pr), desc).toBe(false);
      }
    });
  }

  it('handles the trivial sizes exactly as the reference does', () => {
    const r1 = hx(ROOTS[3]!);
    const r2 = hx(ROOTS[5]!);
    // Always consistent: 0 → anything, n → n with the same root, both with the empty proof.
    expect(isValidConsistency(0, 0, r1, r1, [])).toBe(true);
    expect(isValidConsistency(0, 5, r1, r2, [])).toBe(true);
    expect(isValidConsistency(5, 5, r2, r2, [])).toBe(true);
    // Same size, different roots: two histories.
    expect(() => verifyConsistency(5, 5, r1, r2, [])).toThrow(/two different roots/);
    // Time travel and empty proofs for a real step.
    expect(() => verifyConsistency(5, 3, r2, r1, [])).toThrow(/shrank/);
    expect(() => verifyConsistency(3, 5, r1, r2, [])).toThrow(/empty/);
    // Non-empty proofs where none is due.
    expect(isValidConsistency(0, 5, r1, r2, [EMPTY_ROOT])).toBe(false);
    expect(isValidConsistency(5, 5, r2, r2, [EMPTY_ROOT])).toBe(false);
  });

  it('reads the same stored nodes as the reference implementation', () => {
    for (const v of CONSISTENCY_NODES) {
      const plan = consistencyPlan(v.size1, v.size2).map((r) => r.map((id) => [id.level, id.index]));
      expect(plan, `${v.size1}→${v.size2}`).toEqual(v.nodes);
    }
    expect(() => consistencyPlan(9, 8)).toThrow(/larger/);
  });

  it('refuses proofs about sizes the log does not have yet', async () => {
    const { t } = await tree(5);
    await expect(t.consistencyProof(2, 8)).rejects.toThrow(/beyond the log's size 5/);
    await expect(t.inclusionProof(1, 6)).rejects.toThrow(/beyond/);
    await expect(t.rootAt(6)).rejects.toThrow(/beyond/);
  });
});
