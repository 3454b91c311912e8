/**
 * The pure core of CareWire's tamper-evident audit log: RFC 6962 Merkle tree over a NodeStore,
 * proofs and their RFC 9162 verifiers, the canonical audit entry, C2SP signed checkpoints, and
 * the whole-log verifier. No I/O of its own; the store integration supplies a NodeStore and the
 * entry/checkpoint streams. See README.md in this folder for how the pieces fit.
 */
export {
  type Checkpoint,
  CheckpointError,
  formatCheckpoint,
  openCheckpoint,
  parseCheckpointText,
  signCheckpoint,
  type VerifiedCheckpoint,
} from './checkpoint.ts';
export {
  AUDIT_ACTIONS,
  AUDIT_OUTCOMES,
  type AuditAction,
  type AuditEntry,
  type AuditEntryAgent,
  type AuditEntryEntity,
  AuditEntryError,
  type AuditOutcome,
  decodeEntry,
  encodeEntry,
  entryLeafHash,
  MAX_ENTRY_BYTES,
  validateEntry,
} from './entry.ts';
export {
  EMPTY_ROOT,
  HASH_SIZE,
  hashesEqual,
  hashFromHex,
  leafHash,
  nodeHash,
  toBase64,
  toHex,
} from './hash.ts';
export { CanonicalJsonError, canonicalJson, type JsonValue } from './jcs.ts';
export { MemoryNodeStore, type NodeStore, NodeStoreError, type TreeNode } from './node-store.ts';
export {
  decodeBase64Strict,
  ed25519KeyId,
  ed25519Signer,
  ed25519Verifier,
  formatSignerKey,
  formatVerifierKey,
  generateLogKey,
  type LogKeyPair,
  NoteError,
  type NoteErrorCode,
  type NoteSignature,
  type NoteSigner,
  type NoteVerifier,
  type OpenedNote,
  openNote,
  parseSignerKey,
  parseVerifierKey,
  signerFromPem,
  signNote,
  verifierFromPem,
} from './note.ts';
export {
  isValidConsistency,
  isValidInclusion,
  ProofError,
  rootFromInclusionProof,
  verifyConsistency,
  verifyInclusion,
} from './proof-verify.ts';
export {
  type AppendPlan,
  appendLeaves,
  EMPTY_FRONTIER,
  type Frontier,
  frontierRoot,
  MerkleTree,
  readFrontier,
  TreeBuilder,
} from './tree.ts';
export {
  consistencyPlan,
  inclusionPlan,
  MAX_TREE_SIZE,
  type NodeId,
  type RangeNodes,
  rangeNodes,
  rootNodes,
  splitPoint,
} from './tree-math.ts';
export {
  type CheckpointReport,
  type CheckpointState,
  type GrowthProof,
  type LogVerifyReport,
  type PrehashedEntry,
  type StoredEntry,
  scanSeq,
  type VerifyLogOptions,
  type VerifyProblem,
  type VerifyProblemKind,
  verifyLog,
} from './verify-log.ts';
