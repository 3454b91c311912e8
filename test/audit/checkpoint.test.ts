import { generateKeyPairSync } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import {
  CheckpointError,
  ed25519KeyId,
  formatCheckpoint,
  formatVerifierKey,
  generateLogKey,
  leafHash,
  NoteError,
  openCheckpoint,
  openNote,
  parseCheckpointText,
  parseSignerKey,
  parseVerifierKey,
  signCheckpoint,
  signerFromPem,
  signNote,
  verifierFromPem,
} from '../../src/audit/merkle/index.ts';

// The example key and note of the Go reference implementation of signed notes,
// golang.org/x/mod/sumdb/note (note_test.go), also used by the C2SP signed-note ecosystem.
const GO_VKEY = 'PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW';
const GO_SKEY = 'PRIVATE+KEY+PeterNeumann+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz';
const GO_TEXT =
  "If you think cryptography is the answer to your problem,\nthen you don't know what your problem is.\n";
const GO_SIG =
  '\u2014 PeterNeumann x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=\n';
const GO_NOTE = `${GO_TEXT}\n${GO_SIG}`;

const ORIGIN = 'carewire.test/audit';
const ROOT = leafHash(Buffer.from('root'));

function codeOf(f: () => unknown): string | undefined {
  try {
    f();
    return undefined;
  } catch (e) {
    return e instanceof NoteError ? e.code : (e as Error).name;
  }
}

describe('signed notes: the Go reference vectors', () => {
  it('parses the reference verifier key and recomputes its key ID', () => {
    const v = parseVerifierKey(GO_VKEY);
    expect(v.name).toBe('PeterNeumann');
    expect(v.keyId).toBe(0xc74f20a3);
    expect(ed25519KeyId('PeterNeumann', v.publicKey)).toBe(0xc74f20a3);
    expect(formatVerifierKey('PeterNeumann', v.publicKey)).toBe(GO_VKEY);
  });

  it('signs the reference text byte for byte like the reference (Ed25519 is deterministic)', () => {
    const s = parseSignerKey(GO_SKEY);
    expect(signNote(GO_TEXT, [s])).toBe(GO_NOTE);
  });

  it('opens the reference note, and rejects it once its text is altered', () => {
    const v = parseVerifierKey(GO_VKEY);
    expect(openNote(GO_NOTE, [v]).text).toBe(GO_TEXT);
    expect(openNote(Buffer.from(GO_NOTE), [v]).verified).toEqual([
      { name: 'PeterNeumann', keyId: 0xc74f20a3, base64: GO_SIG.slice(15, -1) },
    ]);
    expect(codeOf(() => openNote(GO_NOTE.replace('cryptography', 'cryptographY'), [v]))).toBe(
      'invalid-signature',
    );
  });

  it('refuses every mangled form of the verifier key', () => {
    // As the reference test does: every proper substring and every single-byte change must fail.
    const b = Buffer.from(GO_VKEY);
    let accepted = 0;
    for (let i = 0; i <= b.length; i++) {
      for (let j = i + 1; j <= b.length; j++) {
        if (i === 0 && j === b.length) continue;
        if (codeOf(() => parseVerifierKey(b.subarray(i, j).toString())) === undefined) accepted++;
      }
    }
    for (let i = 0; i < b.length; i++) {
      const c = Buffer.from(b);
      c[i]! += 1;
      if (codeOf(() => parseVerifierKey(c.toString())) === undefined) accepted++;
    }
    expect(accepted).toBe(0);
    expect(() =>
      parseVerifierKey('PeterNeumann+cc469956+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW'),
    ).toThrow(/key ID does not match/);
    expect(() => parseSignerKey(GO_VKEY)).toThrow(/PRIVATE\+KEY/);
  });
});

describe('log keys', () => {
  it('generates one key in every form, all agreeing', () => {
    const k = generateLogKey(ORIGIN);
    expect(k.publicKey).toHaveLength(32);
    expect(k.seed).toHaveLength(32);
    expect(k.vkey).toMatch(/^carewire\.test\/audit\+[0-9a-f]{8}\+A[A-Za-z0-9+/]{43}$/);
    expect(k.privateKeyPem).toMatch(/^-----BEGIN PRIVATE KEY-----/);
    const fromPem = signerFromPem(ORIGIN, k.privateKeyPem);
    const fromSkey = parseSignerKey(k.skey);
    const verifier = parseVerifierKey(k.vkey);
    expect(fromPem.keyId).toBe(k.keyId);
    expect(fromSkey.keyId).toBe(k.keyId);
    expect(verifierFromPem(ORIGIN, k.publicKeyPem).keyId).toBe(k.keyId);
    // Signatures made from the PEM and from the skey both verify under the vkey.
    const note1 = signCheckpoint({ origin: ORIGIN, size: 3, root: ROOT }, fromPem);
    const note2 = signCheckpoint({ origin: ORIGIN, size: 3, root: ROOT }, fromSkey);
    expect(note1).toBe(note2);
    expect(openCheckpoint(note1, [verifier]).size).toBe(3);
  });

  it('refuses bad key names and non-Ed25519 keys', () => {
    expect(() => generateLogKey('has space')).toThrow(/invalid key name/);
    expect(() => generateLogKey('a+b')).toThrow(/invalid key name/);
    expect(() => generateLogKey('')).toThrow(/invalid key name/);
    const ec = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const ecPub = ec.publicKey.export({ format: 'pem', type: 'spki' }).toString();
    const ecPriv = ec.privateKey.export({ format: 'pem', type: 'pkcs8' }).toString();
    expect(() => verifierFromPem(ORIGIN, ecPub)).toThrow(/expected an Ed25519 key, got ec/);
    expect(() => signerFromPem(ORIGIN, ecPriv)).toThrow(/expected an Ed25519 key, got ec/);
  });
});

describe('checkpoints (C2SP tlog-checkpoint)', () => {
  const key = generateLogKey(ORIGIN);
  const signer = parseSignerKey(key.skey);
  const verifier = parseVerifierKey(key.vkey);

  it('has exactly the C2SP body and signature line layout', () => {
    const note = signCheckpoint({ origin: ORIGIN, size: 20852163, root: ROOT }, signer);
    const [body, sigs] = note.split('\n\n');
    expect(`${body}\n`).toBe(`${ORIGIN}\n20852163\n${Buffer.from(ROOT).toString('base64')}\n`);
    expect(sigs).toMatch(/^\u2014 carewire\.test\/audit [A-Za-z0-9+/]{91}=\n$/);
    // base64(4-byte key ID ‖ 64-byte signature) = 68 bytes, the key ID first.
    const blob = Buffer.from(sigs!.split(' ')[2]!, 'base64');
    expect(blob).toHaveLength(68);
    expect(blob.readUInt32BE(0)).toBe(key.keyId);
    const cp = openCheckpoint(note, [verifier], { origin: ORIGIN });
    expect(cp).toMatchObject({ origin: ORIGIN, size: 20852163, signedBy: [ORIGIN], note });
    expect(Buffer.compare(cp.root, ROOT)).toBe(0);
  });

  it('round-trips size 0 and extension lines', () => {
    const note = signCheckpoint({ origin: ORIGIN, size: 0, root: ROOT, extensions: ['ext one'] }, signer);
    expect(openCheckpoint(note, [verifier]).extensions).toEqual(['ext one']);
  });

  it('rejects a forged signature (any flipped bit) as invalid, not just unverified', () => {
    const note = signCheckpoint({ origin: ORIGIN, size: 7, root: ROOT }, signer);
    const sigStart = note.indexOf('\u2014 ');
    const b64 = note.slice(note.lastIndexOf(' ') + 1, -1);
    for (const at of [4, 20, 67]) {
      const blob = Buffer.from(b64, 'base64');
      blob[at]! ^= 1;
      const forged = `${note.slice(0, sigStart)}\u2014 ${ORIGIN} ${blob.toString('base64')}\n`;
      expect(codeOf(() => openCheckpoint(forged, [verifier]))).toBe('invalid-signature');
    }
  });

  it('rejects a checkpoint whose size or root was changed after signing', () => {
    const note = signCheckpoint({ origin: ORIGIN, size: 7, root: ROOT }, signer);
    expect(codeOf(() => openCheckpoint(note.replace('\n7\n', '\n8\n'), [verifier]))).toBe(
      'invalid-signature',
    );
    const other = Buffer.from(leafHash(Buffer.from('other'))).toString('base64');
    expect(
      codeOf(() => openCheckpoint(note.replace(Buffer.from(ROOT).toString('base64'), other), [verifier])),
    ).toBe('invalid-signature');
  });

  it('rejects a checkpoint signed by another key, even one claiming the same name', () => {
    const mallory = generateLogKey(ORIGIN);
    const note = signCheckpoint({ origin: ORIGIN, size: 7, root: ROOT }, parseSignerKey(mallory.skey));
    expect(codeOf(() => openCheckpoint(note, [verifier]))).toBe('unverified');
    // ...while an extra unknown signature (a witness) next to ours is ignored.
    const both = signCheckpoint({ origin: ORIGIN, size: 7, root: ROOT }, [
      parseSignerKey(generateLogKey('witness.example/w1').skey),
      signer,
    ]);
    const opened = openNote(both, [verifier]);
    expect(opened.verified.map((s) => s.name)).toEqual([ORIGIN]);
    expect(opened.unknown.map((s) => s.name)).toEqual(['witness.example/w1']);
  });

  it('rejects a checkpoint for another log', () => {
    const note = signCheckpoint({ origin: 'other.example/log', size: 1, root: ROOT }, signer);
    expect(() => openCheckpoint(note, [verifier], { origin: ORIGIN })).toThrow(CheckpointError);
    expect(() => openCheckpoint(note, [verifier], { origin: ORIGIN })).toThrow(
      /expected "carewire.test\/audit"/,
    );
  });

  it('rejects malformed notes with a malformed error', () => {
    const note = signCheckpoint({ origin: ORIGIN, size: 7, root: ROOT }, signer);
    const sigLine = note.slice(note.indexOf('\u2014'));
    const body = note.slice(0, note.indexOf('\n\n') + 1);
    const cases: Array<[string, string]> = [
      ['no blank line', note.replace('\n\n', '\n')],
      ['no final newline', note.slice(0, -1)],
      ['ASCII dashes', note.replace('\u2014', '--')],
      ['tab in text', note.replace(ORIGIN, `${ORIGIN}\t`)],
      ['carriage return', note.replace('\n7\n', '\r\n7\n')],
      ['bad base64', note.replace(/ ([A-Za-z0-9+/]{10})/, ' $1!')],
      ['unpadded base64', note.replace(/=\n$/, '\n')],
      ['signature too short', `${body}\n\u2014 ${ORIGIN} AAAA\n`],
      ['name with space', `${body}\n\u2014 a b ${sigLine.split(' ')[2]}`],
      ['empty', ''],
      ['lone surrogate', note.replace(ORIGIN, `${ORIGIN}\ud800`)],
      ['too many signatures', `${body}\n${sigLine.repeat(101)}`],
    ];
    for (const [name, bad] of cases)
      expect(
        codeOf(() => openNote(bad, [verifier])),
        name,
      ).toBe('malformed');
    expect(codeOf(() => openNote(Buffer.from([0x61, 0x0a, 0x0a, 0xff, 0x0a]), [verifier]))).toBe('malformed');
    // Repeating our own signature line is harmless (counted once), below the cap.
    expect(openNote(`${body}\n${sigLine.repeat(3)}`, [verifier]).verified).toHaveLength(1);
  });

  it('rejects malformed checkpoint bodies even when validly signed', () => {
    const signed = (text: string) => signNote(text, [signer]);
    const b64 = Buffer.from(ROOT).toString('base64');
    const cases: Array<[string, string, RegExp]> = [
      ['two lines', `${ORIGIN}\n7\n`, /origin, size and root/],
      ['leading zero', `${ORIGIN}\n07\n${b64}\n`, /canonical decimal/],
      ['negative', `${ORIGIN}\n-7\n${b64}\n`, /canonical decimal/],
      ['huge size', `${ORIGIN}\n99999999999999999\n${b64}\n`, /canonical decimal/],
      ['short root', `${ORIGIN}\n7\n${Buffer.alloc(31).toString('base64')}\n`, /base64 SHA-256/],
      ['hex root', `${ORIGIN}\n7\n${Buffer.from(ROOT).toString('hex')}\n`, /base64 SHA-256/],
      ['empty origin', `\n7\n${b64}\n`, /origin/],
      ['empty extension', `${ORIGIN}\n7\n${b64}\n\nx\n`, /origin|extension/],
    ];
    for (const [name, text, msg] of cases) {
      expect(() => openCheckpoint(signed(text), [verifier]), name).toThrow(msg);
    }
    expect(() => parseCheckpointText(`${ORIGIN}\n7\n${b64}`)).toThrow(/end with a newline/);
    expect(() => formatCheckpoint({ origin: ORIGIN, size: -1, root: ROOT })).toThrow(/invalid tree size/);
    expect(() => formatCheckpoint({ origin: 'a\nb', size: 1, root: ROOT })).toThrow(/origin/);
    expect(() => formatCheckpoint({ origin: ORIGIN, size: 1, root: ROOT.subarray(1) })).toThrow(/32 bytes/);
  });
});
