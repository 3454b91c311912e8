/**
 * Where complete-subtree hashes live. The real implementation is one SQL table
 * `(level, index, hash)` with primary key (level, index), written in the same transaction as the
 * entries of a group-commit batch; this module defines the contract and an in-memory store.
 *
 * The interface is batch-shaped on purpose: a proof or root needs O(log n) nodes, and asking for
 * them in one `getNodes` call is one SQL round trip (`WHERE (level, idx) IN (…)`), not log n.
 */
import type { NodeId } from './tree-math.ts';

export interface TreeNode extends NodeId {
  readonly hash: Uint8Array;
}

export interface NodeStore {
  /**
   * The hashes of `ids`, in the same order, `undefined` where a node is not stored. Callers
   * must not mutate the returned arrays.
   */
  getNodes(ids: readonly NodeId[]): Promise<ReadonlyArray<Uint8Array | undefined>>;
  /**
   * Stores nodes. Nodes are immutable once written: writing the same (level, index) again with a
   * different hash is corruption and must fail (a SQL store gets this from its primary key).
   */
  putNodes(nodes: readonly TreeNode[]): Promise<void>;
}

/** Thrown when the store lacks a node the tree size says must exist, or holds a conflicting one. */
export class NodeStoreError extends Error {
  override readonly name = 'NodeStoreError';
}

/** In-memory store: one array per level, so lookups are two array indexings. For tests and benches. */
export class MemoryNodeStore implements NodeStore {
  readonly #levels: Uint8Array[][] = [];
  /** Number of node ids requested through getNodes since construction (or resetCounters). */
  reads = 0;
  /** Number of getNodes calls (round trips a SQL store would make). */
  readCalls = 0;
  /** Number of nodes written. */
  writes = 0;

  async getNodes(ids: readonly NodeId[]): Promise<ReadonlyArray<Uint8Array | undefined>> {
    this.reads += ids.length;
    this.readCalls++;
    return ids.map((id) => this.#levels[id.level]?.[id.index]);
  }

  async putNodes(nodes: readonly TreeNode[]): Promise<void> {
    for (const n of nodes) {
      let level = this.#levels[n.level];
      if (level === undefined) {
        level = [];
        this.#levels[n.level] = level;
      }
      const old = level[n.index];
      if (old !== undefined && Buffer.compare(old, n.hash) !== 0) {
        throw new NodeStoreError(`node (${n.level}, ${n.index}) already stored with a different hash`);
      }
      level[n.index] = n.hash;
    }
    this.writes += nodes.length;
  }

  /** Test hook: overwrite a node as an attacker with database access could. */
  tamper(id: NodeId, hash: Uint8Array): void {
    const level = this.#levels[id.level];
    if (level?.[id.index] === undefined)
      throw new NodeStoreError(`node (${id.level}, ${id.index}) is not stored`);
    level[id.index] = hash;
  }

  /** Number of stored nodes (all levels). */
  get size(): number {
    let n = 0;
    for (const level of this.#levels) if (level) n += level.length;
    return n;
  }

  resetCounters(): void {
    this.reads = 0;
    this.readCalls = 0;
    this.writes = 0;
  }
}
