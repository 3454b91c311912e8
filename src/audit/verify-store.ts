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
import { Worker } from 'node:worker_threads';
import type { AuditSql } from './audit-sql.ts';
import {
  type LogVerifyReport,
  type NodeId,
  type NodeStore,
  type PrehashedEntry,
  type TreeNode,
  type VerifyProblem,
  verifyLog,
} from './merkle/index.ts';
import type { ReaderChunk, ReaderData } from './verify-reader.ts';

export interface LogSource {
  /** Signed checkpoint notes, any order. */
  checkpoints(): Promise<string[]>;
  /** The number of leaves to verify: the entry table's count, or more if the tree implies more. */
  size(): Promise<number>;
  entries(size: number): AsyncIterable<Uint8Array | PrehashedEntry>;
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
  const report = await verifyLog({
    entries: src.entries(size),
    checkpoints,
    keys: opts.keys,
    origin: opts.origin,
    ...(opts.trusted !== undefined ? { trusted: opts.trusted } : {}),
    nodeStore: new BoundedNodeStore(src.nodeStore(), size),
    strict: opts.strict ?? false,
    maxProblems: opts.maxProblems ?? 100,
  });
  if (report.size >= size || report.problems.some((p) => p.kind === 'log-truncated')) return report;
  // The tree holds nodes over leaves the entry table no longer has: the tail was cut off.
  const cut: VerifyProblem = {
    kind: 'log-truncated',
    index: report.size,
    exact: true,
    rangeEnd: size,
    message: `the stored tree covers ${size} entries but only ${report.size} are stored: entries ${report.size}…${size - 1} were deleted`,
  };
  const problems = [...report.problems, cut].sort(
    (a, b) =>
      (a.index ?? Number.POSITIVE_INFINITY) - (b.index ?? Number.POSITIVE_INFINITY) ||
      Number(b.exact) - Number(a.exact),
  );
  return { ...report, ok: false, problems, firstBad: problems[0]!, problemCount: report.problemCount + 1 };
}

/**
 * Leaf hashes seen with the entries (the last two chunks), answered without a second read: the
 * verifier asks for every stored leaf, and reading each twice was a fifth of its time.
 */
class LeafWindow implements NodeStore {
  readonly #inner: NodeStore;
  #prev = new Map<number, Uint8Array>();
  #cur = new Map<number, Uint8Array>();
  constructor(inner: NodeStore) {
    this.#inner = inner;
  }
  add(seqs: ArrayLike<number>, leaves: readonly Uint8Array[]): void {
    this.#prev = this.#cur;
    this.#cur = new Map();
    for (let i = 0; i < seqs.length; i++) this.#cur.set(seqs[i]!, leaves[i]!);
  }
  /** A reader-thread chunk: 32-byte stored leaves packed in order, `has` marking present ones. */
  addPacked(seqs: Float64Array, packed: Uint8Array, has: Uint8Array): void {
    this.#prev = this.#cur;
    this.#cur = new Map();
    for (let i = 0; i < seqs.length; i++)
      if (has[i]) this.#cur.set(seqs[i]!, packed.subarray(32 * i, 32 * i + 32));
  }
  async getNodes(ids: readonly NodeId[]): Promise<ReadonlyArray<Uint8Array | undefined>> {
    const out = new Array<Uint8Array | undefined>(ids.length);
    const rest: number[] = [];
    for (let i = 0; i < ids.length; i++) {
      const id = ids[i]!;
      const h = id.level === 0 ? (this.#cur.get(id.index) ?? this.#prev.get(id.index)) : undefined;
      if (h) out[i] = h;
      else rest.push(i);
    }
    if (rest.length > 0) {
      const got = await this.#inner.getNodes(rest.map((i) => ids[i]!));
      rest.forEach((i, k) => {
        out[i] = got[k];
      });
    }
    return out;
  }
  async putNodes(_nodes: readonly TreeNode[]): Promise<void> {
    throw new Error('verification never writes the tree');
  }
}

/**
 * Entries from an SQLite file through the reader thread (verify-reader.ts): it reads, scans and
 * leaf-hashes while this thread builds the tree and compares nodes.
 */
async function* readerEntries(
  file: string,
  size: number,
  leaves: LeafWindow,
): AsyncGenerator<PrehashedEntry> {
  const worker = new Worker(new URL('./verify-reader.ts', import.meta.url), {
    workerData: { file, from: 0, to: size, chunk: 8192, credit: 3 } satisfies ReaderData,
  });
  const queue: Array<ReaderChunk | { done: true } | { error: string }> = [];
  let wake: (() => void) | undefined;
  const push = (m: ReaderChunk | { done: true } | { error: string }) => {
    queue.push(m);
    wake?.();
  };
  worker.on('message', push);
  worker.on('error', (err) => push({ error: err.message }));
  try {
    for (;;) {
      if (queue.length === 0)
        await new Promise<void>((r) => {
          wake = r;
        });
      wake = undefined;
      const m = queue.shift()!;
      if ('done' in m) return;
      if ('error' in m) throw new Error(`reading the audit log failed: ${m.error}`);
      worker.postMessage('more');
      leaves.addPacked(m.rowSeq, m.stored, m.hasStored);
      for (let i = 0; i < m.rows; i++) {
        const seq = m.seq[i]!;
        yield Number.isNaN(seq)
          ? {
              prehashed: true,
              seq: undefined,
              leafHash: m.leaf.subarray(32 * i, 32 * i + 32),
              error: 'no top-level seq in the entry bytes',
            }
          : { prehashed: true, seq, leafHash: m.leaf.subarray(32 * i, 32 * i + 32) };
      }
    }
  } finally {
    await worker.terminate();
  }
}

/**
 * The store as a log source. `yieldEvery` lets a live server answer requests while it runs;
 * `sqliteFile` (strict mode off) reads and hashes entries on a second thread.
 */
export function storeSource(
  s: AuditSql,
  opts: { yieldEvery?: number; sqliteFile?: string | undefined } = {},
): LogSource {
  const leaves = new LeafWindow(s.nodeStore());
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
      const [entries, tree] = await Promise.all([s.entryCount(s.db), s.treeSize(s.db)]);
      return Math.max(entries, tree);
    },
    async *entries(size) {
      if (opts.sqliteFile) {
        yield* readerEntries(opts.sqliteFile, size, leaves);
        return;
      }
      let n = 0;
      const every = opts.yieldEvery ?? 0;
      for await (const e of s.entryBytes(0, size, (seqs, l) => leaves.add(seqs, l))) {
        yield e;
        if (every > 0 && ++n % every === 0) await new Promise((r) => setImmediate(r));
      }
    },
    nodeStore: () => leaves,
  };
}
