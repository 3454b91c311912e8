import {
  type AuditEntry,
  encodeEntry,
  generateLogKey,
  leafHash,
  MemoryNodeStore,
  MerkleTree,
  type NoteSigner,
  parseSignerKey,
  signCheckpoint,
} from '../../src/audit/merkle/index.ts';

export const ORIGIN = 'carewire.test/audit';

export function sampleEntry(seq: number, over: Partial<AuditEntry> = {}): AuditEntry {
  return {
    seq,
    id: `00000000-0000-4000-8000-${String(seq).padStart(12, '0')}`,
    recorded: new Date(Date.UTC(2026, 0, 1, 8, 0, 0, seq)).toISOString(),
    type: 'patient.read',
    action: 'R',
    outcome: 0,
    agent: { userId: 'u-7', username: 'dr.ada', role: 'clinician', address: '10.0.0.7' },
    source: 'http',
    entity: { patientId: 'p-1', resourceType: 'Observation', resourceId: `o-${seq}` },
    ...over,
  };
}

export interface BuiltLog {
  entries: Uint8Array[];
  checkpoints: string[];
  store: MemoryNodeStore;
  tree: MerkleTree;
  vkey: string;
  signer: NoteSigner;
}

/**
 * Appends entries as the service would (group-commit batches), signing a checkpoint at each of
 * `checkpointAt`. `make` builds the entry at each seq.
 */
export async function buildLog(
  n: number,
  checkpointAt: readonly number[],
  opts: { signer?: NoteSigner; vkey?: string; make?: (seq: number) => AuditEntry } = {},
): Promise<BuiltLog> {
  let signer = opts.signer;
  let vkey = opts.vkey;
  if (!signer || !vkey) {
    const key = generateLogKey(ORIGIN);
    signer = parseSignerKey(key.skey);
    vkey = key.vkey;
  }
  const make = opts.make ?? ((seq: number) => sampleEntry(seq));
  const store = new MemoryNodeStore();
  const tree = await MerkleTree.open(store, 0);
  const entries: Uint8Array[] = [];
  const checkpoints: string[] = [];
  const stops = [...new Set([...checkpointAt, n])].sort((a, b) => a - b);
  for (const stop of stops) {
    const batch: Uint8Array[] = [];
    while (entries.length < stop) {
      const bytes = encodeEntry(make(entries.length));
      entries.push(bytes);
      batch.push(leafHash(bytes));
    }
    await tree.appendBatch(batch);
    if (checkpointAt.includes(stop))
      checkpoints.push(signCheckpoint({ origin: ORIGIN, size: tree.size, root: tree.root }, signer));
  }
  return { entries, checkpoints, store, tree, vkey, signer };
}

/** Re-encodes entry `i` with a change, as an attacker editing the stored row would. */
export function edit(entries: readonly Uint8Array[], i: number, over: Partial<AuditEntry>): Uint8Array[] {
  const copy = [...entries];
  const e = JSON.parse(Buffer.from(copy[i]!).toString()) as AuditEntry;
  copy[i] = encodeEntry({ ...e, ...over });
  return copy;
}
