/**
 * C2SP tlog-checkpoint (c2sp.org/tlog-checkpoint): the signed tree head.
 *
 *   <origin>\n<tree size>\n<base64 root hash>\n[extension lines\n]
 *
 * wrapped in a signed note. The log's key name should equal the origin; an auditor trusts a
 * checkpoint because it verifies under a `vkey` they hold, never because of what the text says.
 */
import { HASH_SIZE, toBase64 } from './hash.ts';
import { decodeBase64Strict, type NoteSigner, type NoteVerifier, openNote, signNote } from './note.ts';

export interface Checkpoint {
  /** Log identity, e.g. `carewire.example/audit`. */
  readonly origin: string;
  readonly size: number;
  readonly root: Uint8Array;
  /** Optional extra lines; C2SP discourages them (monitors cannot audit them). */
  readonly extensions?: readonly string[];
}

export interface VerifiedCheckpoint extends Checkpoint {
  /** The signed note, verbatim, for storage or handing to an auditor. */
  readonly note: string;
  /** Names of the trusted keys whose signatures verified. */
  readonly signedBy: readonly string[];
}

export class CheckpointError extends Error {
  override readonly name = 'CheckpointError';
}

function checkOrigin(origin: string): void {
  if (origin.length === 0 || origin.length > 256 || !origin.isWellFormed() || /[\n\r]/.test(origin)) {
    throw new CheckpointError('checkpoint origin must be one non-empty line');
  }
}

/** The note text of a checkpoint. */
export function formatCheckpoint(cp: Checkpoint): string {
  checkOrigin(cp.origin);
  if (!Number.isSafeInteger(cp.size) || cp.size < 0)
    throw new CheckpointError(`invalid tree size ${cp.size}`);
  if (cp.root.length !== HASH_SIZE) throw new CheckpointError(`root hash must be ${HASH_SIZE} bytes`);
  let text = `${cp.origin}\n${cp.size}\n${toBase64(cp.root)}\n`;
  for (const ext of cp.extensions ?? []) {
    if (ext.length === 0 || ext.includes('\n'))
      throw new CheckpointError('extension lines must be non-empty single lines');
    text += `${ext}\n`;
  }
  return text;
}

/** Parses checkpoint note text (not the signatures). Throws CheckpointError when malformed. */
export function parseCheckpointText(text: string): Checkpoint {
  if (!text.endsWith('\n')) throw new CheckpointError('checkpoint text must end with a newline');
  const lines = text.slice(0, -1).split('\n');
  if (lines.length < 3) throw new CheckpointError('checkpoint needs origin, size and root lines');
  const [origin, sizeLine, rootLine, ...extensions] = lines as [string, string, string, ...string[]];
  checkOrigin(origin);
  // Decimal, no leading zeros (except "0"), and exact as a double.
  if (!/^(0|[1-9][0-9]{0,15})$/.test(sizeLine) || !Number.isSafeInteger(Number(sizeLine))) {
    throw new CheckpointError(
      `checkpoint tree size ${JSON.stringify(sizeLine.slice(0, 40))} is not a canonical decimal`,
    );
  }
  const root = decodeBase64Strict(rootLine);
  if (root === undefined || root.length !== HASH_SIZE)
    throw new CheckpointError('checkpoint root is not a base64 SHA-256 hash');
  if (extensions.some((e) => e.length === 0))
    throw new CheckpointError('checkpoint extension lines must be non-empty');
  return { origin, size: Number(sizeLine), root, extensions };
}

export function signCheckpoint(cp: Checkpoint, signers: NoteSigner | readonly NoteSigner[]): string {
  return signNote(formatCheckpoint(cp), Array.isArray(signers) ? signers : [signers as NoteSigner]);
}

/**
 * Verifies the note's signatures against the trusted keys, then parses the checkpoint and, when
 * `origin` is given, requires it to match. Throws NoteError (signatures) or CheckpointError (body).
 */
export function openCheckpoint(
  note: string | Uint8Array,
  verifiers: readonly NoteVerifier[],
  opts: { origin?: string } = {},
): VerifiedCheckpoint {
  const opened = openNote(note, verifiers);
  const cp = parseCheckpointText(opened.text);
  if (opts.origin !== undefined && cp.origin !== opts.origin) {
    throw new CheckpointError(
      `checkpoint is for log ${JSON.stringify(cp.origin)}, expected ${JSON.stringify(opts.origin)}`,
    );
  }
  return {
    ...cp,
    note: typeof note === 'string' ? note : Buffer.from(note).toString('utf8'),
    signedBy: opened.verified.map((s) => s.name),
  };
}
