/**
 * The Merkle log in a real store, attacked by someone with database access: each tampering is
 * found by the verifier (and by `carewire audit verify`) with the right first index, and a
 * checkpoint saved before a full rewrite exposes it.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { AuditSql } from '../../src/audit/audit-sql.ts';
import {
  MemoryNodeStore,
  MerkleTree,
  verifyConsistency,
  verifyInclusion,
} from '../../src/audit/merkle/index.ts';
import { storeSource, verifySource } from '../../src/audit/verify-store.ts';
import { ENGINES } from '../helpers/app.ts';
import { runCli } from '../helpers/cli.ts';
import { fill, type LogFixture, openLogFixture, sampleEvent } from './helpers.ts';
import { refLeaf, refVerifyConsistency, refVerifyInclusion } from './reference.ts';

async function verify(f: LogFixture, trusted?: string) {
  return verifySource(storeSource(new AuditSql(f.store.db, f.store.sqlite)), {
    keys: [f.key.vkey],
    origin: f.key.origin,
    trusted,
  });
}

/** A log of 100 entries with checkpoints at 40, 70 and 100. */
async function standardLog(f: LogFixture): Promise<void> {
  await fill(f.log, 0, 40);
  await f.log.checkpoint();
  await fill(f.log, 40, 30);
  await f.log.checkpoint();
  await fill(f.log, 70, 30);
  await f.log.checkpoint();
}

const textOf = async (f: LogFixture, seq: number): Promise<string> =>
  (await f.log.rawEntries(seq, seq + 1))[0]!;

describe.each(ENGINES)('audit log in the store on %s', (engine) => {
  let f: LogFixture;
  afterEach(async () => {
    await f?.close();
  });

  it('stores seq as the leaf index, the exact canonical bytes, and serves proofs an independent verifier accepts', async () => {
    f = await openLogFixture(engine);
    await standardLog(f);
    const texts = await f.log.rawEntries(0, 100);
    expect(texts).toHaveLength(100);
    texts.forEach((t, i) => {
      expect(JSON.parse(t).seq).toBe(i);
    });
    // The tree in the store equals one rebuilt from the stored bytes in memory.
    const mem = await MerkleTree.open(new MemoryNodeStore(), 0);
    await mem.appendBatch(texts.map((t) => refLeaf(Buffer.from(t, 'utf8'))));
    const head = await f.log.head();
    expect(head.size).toBe(100);
    expect(Buffer.from(head.root).equals(Buffer.from(mem.root))).toBe(true);
    for (const [index, size] of [
      [0, 1],
      [41, 70],
      [99, 100],
      [64, 100],
    ] as const) {
      const p = await f.log.inclusionProof(index, size);
      const leaf = refLeaf(Buffer.from(texts[index]!, 'utf8'));
      expect(Buffer.from(p.leafHash).equals(Buffer.from(leaf))).toBe(true);
      expect(refVerifyInclusion(index, size, leaf, p.proof, p.root)).toBe(true);
      verifyInclusion(index, size, leaf, p.proof, p.root);
    }
    const c = await f.log.consistencyProof(40, 100);
    expect(refVerifyConsistency(40, 100, c.fromRoot, c.toRoot, c.proof)).toBe(true);
    verifyConsistency(40, 100, c.fromRoot, c.toRoot, c.proof);
    await expect(f.log.inclusionProof(5, 101)).rejects.toThrow(/beyond/);
    await expect(f.log.inclusionProof(100, 100)).rejects.toThrow(/outside/);
    const report = await verify(f);
    expect(report.ok).toBe(true);
    expect(report.signedSize).toBe(100);
    expect(report.checkpoints.filter((x) => x.state === 'ok')).toHaveLength(3);
  });

  it('refuses updates and deletes in the engine while the triggers stand, and malformed events alone', async () => {
    f = await openLogFixture(engine);
    await fill(f.log, 0, 3);
    const bad = [
      f.log.append({ type: 'Patient Read', action: 'R', outcome: 0 }),
      f.log.append({ type: 'patient.read', action: 'X' as 'R', outcome: 0 }),
      f.log.append({ type: 'patient.read', action: 'R', outcome: 3 as 0 }),
      f.log.append({ type: 'patient.read', action: 'R', outcome: 0, purpose: 'no spaces allowed' }),
    ];
    const good = f.log.append({ type: 'patient.read', action: 'R', outcome: 0 });
    const results = await Promise.allSettled(bad);
    expect(results.map((r) => r.status)).toEqual(['rejected', 'rejected', 'rejected', 'rejected']);
    expect(String((results[0] as PromiseRejectedResult).reason)).toMatch(/lowercase dotted/);
    expect((await good).seq).toBe(3);
    await expect(
      f.store.db.updateTable('audit_events').set({ entry: '{}' }).where('seq', '=', 1).execute(),
    ).rejects.toThrow(/append-only/);
    await expect(f.store.db.deleteFrom('audit_tree').where('level', '=', 1).execute()).rejects.toThrow(
      /append-only/,
    );
  });

  it('finds one changed entry at its index', async () => {
    f = await openLogFixture(engine);
    await standardLog(f);
    const forged = (await textOf(f, 42)).replace('"outcome":0', '"outcome":4');
    await f.attack([['UPDATE audit_events SET entry = ? WHERE seq = ?', [forged, 42]]]);
    const r = await verify(f);
    expect(r.ok).toBe(false);
    expect(r.firstBad).toMatchObject({ kind: 'entry-modified', index: 42, exact: true });
  });

  it('finds one deleted entry at its index', async () => {
    f = await openLogFixture(engine);
    await standardLog(f);
    await f.attack([['DELETE FROM audit_events WHERE seq = ?', [17]]]);
    const r = await verify(f);
    expect(r.ok).toBe(false);
    expect(r.firstBad?.index).toBe(17);
    expect(r.firstBad?.kind).toMatch(/entry-missing|entry-modified/);
  });

  it('finds two swapped entries at the first of them', async () => {
    f = await openLogFixture(engine);
    await standardLog(f);
    const [a, b] = [await textOf(f, 30), await textOf(f, 71)];
    await f.attack([
      ['UPDATE audit_events SET entry = ? WHERE seq = ?', [b, 30]],
      ['UPDATE audit_events SET entry = ? WHERE seq = ?', [a, 71]],
    ]);
    const r = await verify(f);
    expect(r.ok).toBe(false);
    expect(r.firstBad?.index).toBe(30);
    expect(r.problems.some((p) => p.index === 71)).toBe(true);
  });

  it('finds a truncated tail; the log refuses to append over it (fails closed)', async () => {
    f = await openLogFixture(engine);
    await standardLog(f);
    await f.attack([['DELETE FROM audit_events WHERE seq >= ?', [90]]]);
    const cut = await verify(f);
    expect(cut.ok).toBe(false);
    expect(cut.firstBad).toMatchObject({ kind: 'log-truncated', index: 90 });
    // The interior nodes over 90…99 are still stored: writing new entries there would overwrite
    // evidence, so appends past the first fail with a message pointing at the verifier.
    const results = await Promise.allSettled(Array.from({ length: 10 }, () => f.log.append(sampleEvent(0))));
    const refused = results.filter((r) => r.status === 'rejected');
    expect(refused.length).toBeGreaterThanOrEqual(9);
    expect(String((refused[0] as PromiseRejectedResult).reason)).toMatch(/audit verify/);
  });

  it('finds a tail replaced by forged entries with recomputed leaf hashes at the first forged index', async () => {
    f = await openLogFixture(engine);
    await standardLog(f);
    const tail = await f.log.rawEntries(90, 100);
    const forged = tail.map((t) => t.replace(/"username":"[^"]*"/, '"username":"nobody"'));
    await f.attack([
      ['DELETE FROM audit_events WHERE seq >= ?', [90]],
      ...forged.map(
        (t, i) =>
          [
            'INSERT INTO audit_events (seq, recorded, type, outcome, user_id, patient_id, entry, leaf) VALUES (?, ?, ?, ?, ?, ?, ?, ?)',
            [90 + i, 0, 'patient.read', 0, null, null, t, Buffer.from(refLeaf(Buffer.from(t, 'utf8')))],
          ] as [string, unknown[]],
      ),
    ]);
    const r = await verify(f);
    expect(r.ok).toBe(false);
    // The leaves agree with the forged bytes; the stored interior nodes and the checkpoint do not.
    expect(r.firstBad?.index, JSON.stringify(r.problems, null, 1)).toBe(90);
    expect(r.problems.some((p) => p.kind === 'root-mismatch' && p.checkpointSize === 100)).toBe(true);
  });

  it('a checkpoint saved before a full rewrite (stolen key, tree and checkpoints redone) exposes it', async () => {
    f = await openLogFixture(engine);
    await fill(f.log, 0, 60);
    const saved = (await f.log.checkpoint())!.note;
    await fill(f.log, 60, 20);
    await f.log.checkpoint();
    expect((await verify(f, saved)).ok).toBe(true);
    // The attacker empties everything, then writes a new history with the key from DATA/keys.
    await f.log.close();
    await f.attack([
      ['DELETE FROM audit_events', []],
      ['DELETE FROM audit_tree', []],
      ['DELETE FROM audit_checkpoints', []],
    ]);
    const { AuditLog } = await import('../../src/audit/log.ts');
    f.log = new AuditLog(f.store, {
      maxDelayMs: 1,
      maxItems: 64,
      key: f.key,
      checkpointMs: 0,
    });
    await fill(f.log, 1000, 80);
    await f.log.checkpoint();
    // Everything inside the store agrees with itself now …
    expect((await verify(f)).ok).toBe(true);
    // … but not with what the auditor kept.
    const r = await verify(f, saved);
    expect(r.ok).toBe(false);
    expect(r.firstBad).toMatchObject({ kind: 'root-mismatch', index: 0, checkpoint: 'trusted' });
  });

  it('`carewire audit verify` exits 0 when intact and 1 naming the first bad index; `audit checkpoint` saves a head', async () => {
    f = await openLogFixture(engine);
    await standardLog(f);
    await f.log.close();
    const where = ['--data', f.dataDir, ...(f.pgUrl ? ['--database-url', f.pgUrl] : [])];
    const cp = await runCli(['audit', 'checkpoint', ...where]);
    expect(cp.code, cp.stderr).toBe(0);
    expect(cp.stdout).toMatch(new RegExp(`^${f.key.origin}\\n100\\n`));
    const ok = await runCli(['audit', 'verify', ...where]);
    expect(ok.code, ok.stdout + ok.stderr).toBe(0);
    expect(ok.stdout).toMatch(/100 entries/);
    expect(ok.stdout).toMatch(/OK: the log is intact/);
    const forged = (await textOf(f, 63)).replace('"source":"http"', '"source":"hl7"');
    await f.attack([['UPDATE audit_events SET entry = ? WHERE seq = ?', [forged, 63]]]);
    const bad = await runCli(['audit', 'verify', ...where]);
    expect(bad.code).toBe(1);
    expect(bad.stdout).toMatch(/TAMPERED: entry-modified at entry 63/);
    expect(bad.stdout).toMatch(/first bad index: 63/);
    const missing = await runCli(['audit', 'verify', ...where, '--checkpoint', '/nonexistent/cp']);
    expect(missing.code).toBe(2);
  });
});
