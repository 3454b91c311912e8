/**
 * Micro-benchmark of the pure audit-log core (src/audit/merkle), against an in-memory node store,
 * so it measures our CPU cost alone; the database adds its own cost on top.
 *
 *  - appends/s in group-commit batches of 100 and 1000: canonical encoding + leaf hash + tree
 *    nodes, and the tree alone (leaf hashes given)
 *  - verify: the whole-log verifier over stored entry bytes with a checkpoint every 10,000
 *    entries: default (seq read, every hash checked), strict (each entry also parsed, validated
 *    and re-encoded), and default with every stored tree node compared too
 *  - inclusion and consistency proof generation time (p50/p99), and client-side verification
 *
 * Each rate is given twice: by wall clock and by this process's CPU time. On a shared machine
 * (other test runs on the same cores) the wall clock overstates the cost; CPU time is what the
 * work costs on an idle core. The load average at start and end is reported alongside.
 *
 *   npx node bench/audit-merkle.ts            full run (1,000,000 entries)
 *   npx node bench/audit-merkle.ts --quick    100,000 entries, fewer samples
 */

import { availableParallelism, loadavg } from 'node:os';
import { performance } from 'node:perf_hooks';
import {
  type AuditEntry,
  encodeEntry,
  generateLogKey,
  isValidInclusion,
  leafHash,
  MemoryNodeStore,
  MerkleTree,
  parseSignerKey,
  signCheckpoint,
  verifyLog,
} from '../src/audit/merkle/index.ts';
import { metricsFromNumbers } from './lib/measure.ts';
import type { BenchOptions, BenchResult } from './lib/types.ts';

const ORIGIN = 'bench.carewire/audit';

function entry(seq: number): AuditEntry {
  return {
    seq,
    id: `00000000-0000-4000-8000-${String(seq).padStart(12, '0')}`,
    recorded: new Date(Date.UTC(2026, 0, 1) + seq).toISOString(),
    type: 'patient.read',
    action: 'R',
    outcome: 0,
    agent: { userId: `u-${seq % 97}`, username: 'dr.ada', role: 'clinician', address: '10.0.0.7' },
    source: 'http',
    entity: { patientId: `p-${seq % 1000}`, resourceType: 'Observation', resourceId: `o-${seq}` },
  };
}

function quantile(sorted: readonly number[], q: number): number {
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1));
  return sorted[i]!;
}

const round = (x: number, digits = 1): number => Number(x.toFixed(digits));

interface Timing {
  wallS: number;
  cpuS: number;
}

async function timed(f: () => Promise<void>): Promise<Timing> {
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  await f();
  const c = process.cpuUsage(c0);
  return { wallS: (performance.now() - t0) / 1000, cpuS: (c.user + c.system) / 1e6 };
}

/** Best of `rounds` (after one warm-up when rounds > 1), by wall clock and by CPU time separately. */
async function best(rounds: number, f: () => Promise<void>): Promise<Timing> {
  if (rounds > 1) await f();
  const all: Timing[] = [];
  for (let r = 0; r < rounds; r++) all.push(await timed(f));
  return { wallS: Math.min(...all.map((t) => t.wallS)), cpuS: Math.min(...all.map((t) => t.cpuS)) };
}

const rate = (n: number, t: Timing) => ({ wall: Math.round(n / t.wallS), cpu: Math.round(n / t.cpuS) });

/** Appends `n` entries in batches; entries/s. */
async function appendRate(n: number, batch: number, withEncoding: boolean, rounds: number) {
  const entries = Array.from({ length: n }, (_, i) => entry(i));
  const hashes = withEncoding ? [] : entries.map((e) => leafHash(encodeEntry(e)));
  const t = await best(rounds, async () => {
    const store = new MemoryNodeStore();
    const tree = await MerkleTree.open(store, 0);
    for (let i = 0; i < n; i += batch) {
      const leaves = withEncoding
        ? entries.slice(i, i + batch).map((e) => leafHash(encodeEntry(e)))
        : hashes.slice(i, i + batch);
      const plan = tree.prepareAppend(leaves);
      await store.putNodes(plan.nodes);
      tree.commit(plan);
    }
  });
  return rate(n, t);
}

export async function measure(opts: { quick: boolean }): Promise<Record<string, unknown>> {
  const n = opts.quick ? 100_000 : 1_000_000;
  const appendN = opts.quick ? 20_000 : 200_000;
  const rounds = opts.quick ? 1 : 3;

  const loadBefore = loadavg()[0];
  const appends = {
    batch100: await appendRate(appendN, 100, true, rounds),
    batch1000: await appendRate(appendN, 1000, true, rounds),
    treeOnlyBatch100: await appendRate(appendN, 100, false, rounds),
    treeOnlyBatch1000: await appendRate(appendN, 1000, false, rounds),
  };

  // A log of n entries as the service would store it, with a checkpoint every 10,000.
  const key = generateLogKey(ORIGIN);
  const signer = parseSignerKey(key.skey);
  const store = new MemoryNodeStore();
  const tree = await MerkleTree.open(store, 0);
  const stored: Uint8Array[] = [];
  const checkpoints: string[] = [];
  for (let i = 0; i < n; i += 1000) {
    const leaves: Uint8Array[] = [];
    for (let j = i; j < Math.min(n, i + 1000); j++) {
      const bytes = encodeEntry(entry(j));
      stored.push(bytes);
      leaves.push(leafHash(bytes));
    }
    await tree.appendBatch(leaves);
    if (tree.size % 10_000 === 0 || tree.size === n) {
      checkpoints.push(signCheckpoint({ origin: ORIGIN, size: tree.size, root: tree.root }, signer));
    }
  }

  const timeVerify = async (o: { strict: boolean; nodes: boolean }) => {
    const t = await best(opts.quick ? 1 : 2, async () => {
      const r = await verifyLog({
        entries: stored,
        checkpoints,
        keys: [key.vkey],
        origin: ORIGIN,
        strict: o.strict,
        ...(o.nodes ? { nodeStore: store } : {}),
      });
      if (!r.ok) throw new Error(`benchmark log did not verify: ${r.firstBad?.message}`);
    });
    return { wallS: round(t.wallS, 2), cpuS: round(t.cpuS, 2) };
  };
  const verify = {
    entries: n,
    checkpoints: checkpoints.length,
    default: await timeVerify({ strict: false, nodes: false }),
    strict: await timeVerify({ strict: true, nodes: false }),
    withNodeStore: await timeVerify({ strict: false, nodes: true }),
  };

  // Proofs: random leaves against the full tree and against past sizes.
  const samples = opts.quick ? 2_000 : 20_000;
  let seed = 42;
  const rand = (m: number): number => {
    seed = (seed * 1103515245 + 12345) % 2 ** 31;
    return seed % m;
  };
  const inclusion: number[] = [];
  const consistency: number[] = [];
  const check: number[] = [];
  for (let s = 0; s < samples; s++) {
    const size = s % 2 === 0 ? n : rand(n) + 1;
    const index = rand(size);
    let t0 = performance.now();
    const proof = await tree.inclusionProof(index, size);
    inclusion.push((performance.now() - t0) * 1000);
    const m = rand(size) + 1;
    t0 = performance.now();
    await tree.consistencyProof(m, size);
    consistency.push((performance.now() - t0) * 1000);
    if (s % 10 === 0) {
      const root = await tree.rootAt(size);
      t0 = performance.now();
      if (!isValidInclusion(index, size, leafHash(stored[index]!), proof, root))
        throw new Error('proof failed');
      check.push((performance.now() - t0) * 1000);
    }
  }
  const us = (xs: number[]) => {
    const sorted = [...xs].sort((a, b) => a - b);
    return {
      p50: round(quantile(sorted, 0.5)),
      p99: round(quantile(sorted, 0.99)),
      max: round(sorted.at(-1)!),
    };
  };

  return {
    name: 'audit-merkle',
    note: 'in-memory node store; CPU cost of the pure core only',
    appendsPerSec: appends,
    verify,
    proofMicroseconds: {
      samples,
      treeSize: n,
      inclusion: us(inclusion),
      consistency: us(consistency),
      verifyInclusion: us(check),
    },
    storedNodes: store.size,
    machine: {
      cores: availableParallelism(),
      loadavgBefore: round(loadBefore, 2),
      loadavgAfter: round(loadavg()[0], 2),
    },
  };
}

/** Harness entry (`npm run bench -- NAME`): the same measurement as figures the harness can table. */
export async function run(opts: BenchOptions): Promise<BenchResult> {
  const r = await measure(opts);
  return {
    title: 'Audit Merkle core',
    description:
      'The pure Merkle core on an in-memory node store: appends in batches, verification, proof times (CPU cost of the core only).',
    metrics: metricsFromNumbers(r),
    details: r,
  };
}

if (import.meta.main) {
  const r = await measure({ quick: process.argv.includes('--quick') });
  console.log(JSON.stringify(r, null, 2));
}
