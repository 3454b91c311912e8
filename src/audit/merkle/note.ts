/**
 * C2SP signed notes (c2sp.org/signed-note) with Ed25519 keys, and the key string formats of the
 * reference implementation (golang.org/x/mod/sumdb/note), so other transparency tooling can
 * verify CareWire checkpoints with nothing but our public `vkey`:
 *
 *   verifier key  <name>+<8 hex key ID>+<base64(0x01 ‖ 32-byte public key)>
 *   signer key    PRIVATE+KEY+<name>+<8 hex key ID>+<base64(0x01 ‖ 32-byte seed)>
 *   key ID        first 4 bytes, big-endian, of SHA-256(name ‖ 0x0A ‖ 0x01 ‖ public key)
 *   note          <text ending in \n>\n— <name> <base64(key ID ‖ signature)>\n…
 *
 * Opening follows the spec's rules: signatures from unknown keys (name and ID not both matching)
 * are ignored, a failed signature from a known key rejects the whole note, and a note with no
 * verified known signature is rejected.
 */
import {
  createHash,
  createPrivateKey,
  createPublicKey,
  sign as edSign,
  verify as edVerify,
  generateKeyPairSync,
  type KeyObject,
} from 'node:crypto';

export const SIG_TYPE_ED25519 = 0x01;
/** Spec: verifiers must accept at least 16; the Go reference stops at 100. */
export const MAX_NOTE_SIGNATURES = 100;
export const MAX_NOTE_BYTES = 256 * 1024;

export type NoteErrorCode = 'malformed' | 'bad-key' | 'invalid-signature' | 'unverified';

export class NoteError extends Error {
  override readonly name = 'NoteError';
  readonly code: NoteErrorCode;
  constructor(code: NoteErrorCode, message: string) {
    super(message);
    this.code = code;
  }
}

export interface NoteVerifier {
  readonly name: string;
  /** uint32 key ID. */
  readonly keyId: number;
  readonly publicKey: Uint8Array;
  verify(message: Uint8Array, signature: Uint8Array): boolean;
}

export interface NoteSigner {
  readonly name: string;
  readonly keyId: number;
  readonly publicKey: Uint8Array;
  sign(message: Uint8Array): Uint8Array;
}

// DER prefixes that wrap a raw Ed25519 key (RFC 8410): importing through DER needs no JWK juggling.
const SPKI_PREFIX = Buffer.from('302a300506032b6570032100', 'hex');
const PKCS8_PREFIX = Buffer.from('302e020100300506032b657004220420', 'hex');

/** Key names must be non-empty with no Unicode whitespace and no '+'. */
export function isValidKeyName(name: string): boolean {
  return (
    name.length > 0 && name.isWellFormed() && !/[\s+\u0085\u180e\u200b]/u.test(name) && !hasControl(name)
  );
}

function hasControl(s: string): boolean {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x20 || c === 0x7f) return true;
  }
  return false;
}

/** SHA-256(name ‖ 0x0A ‖ 0x01 ‖ public key)[:4] as a big-endian uint32. */
export function ed25519KeyId(name: string, publicKey: Uint8Array): number {
  const h = createHash('sha256')
    .update(name, 'utf8')
    .update(Uint8Array.of(0x0a, SIG_TYPE_ED25519))
    .update(publicKey)
    .digest();
  return h.readUInt32BE(0);
}

const hex8 = (id: number): string => id.toString(16).padStart(8, '0');

/** Strict standard base64 (RFC 4648 §4, padded): Buffer.from alone skips junk characters. */
export function decodeBase64Strict(s: string): Uint8Array | undefined {
  if (s.length === 0 || s.length % 4 !== 0 || !/^[A-Za-z0-9+/]+={0,2}$/.test(s)) return undefined;
  const b = Buffer.from(s, 'base64');
  return b.toString('base64') === s ? b : undefined;
}

function publicKeyObject(raw: Uint8Array): KeyObject {
  return createPublicKey({ key: Buffer.concat([SPKI_PREFIX, raw]), format: 'der', type: 'spki' });
}

function privateKeyObject(seed: Uint8Array): KeyObject {
  return createPrivateKey({ key: Buffer.concat([PKCS8_PREFIX, seed]), format: 'der', type: 'pkcs8' });
}

function rawPublic(key: KeyObject): Uint8Array {
  const jwk = key.export({ format: 'jwk' });
  if (jwk.kty !== 'OKP' || jwk.crv !== 'Ed25519' || typeof jwk.x !== 'string')
    throw new NoteError('bad-key', 'not an Ed25519 key');
  return Buffer.from(jwk.x, 'base64url');
}

function rawSeed(key: KeyObject): Uint8Array {
  const jwk = key.export({ format: 'jwk' });
  if (jwk.kty !== 'OKP' || jwk.crv !== 'Ed25519' || typeof jwk.d !== 'string')
    throw new NoteError('bad-key', 'not an Ed25519 private key');
  return Buffer.from(jwk.d, 'base64url');
}

function checkName(name: string): void {
  if (!isValidKeyName(name)) throw new NoteError('bad-key', `invalid key name ${JSON.stringify(name)}`);
}

export function ed25519Verifier(name: string, publicKey: Uint8Array): NoteVerifier {
  checkName(name);
  if (publicKey.length !== 32)
    throw new NoteError('bad-key', `Ed25519 public key must be 32 bytes, got ${publicKey.length}`);
  const pub = Buffer.from(publicKey);
  const key = publicKeyObject(pub);
  return {
    name,
    keyId: ed25519KeyId(name, pub),
    publicKey: pub,
    verify: (message, signature) => signature.length === 64 && edVerify(null, message, key, signature),
  };
}

export function ed25519Signer(name: string, seed: Uint8Array): NoteSigner {
  checkName(name);
  if (seed.length !== 32)
    throw new NoteError('bad-key', `Ed25519 private key seed must be 32 bytes, got ${seed.length}`);
  const key = privateKeyObject(seed);
  const pub = rawPublic(createPublicKey(key));
  return {
    name,
    keyId: ed25519KeyId(name, pub),
    publicKey: pub,
    sign: (message) => edSign(null, message, key),
  };
}

/** `<name>+<hex ID>+<base64(0x01 ‖ key)>`. */
export function formatVerifierKey(name: string, publicKey: Uint8Array): string {
  const v = ed25519Verifier(name, publicKey);
  return `${name}+${hex8(v.keyId)}+${Buffer.concat([Uint8Array.of(SIG_TYPE_ED25519), v.publicKey]).toString('base64')}`;
}

function parseKeyString(s: string, what: string): { name: string; keyId: number; raw: Uint8Array } {
  const first = s.indexOf('+');
  const second = first < 0 ? -1 : s.indexOf('+', first + 1);
  if (second < 0) throw new NoteError('bad-key', `${what} must look like name+keyid+key`);
  const name = s.slice(0, first);
  const id = s.slice(first + 1, second);
  const data = decodeBase64Strict(s.slice(second + 1));
  checkName(name);
  if (!/^[0-9a-f]{8}$/.test(id))
    throw new NoteError('bad-key', `${what} key ID must be 8 lowercase hex digits`);
  if (data === undefined) throw new NoteError('bad-key', `${what} key data is not base64`);
  if (data.length !== 33 || data[0] !== SIG_TYPE_ED25519)
    throw new NoteError('bad-key', `${what} is not an Ed25519 key`);
  return { name, keyId: Number.parseInt(id, 16), raw: data.subarray(1) };
}

/** Parses a verifier key string and checks its key ID matches its name and key. */
export function parseVerifierKey(vkey: string): NoteVerifier {
  const { name, keyId, raw } = parseKeyString(vkey, 'verifier key');
  const v = ed25519Verifier(name, raw);
  if (v.keyId !== keyId) throw new NoteError('bad-key', 'verifier key ID does not match its name and key');
  return v;
}

export function formatSignerKey(signer: { name: string; seed: Uint8Array }): string {
  const s = ed25519Signer(signer.name, signer.seed);
  return `PRIVATE+KEY+${s.name}+${hex8(s.keyId)}+${Buffer.concat([Uint8Array.of(SIG_TYPE_ED25519), signer.seed]).toString('base64')}`;
}

/** Parses `PRIVATE+KEY+<name>+<id>+<base64(0x01 ‖ seed)>`. */
export function parseSignerKey(skey: string): NoteSigner {
  if (!skey.startsWith('PRIVATE+KEY+'))
    throw new NoteError('bad-key', 'signer key must start with PRIVATE+KEY+');
  const { name, keyId, raw } = parseKeyString(skey.slice('PRIVATE+KEY+'.length), 'signer key');
  const s = ed25519Signer(name, raw);
  if (s.keyId !== keyId) throw new NoteError('bad-key', 'signer key ID does not match its name and key');
  return s;
}

export function signerFromPem(name: string, privateKeyPem: string): NoteSigner {
  const key = createPrivateKey(privateKeyPem);
  if (key.asymmetricKeyType !== 'ed25519')
    throw new NoteError('bad-key', `expected an Ed25519 key, got ${key.asymmetricKeyType}`);
  return ed25519Signer(name, rawSeed(key));
}

export function verifierFromPem(name: string, publicKeyPem: string): NoteVerifier {
  const key = createPublicKey(publicKeyPem);
  if (key.asymmetricKeyType !== 'ed25519')
    throw new NoteError('bad-key', `expected an Ed25519 key, got ${key.asymmetricKeyType}`);
  return ed25519Verifier(name, rawPublic(key));
}

/** A freshly generated log key in every form the service and its auditors need. */
export interface LogKeyPair {
  readonly name: string;
  readonly keyId: number;
  /** 32-byte raw public key. */
  readonly publicKey: Uint8Array;
  /** 32-byte raw private key seed (RFC 8032). Secret. */
  readonly seed: Uint8Array;
  readonly publicKeyPem: string;
  /** PKCS#8 PEM. Secret. */
  readonly privateKeyPem: string;
  /** Verifier key string for auditors: `<name>+<id>+<key>`. */
  readonly vkey: string;
  /** Signer key string (`PRIVATE+KEY+…`). Secret. */
  readonly skey: string;
}

export function generateLogKey(name: string): LogKeyPair {
  checkName(name);
  const { publicKey, privateKey } = generateKeyPairSync('ed25519');
  const pub = rawPublic(publicKey);
  const seed = rawSeed(privateKey);
  return {
    name,
    keyId: ed25519KeyId(name, pub),
    publicKey: pub,
    seed,
    publicKeyPem: publicKey.export({ format: 'pem', type: 'spki' }).toString(),
    privateKeyPem: privateKey.export({ format: 'pem', type: 'pkcs8' }).toString(),
    vkey: formatVerifierKey(name, pub),
    skey: formatSignerKey({ name, seed }),
  };
}

const SIG_PREFIX = '\u2014 '; // em dash, space

function checkNoteChars(s: string, what: string): void {
  if (!s.isWellFormed()) throw new NoteError('malformed', `${what} is not valid UTF-8`);
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x20 && c !== 0x0a)
      throw new NoteError('malformed', `${what} contains control character 0x${c.toString(16)}`);
  }
}

/** Signs note text (which must end in a newline) with each signer. */
export function signNote(text: string, signers: readonly NoteSigner[]): string {
  if (text.length === 0 || !text.endsWith('\n'))
    throw new NoteError('malformed', 'note text must end with a newline');
  checkNoteChars(text, 'note text');
  if (signers.length === 0) throw new NoteError('malformed', 'a note needs at least one signer');
  const msg = Buffer.from(text, 'utf8');
  let out = `${text}\n`;
  for (const s of signers) {
    const id = Buffer.alloc(4);
    id.writeUInt32BE(s.keyId);
    out += `${SIG_PREFIX}${s.name} ${Buffer.concat([id, s.sign(msg)]).toString('base64')}\n`;
  }
  return out;
}

export interface NoteSignature {
  readonly name: string;
  readonly keyId: number;
  readonly base64: string;
}

export interface OpenedNote {
  /** The signed text, final newline included. */
  readonly text: string;
  /** Signatures by known keys, all verified. Never empty. */
  readonly verified: readonly NoteSignature[];
  /** Signatures by keys we don't know (e.g. witnesses), ignored as the spec requires. */
  readonly unknown: readonly NoteSignature[];
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

/**
 * Parses a signed note and verifies it against the trusted keys. Throws NoteError: `malformed`,
 * `invalid-signature` (a known key's signature fails: the whole note is rejected) or `unverified`
 * (no known key signed it).
 */
export function openNote(note: string | Uint8Array, verifiers: readonly NoteVerifier[]): OpenedNote {
  let s: string;
  if (typeof note === 'string') {
    s = note;
    if (Buffer.byteLength(s, 'utf8') > MAX_NOTE_BYTES)
      throw new NoteError('malformed', `note is larger than ${MAX_NOTE_BYTES} bytes`);
  } else {
    if (note.length > MAX_NOTE_BYTES)
      throw new NoteError('malformed', `note is larger than ${MAX_NOTE_BYTES} bytes`);
    try {
      s = utf8.decode(note);
    } catch {
      throw new NoteError('malformed', 'note is not valid UTF-8');
    }
  }
  checkNoteChars(s, 'note');
  const split = s.lastIndexOf('\n\n');
  if (split < 0) throw new NoteError('malformed', 'note has no blank line before its signatures');
  const text = s.slice(0, split + 1);
  let sigs = s.slice(split + 2);
  if (sigs.length === 0 || !sigs.endsWith('\n'))
    throw new NoteError('malformed', 'note signatures must end with a newline');
  const message = Buffer.from(text, 'utf8');
  const verified: NoteSignature[] = [];
  const unknown: NoteSignature[] = [];
  const seen = new Set<string>();
  let count = 0;
  while (sigs.length > 0) {
    const nl = sigs.indexOf('\n');
    const line = sigs.slice(0, nl);
    sigs = sigs.slice(nl + 1);
    if (!line.startsWith(SIG_PREFIX))
      throw new NoteError('malformed', 'signature line must start with an em dash and a space');
    const rest = line.slice(SIG_PREFIX.length);
    const space = rest.indexOf(' ');
    const name = space < 0 ? rest : rest.slice(0, space);
    const b64 = space < 0 ? '' : rest.slice(space + 1);
    const blob = decodeBase64Strict(b64);
    if (!isValidKeyName(name) || blob === undefined || blob.length < 5)
      throw new NoteError('malformed', 'malformed signature line');
    if (++count > MAX_NOTE_SIGNATURES)
      throw new NoteError('malformed', `more than ${MAX_NOTE_SIGNATURES} signatures`);
    const keyId = Buffer.from(blob.buffer, blob.byteOffset, 4).readUInt32BE(0);
    const sig: NoteSignature = { name, keyId, base64: b64 };
    const v = verifiers.find((k) => k.name === name && k.keyId === keyId);
    const key = `${name}/${keyId}`;
    if (v === undefined) {
      unknown.push(sig);
      continue;
    }
    if (seen.has(key)) continue; // a repeated signature by one key counts once
    seen.add(key);
    if (!v.verify(message, blob.subarray(4))) {
      throw new NoteError('invalid-signature', `signature by ${name}+${hex8(keyId)} does not verify`);
    }
    verified.push(sig);
  }
  if (verified.length === 0) throw new NoteError('unverified', 'note is not signed by any trusted key');
  return { text, verified, unknown };
}
