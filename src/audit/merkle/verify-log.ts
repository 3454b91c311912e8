/**
 * The whole-log verifier behind `carewire audit verify`: recompute the tree from the stored
 * entries, check every stored checkpoint's signature and root, check the checkpoints agree with
 * each other, and — given a checkpoint an auditor saved earlier — prove the log only grew since.
 *
 * Pure: entries and checkpoints come in as (async) iterables, the answer is a report object.
 * Memory is O(log n) plus the problems found, so a million entries stream through.
 *
 * What each kind of evidence can show:
 *  - `seq` is hashed into every entry, so a deleted, duplicated or reordered entry shows up as a
 *    jump in seq at the exact position.
 *  - Given the NodeStore, every recomputed node is compared with the one stored at append time:
 *    an entry edited in place is named exactly (its leaf hash no longer matches).
 *  - A signed checkpoint commits to every entry before its size. When an attacker rewrote the
 *    stored nodes as well, the evidence is "some entry in [last good checkpoint, this one)", and
 *    the report says so rather than guessing an index.
 *  - A checkpoint saved outside the server is the only evidence that survives an attacker who
 *    also holds the signing key (it lives in the data folder): its root is compared with the
 *    recomputed tree, and a consistency proof to the current head is built and checked.
 */
import { type Checkpoint, CheckpointError, openCheckpoint, parseCheckpointText } from './checkpoint.ts';
import { type AuditEntry, decodeEntry, encodeEntry } from './entry.ts';
import { EMPTY_ROOT, hashesEqual, leafHash, nodeHash, toBase64 } from './hash.ts';
import type { NodeStore } from './node-store.ts';
import { NoteError, type NoteVerifier, parseVerifierKey } from './note.ts';
import { verifyConsistency } from './proof-verify.ts';
import { TreeBuilder } from './tree.ts';
import { consistencyPlan, planNodeIds } from './tree-math.ts';

/** An entry as stored: the object, or its canonical bytes (Uint8Array or UTF-8 string). */
export type StoredEntry = AuditEntry | Uint8Array | string | PrehashedEntry;

/**
 * An entry whose bytes were read, seq-scanned and leaf-hashed elsewhere (a reader thread, so the
 * verifier's work is split over two cores). The reader computes exactly what the byte path here
 * does: `seq` from scanSeq (undefined with `error` when it has none), `leafHash` = SHA-256(0x00 ‖ bytes).
 */
export interface PrehashedEntry {
  readonly prehashed: true;
  readonly seq: number | undefined;
  readonly leafHash: Uint8Array;
  readonly error?: string | undefined;
}

export interface VerifyLogOptions {
  /** Every stored entry, in log order. */
  entries: Iterable<StoredEntry> | AsyncIterable<StoredEntry>;
  /** Stored signed checkpoints (notes), any order. */
  checkpoints?: Iterable<string | Uint8Array> | AsyncIterable<string | Uint8Array>;
  /** Trusted log keys: verifier key strings (`name+id+key`) or parsed verifiers. */
  keys: readonly (string | NoteVerifier)[];
  /** The log's origin line; checkpoints for another log are refused. */
  origin: string;
  /** A checkpoint saved earlier, outside the server. */
  trusted?: string | Uint8Array;
  /** The stored tree, to name modified entries exactly and check the nodes proofs are served from. */
  nodeStore?: NodeStore;
  /** Seq of the first entry (default 0: seq equals the leaf index). */
  firstSeq?: number;
  /**
   * For byte entries: also parse and validate each one and require its exact canonical form
   * (default false). Tamper evidence never depends on this — it comes from the hashes and seq,
   * which are always checked — so the default reads only seq, about twice as fast (a million
   * entries within the 10 s budget); strict adds naming entries that are invalid or
   * non-canonical, e.g. for a data-quality audit.
   */
  strict?: boolean;
  /** Problems kept in the report (the count is always exact). Default 100. */
  maxProblems?: number;
}

export type VerifyProblemKind =
  /** Entry bytes differ from those hashed at append time (its stored leaf hash). */
  | 'entry-modified'
  /** A seq is skipped: the entry was deleted. */
  | 'entry-missing'
  /** An entry appears out of its place (moved, swapped or duplicated). */
  | 'entry-reordered'
  /** Stored bytes are not a valid canonical entry. */
  | 'entry-malformed'
  /** Fewer entries than a signed checkpoint (or the stored tree) says exist: the tail was deleted. */
  | 'log-truncated'
  /** The entries do not hash to a signed checkpoint's root. */
  | 'root-mismatch'
  /** Two signed checkpoints cannot both describe this log (a fork). */
  | 'inconsistent'
  /** A checkpoint's signature is forged, by an untrusted key, or missing. */
  | 'checkpoint-signature'
  /** A checkpoint note or body is malformed, or for another log. */
  | 'checkpoint-malformed'
  /** A stored interior tree node differs from the recomputed one (proofs would be wrong). */
  | 'tree-node-mismatch'
  /** The stored tree lacks a node the entries imply. */
  | 'tree-node-missing';

export interface VerifyProblem {
  readonly kind: VerifyProblemKind;
  /**
   * First entry index shown bad. With `exact` the entry at `index` is bad; otherwise some entry in
   * [index, rangeEnd) is, and the evidence cannot say which.
   */
  readonly index?: number;
  readonly exact: boolean;
  readonly rangeEnd?: number;
  /** Size of the checkpoint involved, if any. */
  readonly checkpointSize?: number;
  /** `stored` checkpoints come from the log; `trusted` is the one the auditor saved. */
  readonly checkpoint?: 'stored' | 'trusted';
  readonly message: string;
}

export type CheckpointState =
  | 'ok'
  | 'root-mismatch'
  | 'inconsistent'
  | 'beyond-log'
  | 'bad-signature'
  | 'malformed';

export interface CheckpointReport {
  readonly source: 'stored' | 'trusted';
  /** Position among the stored checkpoints as given. */
  readonly position: number;
  readonly size?: number;
  readonly rootBase64?: string;
  readonly state: CheckpointState;
}

export interface GrowthProof {
  /** Size of the trusted (saved) checkpoint. */
  readonly fromSize: number;
  /** Size of the head it was proven against: the latest good stored checkpoint, else the log. */
  readonly toSize: number;
  /** Whether the head is a signed checkpoint or only the recomputed (unsigned) tree. */
  readonly toSigned: boolean;
  readonly proof: readonly Uint8Array[];
  readonly ok: boolean;
  readonly message: string;
}

export interface LogVerifyReport {
  readonly ok: boolean;
  /** Entries read. */
  readonly size: number;
  /** Root recomputed from the entries. */
  readonly root: Uint8Array;
  /** Largest size covered by a checkpoint that verified and matched; entries past it are unsigned. */
  readonly signedSize: number;
  readonly checkpoints: readonly CheckpointReport[];
  /** The problem at the lowest entry index (exact findings first), or the first other problem. */
  readonly firstBad?: VerifyProblem;
  readonly problems: readonly VerifyProblem[];
  readonly problemCount: number;
  readonly growth?: GrowthProof;
}

interface GoodCheckpoint {
  readonly cp: Checkpoint;
  readonly report: { -readonly [K in keyof CheckpointReport]: CheckpointReport[K] };
}

const NODE_BATCH = 2048;

class Problems {
  readonly list: VerifyProblem[] = [];
  count = 0;
  readonly #max: number;
  constructor(max: number) {
    this.#max = max;
  }
  add(p: VerifyProblem): VerifyProblem {
    this.count++;
    if (this.list.length < this.#max) this.list.push(p);
    return p;
  }
  replace(old: VerifyProblem, p: VerifyProblem): void {
    const i = this.list.indexOf(old);
    if (i >= 0) this.list[i] = p;
  }
}

async function* iterate<T>(src: Iterable<T> | AsyncIterable<T>): AsyncGenerator<T> {
  yield* src;
}

const SEQ_KEY = Buffer.from('"seq":');

/**
 * Reads `seq` out of canonical entry bytes without parsing the JSON. In RFC 8785 order the only
 * top-level fields after "seq" are "source" and "type", both strings, and inside a JSON string a
 * quote is always escaped, so the last `"seq":` in the bytes is the top-level one. Bytes that are
 * not canonical may yield a wrong seq here, but then their leaf hash is wrong too.
 */
export function scanSeq(bytes: Uint8Array): number | undefined {
  const b = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const at = b.lastIndexOf(SEQ_KEY);
  if (at < 0) return undefined;
  const start = at + SEQ_KEY.length;
  let i = start;
  let n = 0;
  while (i < b.length && i - start < 16 && b[i]! >= 0x30 && b[i]! <= 0x39) n = n * 10 + (b[i++]! - 0x30);
  const next = b[i];
  if (i === start || (b[start] === 0x30 && i - start > 1) || (next !== 0x2c && next !== 0x7d))
    return undefined;
  return n;
}

function describeCheckpointFailure(note: string | Uint8Array): string {
  try {
    const text = typeof note === 'string' ? note : Buffer.from(note).toString('utf8');
    const cp = parseCheckpointText(text.slice(0, text.lastIndexOf('\n\n') + 1));
    return ` (claims size ${cp.size})`;
  } catch {
    return '';
  }
}

export async function verifyLog(opts: VerifyLogOptions): Promise<LogVerifyReport> {
  const problems = new Problems(opts.maxProblems ?? 100);
  const strict = opts.strict ?? false;
  const verifiers = opts.keys.map((k) => (typeof k === 'string' ? parseVerifierKey(k) : k));
  const reports: CheckpointReport[] = [];

  // 1. Signatures and bodies of every checkpoint, before reading any entry.
  const open = (
    note: string | Uint8Array,
    source: 'stored' | 'trusted',
    position: number,
  ): GoodCheckpoint | undefined => {
    try {
      const cp = openCheckpoint(note, verifiers, { origin: opts.origin });
      const report = {
        source,
        position,
        size: cp.size,
        rootBase64: toBase64(cp.root),
        state: 'ok' as CheckpointState,
      };
      reports.push(report);
      return { cp, report };
    } catch (err) {
      const bad = err instanceof NoteError && err.code !== 'malformed';
      if (!(err instanceof NoteError || err instanceof CheckpointError)) throw err;
      reports.push({ source, position, state: bad ? 'bad-signature' : 'malformed' });
      const which = source === 'trusted' ? 'saved checkpoint' : `stored checkpoint #${position}`;
      problems.add({
        kind: bad ? 'checkpoint-signature' : 'checkpoint-malformed',
        exact: false,
        checkpoint: source,
        message: `${which}${describeCheckpointFailure(note)}: ${err.message}`,
      });
      return undefined;
    }
  };
  const stored: GoodCheckpoint[] = [];
  let position = 0;
  for await (const note of iterate(opts.checkpoints ?? [])) {
    const good = open(note, 'stored', position++);
    if (good) stored.push(good);
  }
  stored.sort((a, b) => a.cp.size - b.cp.size);
  const trusted = opts.trusted === undefined ? undefined : open(opts.trusted, 'trusted', 0);

  // Roots wanted while streaming: at every checkpoint size, and at the trusted size.
  const rootsAt = new Map<number, Uint8Array | undefined>();
  for (const g of stored) rootsAt.set(g.cp.size, undefined);
  if (trusted) rootsAt.set(trusted.cp.size, undefined);
  if (rootsAt.has(0)) rootsAt.set(0, EMPTY_ROOT);

  // The growth proof's nodes are complete subtrees, captured as the builder completes them.
  const latestStored = stored.at(-1);
  let growthTarget: number | undefined;
  const wanted = new Map<string, Uint8Array | undefined>();
  if (trusted) {
    growthTarget = latestStored && latestStored.cp.size >= trusted.cp.size ? latestStored.cp.size : undefined;
  }

  // 2. Stream the entries.
  const builder = new TreeBuilder();
  const firstSeq = opts.firstSeq ?? 0;
  let lastSeq = firstSeq - 1;
  const gaps: Array<{ problem: VerifyProblem; from: number; to: number }> = [];
  let lastBadLeaf = -1;
  const pendingNodes: Array<{ level: number; index: number; hash: Uint8Array }> = [];
  const nodeStore = opts.nodeStore;

  const flushNodes = async (): Promise<void> => {
    if (!nodeStore || pendingNodes.length === 0) return;
    const batch = pendingNodes.splice(0);
    const got = await nodeStore.getNodes(batch);
    batch.forEach((n, i) => {
      const have = got[i];
      const start = n.index * 2 ** n.level;
      if (have === undefined) {
        if (n.level === 0 || lastBadLeaf < start) {
          problems.add({
            kind: 'tree-node-missing',
            index: start,
            exact: n.level === 0,
            message: `stored tree has no node (${n.level}, ${n.index}) though the entries imply it`,
          });
        }
        if (n.level === 0) lastBadLeaf = n.index;
        return;
      }
      if (hashesEqual(have, n.hash)) return;
      if (n.level === 0) {
        lastBadLeaf = n.index;
        problems.add({
          kind: 'entry-modified',
          index: n.index,
          exact: true,
          message: `entry ${n.index} no longer hashes to the leaf hash recorded when it was appended`,
        });
      } else if (lastBadLeaf < start) {
        // Only when none of its leaves is already reported: a bad leaf makes every ancestor differ.
        problems.add({
          kind: 'tree-node-mismatch',
          index: start,
          exact: false,
          rangeEnd: start + 2 ** n.level,
          message: `stored tree node (${n.level}, ${n.index}) differs from the one the entries give`,
        });
      }
    });
  };

  // Called for every node of the recomputed tree (2 per entry), so it does nothing it needn't.
  const sink = (level: number, index: number, hash: Uint8Array): void => {
    if (nodeStore) pendingNodes.push({ level, index, hash });
    if (wanted.size > 0) {
      const key = `${level}/${index}`;
      if (wanted.has(key)) wanted.set(key, hash);
    }
  };
  if (growthTarget !== undefined && trusted) {
    for (const id of planNodeIds(consistencyPlan(trusted.cp.size, growthTarget)))
      wanted.set(`${id.level}/${id.index}`, undefined);
  }

  let index = 0;
  for await (const item of iterate(opts.entries)) {
    let bytes: Uint8Array | undefined;
    let leaf: Uint8Array | undefined;
    let seq: number | undefined;
    if (typeof item === 'object' && 'prehashed' in item) {
      seq = item.seq;
      leaf = item.leafHash;
      if (item.error !== undefined)
        problems.add({
          kind: 'entry-malformed',
          index,
          exact: true,
          message: `entry ${index}: ${item.error}`,
        });
    } else if (typeof item === 'string' || item instanceof Uint8Array) {
      bytes = typeof item === 'string' ? Buffer.from(item, 'utf8') : item;
      try {
        if (strict) seq = decodeEntry(bytes).seq;
        else {
          seq = scanSeq(bytes);
          if (seq === undefined) throw new Error('no top-level seq in the entry bytes');
        }
      } catch (err) {
        problems.add({
          kind: 'entry-malformed',
          index,
          exact: true,
          message: `entry ${index}: ${(err as Error).message}`,
        });
      }
    } else {
      try {
        bytes = encodeEntry(item);
      } catch (err) {
        problems.add({
          kind: 'entry-malformed',
          index,
          exact: true,
          message: `entry ${index}: ${(err as Error).message}`,
        });
        bytes = Buffer.from(JSON.stringify(item) ?? '', 'utf8');
      }
      seq = item.seq;
    }

    if (seq !== undefined && seq !== lastSeq + 1) {
      const expected = lastSeq + 1;
      const reclaimed = seq < expected ? gaps.find((g) => seq >= g.from && seq < g.to) : undefined;
      if (reclaimed) {
        // The "missing" entry turned up later: it was moved, not deleted.
        const p: VerifyProblem = {
          ...reclaimed.problem,
          kind: 'entry-reordered',
          message: `entries are out of order from position ${reclaimed.problem.index}: seq ${seq} was not there but turns up later, at position ${index}`,
        };
        problems.replace(reclaimed.problem, p);
        gaps.splice(gaps.indexOf(reclaimed), 1);
      } else if (seq > expected) {
        const problem = problems.add({
          kind: 'entry-missing',
          index,
          exact: true,
          message:
            seq - expected === 1
              ? `entry with seq ${expected} is missing (position ${index} holds seq ${seq})`
              : `entries with seq ${expected}…${seq - 1} are missing (position ${index} holds seq ${seq})`,
        });
        if (gaps.length < 1000) gaps.push({ problem, from: expected, to: seq });
      } else {
        problems.add({
          kind: 'entry-reordered',
          index,
          exact: true,
          message: `position ${index} holds seq ${seq}, expected ${expected} (duplicated or moved entry)`,
        });
      }
    }
    if (seq !== undefined) lastSeq = seq;

    builder.push(leaf ?? leafHash(bytes!), sink);
    index++;
    if (rootsAt.has(index)) rootsAt.set(index, builder.root());
    if (pendingNodes.length >= NODE_BATCH) await flushNodes();
  }
  await flushNodes();
  const size = builder.size;
  const root = builder.root();

  // A tree that holds a leaf past the last entry means entries were cut off the end.
  if (nodeStore) {
    const [extra] = await nodeStore.getNodes([{ level: 0, index: size }]);
    if (extra !== undefined) {
      problems.add({
        kind: 'log-truncated',
        index: size,
        exact: true,
        message: `the stored tree has a leaf at index ${size} but the entries end there: entries were deleted from the end`,
      });
    }
  }

  // 3. Each stored checkpoint against the recomputed tree, in size order.
  let lastGood = 0;
  let signedSize = 0;
  let reportedMismatch = false;
  for (let i = 0; i < stored.length; i++) {
    const { cp, report } = stored[i]!;
    if (cp.size > size) {
      report.state = 'beyond-log';
      // Entry `size` is certainly gone; the stored ones past the last matching checkpoint are
      // merely unproven, which the message says without claiming an index.
      const unproven = lastGood < size ? ` (entries ${lastGood}…${size - 1} match no signed checkpoint)` : '';
      problems.add({
        kind: 'log-truncated',
        index: size,
        exact: true,
        rangeEnd: cp.size,
        checkpoint: 'stored',
        checkpointSize: cp.size,
        message: `a signed checkpoint covers ${cp.size} entries but only ${size} are stored: entries ${size}…${cp.size - 1} were deleted${unproven}`,
      });
      continue;
    }
    const got = rootsAt.get(cp.size)!;
    if (hashesEqual(got, cp.root)) {
      lastGood = cp.size;
      signedSize = Math.max(signedSize, cp.size);
      continue;
    }
    // The entries are right for a later checkpoint but not this one: this one is from another history.
    const later = stored
      .slice(i + 1)
      .find((g) => g.cp.size <= size && hashesEqual(rootsAt.get(g.cp.size)!, g.cp.root));
    if (later) {
      report.state = 'inconsistent';
      problems.add({
        kind: 'inconsistent',
        exact: false,
        checkpoint: 'stored',
        checkpointSize: cp.size,
        message: `the signed checkpoint of size ${cp.size} is inconsistent with the later one of size ${later.cp.size}: the log signed two histories`,
      });
      continue;
    }
    report.state = 'root-mismatch';
    // Every later checkpoint fails for the same cause; name the interval once.
    if (!reportedMismatch) {
      reportedMismatch = true;
      problems.add({
        kind: 'root-mismatch',
        index: lastGood,
        exact: false,
        rangeEnd: cp.size,
        checkpoint: 'stored',
        checkpointSize: cp.size,
        message: `entries ${lastGood}…${cp.size - 1} do not hash to the signed checkpoint of size ${cp.size}: an entry in that range was changed`,
      });
    }
  }

  // 4. The auditor's saved checkpoint: the log must contain it and have only grown since.
  let growth: GrowthProof | undefined;
  if (trusted) {
    const t = trusted.cp;
    if (t.size > size) {
      trusted.report.state = 'beyond-log';
      problems.add({
        kind: 'log-truncated',
        index: size,
        exact: true,
        rangeEnd: t.size,
        checkpoint: 'trusted',
        checkpointSize: t.size,
        message: `the saved checkpoint covers ${t.size} entries but only ${size} are stored: the log shrank`,
      });
    } else if (!hashesEqual(rootsAt.get(t.size)!, t.root)) {
      trusted.report.state = 'root-mismatch';
      // Stored checkpoints could have been re-signed with the stolen key, so only index 0 is safe.
      problems.add({
        kind: 'root-mismatch',
        index: 0,
        exact: false,
        rangeEnd: t.size,
        checkpoint: 'trusted',
        checkpointSize: t.size,
        message: `the log's first ${t.size} entries no longer hash to the saved checkpoint: history before ${t.size} was rewritten`,
      });
    }
    if (t.size <= size)
      growth = buildGrowth(t, rootsAt.get(t.size)!, growthTarget, latestStored?.cp, wanted, size);
  }

  const sorted = sortProblems(problems.list);
  return {
    ok: problems.count === 0,
    size,
    root,
    signedSize,
    checkpoints: reports,
    ...(sorted.length > 0 ? { firstBad: sorted[0] } : {}),
    problems: sorted,
    problemCount: problems.count,
    ...(growth ? { growth } : {}),
  };
}

function buildGrowth(
  t: Checkpoint,
  recomputedAtT: Uint8Array,
  signedTarget: number | undefined,
  latest: Checkpoint | undefined,
  wanted: Map<string, Uint8Array | undefined>,
  size: number,
): GrowthProof {
  const prefixOk = hashesEqual(recomputedAtT, t.root);
  if (signedTarget === undefined || latest === undefined) {
    // No signed head at or past the saved one: the recomputation itself is the proof that the
    // current entries extend the saved tree, but nothing newer is signed.
    return {
      fromSize: t.size,
      toSize: size,
      toSigned: false,
      proof: [],
      ok: prefixOk,
      message: prefixOk
        ? `the first ${t.size} entries still hash to the saved checkpoint; the log grew to ${size} (no newer signed checkpoint)`
        : `the first ${t.size} entries no longer hash to the saved checkpoint`,
    };
  }
  const proof: Uint8Array[] = [];
  for (const range of consistencyPlan(t.size, signedTarget)) {
    const hashes = range.map((id) => wanted.get(`${id.level}/${id.index}`));
    if (hashes.some((h) => h === undefined)) {
      return {
        fromSize: t.size,
        toSize: signedTarget,
        toSigned: true,
        proof: [],
        ok: false,
        message: 'the log is shorter than its checkpoints',
      };
    }
    let acc = hashes[hashes.length - 1]!;
    for (let i = hashes.length - 2; i >= 0; i--) acc = nodeHash(hashes[i]!, acc);
    proof.push(acc);
  }
  try {
    verifyConsistency(t.size, signedTarget, t.root, latest.root, proof);
    return {
      fromSize: t.size,
      toSize: signedTarget,
      toSigned: true,
      proof,
      ok: prefixOk,
      message: `the log only grew from ${t.size} to ${signedTarget} entries (consistency proof of ${proof.length} hashes verified)`,
    };
  } catch (err) {
    return {
      fromSize: t.size,
      toSize: signedTarget,
      toSigned: true,
      proof,
      ok: false,
      message: (err as Error).message,
    };
  }
}

const spanEnd = (p: VerifyProblem): number => (p.exact ? p.index! + 1 : (p.rangeEnd ?? p.index! + 1));
const within = (e: VerifyProblem, p: VerifyProblem): boolean =>
  e.index! >= p.index! && spanEnd(e) <= spanEnd(p);

/**
 * A range finding is explained by the most precise findings inside it — exact ones, or ranges with
 * nothing narrower inside (a stored tree node over two leaves inside a checkpoint's interval) —
 * so it sorts at the lowest of those. The answer's first bad index is then the most precise one.
 */
function effectiveIndex(p: VerifyProblem, minimal: readonly VerifyProblem[]): number {
  if (p.index === undefined) return Number.POSITIVE_INFINITY;
  if (p.exact) return p.index;
  let best = Number.POSITIVE_INFINITY;
  for (const m of minimal) if (within(m, p) && m.index! < best) best = m.index!;
  return Number.isFinite(best) ? best : p.index;
}

function sortProblems(list: readonly VerifyProblem[]): VerifyProblem[] {
  const located = list.filter((p) => p.index !== undefined);
  const minimal = located.filter(
    (p) => p.exact || !located.some((e) => e !== p && within(e, p) && width(e) < width(p)),
  );
  return list
    .map((p, i) => ({ p, i, k: effectiveIndex(p, minimal) }))
    .sort(
      (a, b) => a.k - b.k || Number(b.p.exact) - Number(a.p.exact) || width(a.p) - width(b.p) || a.i - b.i,
    )
    .map((x) => x.p);
}

/** How many entries a finding points at: the narrowest explains the others best. */
function width(p: VerifyProblem): number {
  if (p.exact || p.index === undefined) return 1;
  return (p.rangeEnd ?? p.index + 1) - p.index;
}
