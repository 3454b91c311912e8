import { describe, expect, it } from 'vitest';
import {
  encodeEntry,
  generateLogKey,
  type LogVerifyReport,
  leafHash,
  MemoryNodeStore,
  MerkleTree,
  nodeHash,
  parseSignerKey,
  signCheckpoint,
  type VerifyLogOptions,
  verifyLog,
} from '../../src/audit/merkle/index.ts';
import { buildLog, edit, ORIGIN, sampleEntry } from './fixtures.ts';
import { refVerifyConsistency } from './reference.ts';

// 50 entries, checkpoints signed after the group-commit batches ending at 10, 20, 35 and 50.
const CPS = [10, 20, 35, 50];

async function run(
  opts: Partial<VerifyLogOptions> & Pick<VerifyLogOptions, 'entries'>,
  vkey: string,
): Promise<LogVerifyReport> {
  return verifyLog({ keys: [vkey], origin: ORIGIN, ...opts });
}

describe('verifyLog on an intact log', () => {
  it('reports ok, every checkpoint ok, and proves growth from a saved checkpoint', async () => {
    const log = await buildLog(50, CPS);
    const trusted = log.checkpoints[1]!; // saved by an auditor at size 20
    const r = await run(
      { entries: log.entries, checkpoints: log.checkpoints, nodeStore: log.store, trusted },
      log.vkey,
    );
    expect(r.problems).toEqual([]);
    expect(r.ok).toBe(true);
    expect(r.firstBad).toBeUndefined();
    expect(r.size).toBe(50);
    expect(r.signedSize).toBe(50);
    expect(Buffer.compare(r.root, log.tree.root)).toBe(0);
    expect(r.checkpoints.map((c) => c.state)).toEqual(['ok', 'ok', 'ok', 'ok', 'ok']);
    expect(r.growth).toMatchObject({ fromSize: 20, toSize: 50, toSigned: true, ok: true });
    // The growth proof stands on its own: the independent RFC verifier accepts it.
    expect(refVerifyConsistency(20, 50, await log.tree.rootAt(20), log.tree.root, r.growth!.proof)).toBe(
      true,
    );
  });

  it('accepts async iterables, text rows and entry objects alike', async () => {
    const log = await buildLog(12, [5, 12]);
    async function* rows() {
      for (const e of log.entries) yield Buffer.from(e).toString('utf8');
    }
    async function* notes() {
      yield* log.checkpoints;
    }
    const r1 = await run({ entries: rows(), checkpoints: notes() }, log.vkey);
    const r2 = await run(
      { entries: log.entries.map((_, i) => sampleEntry(i)), checkpoints: log.checkpoints },
      log.vkey,
    );
    expect([r1.ok, r2.ok]).toEqual([true, true]);
    expect(Buffer.compare(r1.root, r2.root)).toBe(0);
  });

  it('the default (non-strict) mode reads seq right even when detail holds look-alike "seq" keys', async () => {
    const make = (seq: number) => sampleEntry(seq, { detail: { seq: 999, note: '"seq":5,', z: { seq: 1 } } });
    const log = await buildLog(30, [10, 30], { make });
    const ok = await run({ entries: log.entries, checkpoints: log.checkpoints, strict: false }, log.vkey);
    expect(ok.problems).toEqual([]);
    const gap = await run(
      { entries: log.entries.filter((_, i) => i !== 12), checkpoints: log.checkpoints, strict: false },
      log.vkey,
    );
    expect(gap.firstBad).toMatchObject({ kind: 'entry-missing', index: 12 });
  });

  it('says how much of the log no checkpoint covers yet', async () => {
    const log = await buildLog(30, [10, 20]);
    const r = await run({ entries: log.entries, checkpoints: log.checkpoints }, log.vkey);
    expect(r.ok).toBe(true);
    expect(r.signedSize).toBe(20);
    expect(r.size).toBe(30);
  });
});

describe('verifyLog finds the first tampered entry', () => {
  it('an entry edited in place: exact index from the stored leaf hashes', async () => {
    const log = await buildLog(50, CPS);
    const entries = edit(log.entries, 17, { outcome: 4 });
    const r = await run({ entries, checkpoints: log.checkpoints, nodeStore: log.store }, log.vkey);
    expect(r.ok).toBe(false);
    expect(r.firstBad).toMatchObject({ kind: 'entry-modified', index: 17, exact: true });
    // The signed checkpoints agree: something in [10, 20) changed, and every later one fails too.
    expect(r.problems).toContainEqual(
      expect.objectContaining({ kind: 'root-mismatch', index: 10, rangeEnd: 20 }),
    );
    expect(r.checkpoints.map((c) => c.state)).toEqual([
      'ok',
      'root-mismatch',
      'root-mismatch',
      'root-mismatch',
    ]);
    expect(r.signedSize).toBe(10);
  });

  it('an entry edited in place, tree rewritten too: the interval between checkpoints', async () => {
    const log = await buildLog(50, CPS);
    const entries = edit(log.entries, 17, { agent: { userId: 'someone-else' } });
    const r = await run({ entries, checkpoints: log.checkpoints }, log.vkey);
    expect(r.firstBad).toMatchObject({
      kind: 'root-mismatch',
      index: 10,
      rangeEnd: 20,
      exact: false,
      checkpointSize: 20,
    });
    expect(r.firstBad!.message).toMatch(/entries 10…19 do not hash to the signed checkpoint of size 20/);
  });

  it('an entry deleted: entry-missing at its position', async () => {
    const log = await buildLog(50, CPS);
    const entries = log.entries.filter((_, i) => i !== 23);
    const r = await run({ entries, checkpoints: log.checkpoints, nodeStore: log.store }, log.vkey);
    expect(r.firstBad).toMatchObject({ kind: 'entry-missing', index: 23, exact: true });
    expect(r.firstBad!.message).toMatch(/seq 23 is missing/);
    // Without the stored tree the seq jump still names it.
    const r2 = await run({ entries, checkpoints: log.checkpoints }, log.vkey);
    expect(r2.firstBad).toMatchObject({ kind: 'entry-missing', index: 23 });
    expect(r2.problems).toContainEqual(
      expect.objectContaining({ kind: 'log-truncated', index: 49, rangeEnd: 50 }),
    );
  });

  it('two entries swapped: entry-reordered at the first of them', async () => {
    const log = await buildLog(50, CPS);
    const entries = [...log.entries];
    [entries[30], entries[33]] = [entries[33]!, entries[30]!];
    for (const nodeStore of [log.store, undefined]) {
      const r = await run(
        { entries, checkpoints: log.checkpoints, ...(nodeStore ? { nodeStore } : {}) },
        log.vkey,
      );
      expect(r.firstBad).toMatchObject({ kind: 'entry-reordered', index: 30, exact: true });
    }
  });

  it('an entry moved later is reordered, not missing', async () => {
    const log = await buildLog(20, [20]);
    const entries = [...log.entries];
    const [moved] = entries.splice(4, 1);
    entries.splice(12, 0, moved!);
    const r = await run({ entries, checkpoints: log.checkpoints }, log.vkey);
    expect(r.firstBad).toMatchObject({ kind: 'entry-reordered', index: 4 });
    expect(r.firstBad!.message).toMatch(/seq 4 .* turns up later, at position 12/);
  });

  it('an entry duplicated: reordered at the copy', async () => {
    const log = await buildLog(20, [20]);
    const entries = [...log.entries.slice(0, 9), log.entries[7]!, ...log.entries.slice(9)];
    const r = await run({ entries, checkpoints: log.checkpoints }, log.vkey);
    expect(r.firstBad).toMatchObject({ kind: 'entry-reordered', index: 9 });
  });

  it('truncated and new entries appended: first index of the rewrite', async () => {
    const log = await buildLog(50, CPS);
    const fresh = Array.from({ length: 8 }, (_, j) =>
      encodeEntry(sampleEntry(40 + j, { type: 'auth.login' })),
    );
    const entries = [...log.entries.slice(0, 40), ...fresh];
    const r = await run({ entries, checkpoints: log.checkpoints, nodeStore: log.store }, log.vkey);
    expect(r.firstBad).toMatchObject({ kind: 'entry-modified', index: 40, exact: true });
    expect(r.problems).toContainEqual(
      expect.objectContaining({ kind: 'log-truncated', index: 48, rangeEnd: 50 }),
    );
    // Without the stored tree: entries 48 and 49 are certainly gone, and 35… is unproven.
    const r2 = await run({ entries, checkpoints: log.checkpoints }, log.vkey);
    expect(r2.firstBad).toMatchObject({ kind: 'log-truncated', index: 48, rangeEnd: 50 });
    expect(r2.firstBad!.message).toMatch(/entries 35…47 match no signed checkpoint/);
    expect(r2.signedSize).toBe(35);
  });

  it('a tail deleted past the last checkpoint: caught by the stored tree', async () => {
    const log = await buildLog(50, [10, 20, 35]);
    const r = await run(
      { entries: log.entries.slice(0, 47), checkpoints: log.checkpoints, nodeStore: log.store },
      log.vkey,
    );
    expect(r.firstBad).toMatchObject({ kind: 'log-truncated', index: 47, exact: true });
  });

  it('a stored interior node altered: named as a tree problem, entries fine', async () => {
    const log = await buildLog(16, [16]);
    log.store.tamper({ level: 2, index: 1 }, leafHash(Buffer.from('x')));
    const r = await run(
      { entries: log.entries, checkpoints: log.checkpoints, nodeStore: log.store },
      log.vkey,
    );
    expect(r.problems).toEqual([
      expect.objectContaining({ kind: 'tree-node-mismatch', index: 4, rangeEnd: 8 }),
    ]);
  });

  it('malformed stored bytes are named, and still hashed as stored', async () => {
    const log = await buildLog(10, [10]);
    const entries = [...log.entries];
    entries[6] = Buffer.from(Buffer.from(entries[6]!).toString().replace('{', '{ '));
    const strict = await run({ entries, checkpoints: log.checkpoints, strict: true }, log.vkey);
    expect(strict.firstBad).toMatchObject({ kind: 'entry-malformed', index: 6 });
    expect(strict.firstBad!.message).toMatch(/canonical form/);
    // The default mode reads only seq; the checkpoint still catches the changed bytes.
    const lenient = await run({ entries, checkpoints: log.checkpoints, strict: false }, log.vkey);
    expect(lenient.firstBad).toMatchObject({ kind: 'root-mismatch', index: 0, rangeEnd: 10 });
    entries[6] = Buffer.from('not json');
    const garbage = await run({ entries, checkpoints: log.checkpoints, strict: false }, log.vkey);
    expect(garbage.firstBad).toMatchObject({ kind: 'entry-malformed', index: 6 });
  });
});

describe('verifyLog checks the checkpoints themselves', () => {
  it('a checkpoint signed by another key, or with a forged signature', async () => {
    const log = await buildLog(50, CPS);
    const mallory = parseSignerKey(generateLogKey(ORIGIN).skey);
    const forged = signCheckpoint({ origin: ORIGIN, size: 50, root: log.tree.root }, mallory);
    const flipped = log.checkpoints[2]!.replace(
      / (.)([A-Za-z0-9+/]{5})/,
      (_m, c: string, rest: string) => ` ${c === 'A' ? 'B' : 'A'}${rest}`,
    );
    const r = await run(
      { entries: log.entries, checkpoints: [...log.checkpoints, forged, flipped] },
      log.vkey,
    );
    const sigProblems = r.problems.filter((p) => p.kind === 'checkpoint-signature');
    expect(sigProblems).toHaveLength(2);
    expect(sigProblems[0]!.message).toMatch(/claims size (50|35)/);
    expect(r.checkpoints.filter((c) => c.state === 'bad-signature')).toHaveLength(2);
    expect(r.ok).toBe(false);
  });

  it('a malformed or foreign checkpoint', async () => {
    const log = await buildLog(10, [10]);
    const other = signCheckpoint({ origin: 'other.example/log', size: 10, root: log.tree.root }, log.signer);
    const r = await run(
      { entries: log.entries, checkpoints: [...log.checkpoints, 'garbage', other] },
      log.vkey,
    );
    expect(r.problems.map((p) => p.kind)).toEqual(['checkpoint-malformed', 'checkpoint-malformed']);
    expect(r.problems[1]!.message).toMatch(/other\.example/);
  });

  it('a validly signed checkpoint from another history (a fork) is inconsistent', async () => {
    const log = await buildLog(50, CPS);
    const forkRoot = nodeHash(await log.tree.rootAt(19), leafHash(Buffer.from('fork')));
    const fork = signCheckpoint({ origin: ORIGIN, size: 20, root: forkRoot }, log.signer);
    const r = await run({ entries: log.entries, checkpoints: [...log.checkpoints, fork] }, log.vkey);
    expect(r.problems).toEqual([expect.objectContaining({ kind: 'inconsistent', checkpointSize: 20 })]);
    expect(r.problems[0]!.message).toMatch(/inconsistent with the later one of size 35/);
  });
});

describe('verifyLog with a checkpoint the auditor saved earlier', () => {
  it('exposes a rewrite even when the attacker rebuilt the tree and re-signed with the stolen key', async () => {
    const log = await buildLog(50, CPS);
    const saved = log.checkpoints[3]!; // size 50, kept by the auditor off the server
    // The attacker keeps 0..39, writes new 40..47, rebuilds all nodes and re-signs every checkpoint.
    const rewritten = await buildLog(48, [10, 20, 35, 48], {
      signer: log.signer,
      vkey: log.vkey,
      make: (seq) => (seq < 40 ? sampleEntry(seq) : sampleEntry(seq, { type: 'auth.login' })),
    });
    const opts = {
      entries: rewritten.entries,
      checkpoints: rewritten.checkpoints,
      nodeStore: rewritten.store,
    };
    expect((await run(opts, log.vkey)).ok).toBe(true); // the server's own evidence is all consistent
    const r = await run({ ...opts, trusted: saved }, log.vkey);
    expect(r.ok).toBe(false);
    expect(r.firstBad).toMatchObject({
      kind: 'log-truncated',
      checkpoint: 'trusted',
      index: 48,
      rangeEnd: 50,
    });

    // Same rewrite, but padded back to 50 entries: the saved root no longer matches.
    const padded = await buildLog(55, [10, 20, 35, 55], {
      signer: log.signer,
      vkey: log.vkey,
      make: (seq) => (seq < 40 ? sampleEntry(seq) : sampleEntry(seq, { type: 'auth.login' })),
    });
    const r2 = await run(
      { entries: padded.entries, checkpoints: padded.checkpoints, trusted: saved },
      log.vkey,
    );
    expect(r2.firstBad).toMatchObject({
      kind: 'root-mismatch',
      checkpoint: 'trusted',
      index: 0,
      rangeEnd: 50,
    });
    expect(r2.growth).toMatchObject({ fromSize: 50, toSize: 55, ok: false });
  });

  it('proves growth against the recomputed log when nothing newer is signed', async () => {
    const log = await buildLog(30, [10, 20]);
    const r = await run(
      { entries: log.entries, checkpoints: log.checkpoints.slice(0, 1), trusted: log.checkpoints[1]! },
      log.vkey,
    );
    expect(r.ok).toBe(true);
    expect(r.growth).toMatchObject({ fromSize: 20, toSize: 30, toSigned: false, ok: true });
  });

  it('refuses a saved checkpoint that is forged', async () => {
    const log = await buildLog(10, [10]);
    const mallory = parseSignerKey(generateLogKey(ORIGIN).skey);
    const fake = signCheckpoint({ origin: ORIGIN, size: 10, root: log.tree.root }, mallory);
    const r = await run({ entries: log.entries, checkpoints: log.checkpoints, trusted: fake }, log.vkey);
    expect(r.firstBad).toMatchObject({ kind: 'checkpoint-signature', checkpoint: 'trusted' });
    expect(r.growth).toBeUndefined();
  });

  it('works with an empty log and an empty-tree checkpoint', async () => {
    const store = new MemoryNodeStore();
    const tree = await MerkleTree.open(store, 0);
    const key = generateLogKey(ORIGIN);
    const cp = signCheckpoint({ origin: ORIGIN, size: 0, root: tree.root }, parseSignerKey(key.skey));
    const r = await verifyLog({
      entries: [],
      checkpoints: [cp],
      keys: [key.vkey],
      origin: ORIGIN,
      trusted: cp,
      nodeStore: store,
    });
    expect(r.ok).toBe(true);
    expect(r.size).toBe(0);
  });
});
