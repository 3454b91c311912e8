/**
 * Whole-log verification over a real store (the `carewire audit verify --data` path and the
 * auditor API's "verify now"), or over a server's auditor API (`--server`): feeds the stored
 * entry bytes, stored checkpoints and stored tree nodes to `verifyLog`.
 *
 * The log keeps growing while it is read, so the verified size is fixed first: checkpoints are
 * read, then the size, so every checkpoint read is covered; entries and nodes past that size are
 * hidden from the verifier (otherwise a new leaf would look like a truncated tail).
 *
 * Default mode, not strict: tamper evidence comes from the leaf hashes over the exact stored
 * bytes, the seq scanned from them and every stored node, which strict mode does not strengthen;
 * strict also parses and re-validates each entry (a data-quality audit), about 2.5× slower.
 */
import type { AuditSql } from './audit-sql.ts';
import {
  type LogVerifyReport,
  type NodeId,
  type NodeStore,
  type TreeNode,
  verifyLog,
} from './merkle/index.ts';

export interface LogSource {
  /** Signed checkpoint notes, any order. */
  checkpoints(): Promise<string[]>;
  /** The number of leaves to verify: max of the entry table's and the tree's count. */
  size(): Promise<number>;
  entries(size: number): AsyncIterable<Uint8Array>;
  nodeStore(): NodeStore;
}

export interface VerifyStoreOptions {
  /** Trusted verifier keys (`name+id+key`). */
  keys: readonly string[];
  origin: string;
  /** A checkpoint note saved earlier, outside the server. */
  trusted?: string | undefined;
  strict?: boolean | undefined;
  maxProblems?: number | undefined;
}

/** Hides nodes covering leaves at or past `size`: those were appended after verification began. */
export class BoundedNodeStore implements NodeStore {
  readonly #inner: NodeStore;
  readonly #size: number;
  constructor(inner: NodeStore, size: number) {
    this.#inner = inner;
    this.#size = size;
  }
  async getNodes(ids: readonly NodeId[]): Promise<ReadonlyArray<Uint8Array | undefined>> {
    const inside = ids.map((id) => (id.index + 1) * 2 ** id.level <= this.#size);
    const asked = ids.filter((_, i) => inside[i]);
    const got = asked.length ? await this.#inner.getNodes(asked) : [];
    let j = 0;
    return inside.map((ok) => (ok ? got[j++] : undefined));
  }
  async putNodes(_nodes: readonly TreeNode[]): Promise<void> {
    throw new Error('verification never writes the tree');
  }
}

export async function verifySource(src: LogSource, opts: VerifyStoreOptions): Promise<LogVerifyReport> {
  const checkpoints = await src.checkpoints();
  const size = await src.size();
  return verifyLog({
    entries: src.entries(size),
    checkpoints,
    keys: opts.keys,
    origin: opts.origin,
    ...(opts.trusted !== undefined ? { trusted: opts.trusted } : {}),
    nodeStore: new BoundedNodeStore(src.nodeStore(), size),
    strict: opts.strict ?? false,
    maxProblems: opts.maxProblems ?? 100,
  });
}

/** The store as a log source. `yieldEvery` lets a live server answer requests while it runs. */
export function storeSource(s: AuditSql, opts: { yieldEvery?: number } = {}): LogSource {
  return {
    async checkpoints() {
      const out: string[] = [];
      let after = -1;
      for (;;) {
        const page = await s.checkpoints(after, 1000);
        for (const c of page) out.push(c.note);
        if (page.length < 1000) return out;
        after = page.at(-1)!.size;
      }
    },
    async size() {
      const [entries, leaves] = await Promise.all([s.entryCount(s.db), s.leafCount(s.db)]);
      return Math.max(entries, leaves);
    },
    async *entries(size) {
      let n = 0;
      const every = opts.yieldEvery ?? 0;
      for await (const e of s.entryBytes(0, size)) {
        yield e;
        if (every > 0 && ++n % every === 0) await new Promise((r) => setImmediate(r));
      }
    },
    nodeStore: () => s.nodeStore(),
  };
}
