/**
 * The append-only Merkle tree over a NodeStore.
 *
 * Appending keeps the "frontier": the roots of the complete subtrees on the tree's right border
 * (one per set bit of the size). A new leaf merges with the frontier like a binary counter carry,
 * so each append writes its leaf node plus one node per carry — at most 2 nodes per leaf
 * amortized — and never reads the store. Roots and proofs read O(log n) stored nodes in one
 * batched call.
 *
 * Appends are two-phase so the caller can put the nodes in the same database transaction as the
 * entries: `prepareAppend` computes the nodes without touching any state, the caller writes them
 * with its batch, and `commit` advances the in-memory tree only once the transaction is durable.
 * A failed transaction just drops the plan. `appendBatch` does all three against the store.
 */
import { EMPTY_ROOT, HASH_SIZE, nodeHash } from './hash.ts';
import { type NodeStore, NodeStoreError, type TreeNode } from './node-store.ts';
import {
  assertSize,
  consistencyPlan,
  inclusionPlan,
  MAX_TREE_SIZE,
  type NodeId,
  planNodeIds,
  type RangeNodes,
  rootNodes,
} from './tree-math.ts';

/** The right border of a tree: `hashes[level]` is set exactly when bit `level` of size is set. */
export interface Frontier {
  readonly size: number;
  readonly hashes: ReadonlyArray<Uint8Array | undefined>;
}

export const EMPTY_FRONTIER: Frontier = { size: 0, hashes: [] };

export type NodeSink = (level: number, index: number, hash: Uint8Array) => void;

/**
 * Incremental RFC 6962 tree hasher in O(log n) memory. Used for appends (with a sink collecting
 * new nodes) and by the verifier to recompute a whole log while streaming its entries.
 */
export class TreeBuilder {
  #size: number;
  readonly #hashes: Array<Uint8Array | undefined>;

  constructor(from: Frontier = EMPTY_FRONTIER) {
    checkFrontier(from);
    this.#size = from.size;
    this.#hashes = [...from.hashes];
  }

  get size(): number {
    return this.#size;
  }

  /** Adds one leaf hash; reports the leaf node and every completed parent to `sink`. */
  push(leafHash: Uint8Array, sink?: NodeSink): void {
    if (leafHash.length !== HASH_SIZE)
      throw new RangeError(`leaf hash must be ${HASH_SIZE} bytes, got ${leafHash.length}`);
    if (this.#size >= MAX_TREE_SIZE) throw new RangeError('tree is full');
    let carry = leafHash;
    let level = 0;
    let index = this.#size;
    sink?.(0, index, carry);
    // Binary-counter carry: while the bit at `level` is set, the new node completes a pair.
    while (index % 2 === 1) {
      const left = this.#hashes[level];
      if (left === undefined) throw new Error(`frontier is missing level ${level}`);
      this.#hashes[level] = undefined;
      carry = nodeHash(left, carry);
      level++;
      index = (index - 1) / 2;
      sink?.(level, index, carry);
    }
    this.#hashes[level] = carry;
    this.#size++;
  }

  /** MTH of all leaves so far: the frontier folded from the smallest subtree up. */
  root(): Uint8Array {
    return frontierRoot(this.frontier());
  }

  frontier(): Frontier {
    return { size: this.#size, hashes: [...this.#hashes] };
  }
}

function checkFrontier(f: Frontier): void {
  assertSize('frontier size', f.size);
  let s = f.size;
  for (let level = 0; level < f.hashes.length || s > 0; level++) {
    const bit = s % 2 === 1;
    const h = f.hashes[level];
    if (bit !== (h !== undefined))
      throw new RangeError(`frontier of size ${f.size} is inconsistent at level ${level}`);
    if (h !== undefined && h.length !== HASH_SIZE)
      throw new RangeError(`frontier hash at level ${level} has wrong length`);
    s = Math.floor(s / 2);
  }
}

export function frontierRoot(f: Frontier): Uint8Array {
  let acc: Uint8Array | undefined;
  for (const h of f.hashes) {
    if (h === undefined) continue;
    acc = acc === undefined ? h : nodeHash(h, acc);
  }
  return acc ?? EMPTY_ROOT;
}

/** Builds a frontier from the hashes of `rootNodes(size)` (largest subtree first). */
export function frontierFromRootNodes(size: number, hashes: ReadonlyArray<Uint8Array>): Frontier {
  const ids = rootNodes(size);
  if (ids.length !== hashes.length)
    throw new RangeError(`size ${size} needs ${ids.length} frontier nodes, got ${hashes.length}`);
  const out: Array<Uint8Array | undefined> = [];
  ids.forEach((id, i) => {
    out[id.level] = hashes[i];
  });
  for (let i = 0; i < out.length; i++) if (!(i in out)) out[i] = undefined;
  return { size, hashes: out };
}

/** What one batch append produces: the nodes to write with the batch, and the new head. */
export interface AppendPlan {
  /** Tree size the plan was computed from; commit refuses a plan for another size. */
  readonly fromSize: number;
  /** Tree size after the batch. Leaf i of the batch has index fromSize + i. */
  readonly size: number;
  /** MTH after the batch (what the next checkpoint signs). */
  readonly root: Uint8Array;
  /** New complete-subtree nodes, leaves included: at most 2 per leaf. Write them all. */
  readonly nodes: readonly TreeNode[];
  readonly frontier: Frontier;
}

/** Pure: appends leaf hashes to a frontier. */
export function appendLeaves(from: Frontier, leafHashes: readonly Uint8Array[]): AppendPlan {
  const builder = new TreeBuilder(from);
  const nodes: TreeNode[] = [];
  const sink: NodeSink = (level, index, hash) => {
    nodes.push({ level, index, hash });
  };
  for (const h of leafHashes) builder.push(h, sink);
  const frontier = builder.frontier();
  return { fromSize: from.size, size: frontier.size, root: frontierRoot(frontier), nodes, frontier };
}

/** Reads the frontier of a stored tree of `size` leaves: popcount(size) nodes, one call. */
export async function readFrontier(store: NodeStore, size: number): Promise<Frontier> {
  assertSize('tree size', size);
  if (size === 0) return EMPTY_FRONTIER;
  const ids = rootNodes(size);
  const got = await store.getNodes(ids);
  return frontierFromRootNodes(size, requireAll(ids, got));
}

function requireAll(ids: readonly NodeId[], got: ReadonlyArray<Uint8Array | undefined>): Uint8Array[] {
  return ids.map((id, i) => {
    const h = got[i];
    if (h === undefined)
      throw new NodeStoreError(`tree node (${id.level}, ${id.index}) is missing from the store`);
    if (h.length !== HASH_SIZE)
      throw new NodeStoreError(`tree node (${id.level}, ${id.index}) has ${h.length} bytes`);
    return h;
  });
}

/** Resolves a proof plan with one batched read and folds each range into its proof hash. */
async function resolvePlan(store: NodeStore, plan: readonly RangeNodes[]): Promise<Uint8Array[]> {
  if (plan.length === 0) return [];
  const ids = planNodeIds(plan);
  const hashes = requireAll(ids, await store.getNodes(ids));
  const byKey = new Map<string, Uint8Array>();
  ids.forEach((id, i) => {
    byKey.set(`${id.level}/${id.index}`, hashes[i]!);
  });
  return plan.map((range) => foldRange(range.map((id) => byKey.get(`${id.level}/${id.index}`)!)));
}

/** MTH of a range from its complete subtrees (largest first): fold right to left. */
function foldRange(hashes: readonly Uint8Array[]): Uint8Array {
  let acc = hashes[hashes.length - 1]!;
  for (let i = hashes.length - 2; i >= 0; i--) acc = nodeHash(hashes[i]!, acc);
  return acc;
}

export class MerkleTree {
  readonly #store: NodeStore;
  #frontier: Frontier;
  #root: Uint8Array;

  private constructor(store: NodeStore, frontier: Frontier) {
    this.#store = store;
    this.#frontier = frontier;
    this.#root = frontierRoot(frontier);
  }

  /**
   * Opens the tree of `size` leaves held in `store` (size comes from the entry table, read in the
   * same snapshot). Reads popcount(size) ≤ 53 nodes in one call. Cheap enough that a multi-node
   * deployment can reopen inside each append transaction instead of trusting a cached frontier.
   */
  static async open(store: NodeStore, size: number): Promise<MerkleTree> {
    return new MerkleTree(store, await readFrontier(store, size));
  }

  get size(): number {
    return this.#frontier.size;
  }

  /** Current root, from memory. */
  get root(): Uint8Array {
    return this.#root;
  }

  /** Pure: the nodes and new head for appending these leaf hashes. Changes nothing. */
  prepareAppend(leafHashes: readonly Uint8Array[]): AppendPlan {
    return appendLeaves(this.#frontier, leafHashes);
  }

  /** Advances the tree once the plan's nodes are durable. */
  commit(plan: AppendPlan): void {
    if (plan.fromSize !== this.#frontier.size) {
      throw new RangeError(
        `stale append plan: computed for size ${plan.fromSize}, tree is at ${this.#frontier.size}`,
      );
    }
    this.#frontier = plan.frontier;
    this.#root = plan.root;
  }

  /** prepareAppend + putNodes + commit: for callers that keep nodes in their own store. */
  async appendBatch(leafHashes: readonly Uint8Array[]): Promise<AppendPlan> {
    const plan = this.prepareAppend(leafHashes);
    await this.#store.putNodes(plan.nodes);
    this.commit(plan);
    return plan;
  }

  #checkSize(size: number): void {
    assertSize('tree size', size);
    if (size > this.size) throw new RangeError(`tree size ${size} is beyond the log's size ${this.size}`);
  }

  /** MTH of the first `size` leaves: popcount(size) stored nodes. */
  async rootAt(size: number): Promise<Uint8Array> {
    this.#checkSize(size);
    if (size === this.size) return this.#root;
    if (size === 0) return EMPTY_ROOT;
    const [root] = await resolvePlan(this.#store, [rootNodes(size)]);
    return root!;
  }

  /** The stored leaf hash at `index`. */
  async leafHash(index: number): Promise<Uint8Array> {
    assertSize('leaf index', index);
    this.#checkSize(index + 1);
    const [h] = requireAll([{ level: 0, index }], await this.#store.getNodes([{ level: 0, index }]));
    return h!;
  }

  /** RFC 6962 audit path for leaf `index` in the tree of `size` leaves (default: current size). */
  async inclusionProof(index: number, size: number = this.size): Promise<Uint8Array[]> {
    this.#checkSize(size);
    return resolvePlan(this.#store, inclusionPlan(index, size));
  }

  /** RFC 6962 consistency proof from size1 to size2 (default: current size). */
  async consistencyProof(size1: number, size2: number = this.size): Promise<Uint8Array[]> {
    this.#checkSize(size2);
    return resolvePlan(this.#store, consistencyPlan(size1, size2));
  }
}
