/**
 * A server's auditor API (/api/audit) as a log source, for `carewire audit verify --server`.
 * The verifier recomputes everything itself from the entry bytes; the server is trusted for
 * nothing but delivering them (a server that lies is caught like a tampered store).
 */

import type { NodeId, NodeStore, TreeNode } from './merkle/index.ts';
import { hashFromBase64 } from './proof-json.ts';
import type { LogSource } from './verify-store.ts';

/** GETs a path under the server (with query) and returns the parsed JSON; throws on HTTP errors. */
export type GetJson = (pathAndQuery: string) => Promise<unknown>;

const PAGE = 10_000;

export function remoteSource(get: GetJson): LogSource {
  return {
    async checkpoints() {
      const out: string[] = [];
      let after = -1;
      for (;;) {
        const r = (await get(`/api/audit/checkpoints?after=${after}&limit=1000`)) as {
          checkpoints: Array<{ size: number; note: string }>;
        };
        for (const c of r.checkpoints) out.push(c.note);
        if (r.checkpoints.length < 1000) return out;
        after = r.checkpoints.at(-1)!.size;
      }
    },
    async size() {
      const r = (await get('/api/audit/head')) as { size: number; leaves: number };
      return Math.max(r.size, r.leaves);
    },
    async *entries(size) {
      for (let from = 0; from < size; from += PAGE) {
        const r = (await get(`/api/audit/raw?from=${from}&to=${Math.min(size, from + PAGE)}`)) as {
          entries: string[];
        };
        for (const e of r.entries) yield Buffer.from(e, 'utf8');
        // A page shorter than asked means entries are missing from the store: the next page
        // starts where this one was meant to end, so the gap is seen as such.
      }
    },
    nodeStore: () => new RemoteNodeStore(get),
  };
}

class RemoteNodeStore implements NodeStore {
  readonly #get: GetJson;
  constructor(get: GetJson) {
    this.#get = get;
  }

  async getNodes(ids: readonly NodeId[]): Promise<ReadonlyArray<Uint8Array | undefined>> {
    const found = new Map<string, Uint8Array | undefined>();
    const levels = new Map<number, number[]>();
    for (const id of ids) {
      let l = levels.get(id.level);
      if (!l) {
        l = [];
        levels.set(id.level, l);
      }
      l.push(id.index);
    }
    for (const [level, idxs] of levels) {
      idxs.sort((a, b) => a - b);
      // Contiguous runs, one request per run (at most PAGE nodes each).
      let start = 0;
      for (let i = 1; i <= idxs.length; i++) {
        if (i < idxs.length && idxs[i]! - idxs[start]! < PAGE && idxs[i]! - idxs[i - 1]! <= 64) continue;
        const from = idxs[start]!;
        const to = idxs[i - 1]! + 1;
        const r = (await this.#get(`/api/audit/tree?level=${level}&from=${from}&to=${to}`)) as {
          hashes: Array<string | null>;
        };
        r.hashes.forEach((h, k) => {
          found.set(`${level}/${from + k}`, h === null ? undefined : hashFromBase64(h));
        });
        start = i;
      }
    }
    return ids.map((id) => found.get(`${id.level}/${id.index}`));
  }

  async putNodes(_nodes: readonly TreeNode[]): Promise<void> {
    throw new Error('a remote log is read-only');
  }
}
