/**
 * Device HMAC keys at rest. The server must hold each device's key itself (an HMAC is verified by
 * recomputing it), so the key cannot be stored as a one-way hash like a password. Instead it is
 * encrypted with AES-256-GCM under a key-encryption key (KEK) kept in the data folder
 * (`keys/device-kek.key`, mode 0600, generated on first use, never in the database). A copy of the
 * database alone (a backup, a PostgreSQL dump, a replica) therefore reveals no device key. The
 * device id is the GCM associated data, so a ciphertext copied onto another device's row fails to
 * decrypt instead of lending that device its key. Several nodes share one KEK file, as they share
 * the token-signing key.
 */
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { keysDir } from '../auth/keys.ts';

const KEK_BYTES = 32;
const IV_BYTES = 12;
const TAG_BYTES = 16;
/** Keys handed to devices are 32 random bytes (the datagram codec requires at least 16). */
export const DEVICE_KEY_BYTES = 32;

export class DeviceKeyError extends Error {
  override name = 'DeviceKeyError';
}

export function loadOrCreateKek(dataDir: string): Buffer {
  const file = path.join(keysDir(dataDir), 'device-kek.key');
  if (!existsSync(file)) {
    try {
      // 'wx': if another process created it meanwhile, keep theirs rather than overwrite it.
      writeFileSync(file, randomBytes(KEK_BYTES).toString('base64url'), { mode: 0o600, flag: 'wx' });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
  }
  const kek = Buffer.from(readFileSync(file, 'utf8').trim(), 'base64url');
  if (kek.byteLength !== KEK_BYTES) throw new DeviceKeyError(`${file} does not hold a 32-byte key`);
  return kek;
}

function aad(deviceId: string): Buffer {
  return Buffer.from(`carewire-device-key/1|${deviceId}`, 'utf8');
}

export function sealDeviceKey(kek: Buffer, deviceId: string, key: Uint8Array): string {
  const iv = randomBytes(IV_BYTES);
  const c = createCipheriv('aes-256-gcm', kek, iv);
  c.setAAD(aad(deviceId));
  const body = Buffer.concat([c.update(key), c.final(), c.getAuthTag()]);
  return `v1.${iv.toString('base64url')}.${body.toString('base64url')}`;
}

export function openDeviceKey(kek: Buffer, deviceId: string, sealed: string): Buffer {
  const [v, ivText, bodyText] = sealed.split('.');
  if (v !== 'v1' || !ivText || !bodyText) throw new DeviceKeyError(`device ${deviceId}: unknown key format`);
  const iv = Buffer.from(ivText, 'base64url');
  const body = Buffer.from(bodyText, 'base64url');
  if (iv.byteLength !== IV_BYTES || body.byteLength <= TAG_BYTES)
    throw new DeviceKeyError(`device ${deviceId}: malformed key`);
  const d = createDecipheriv('aes-256-gcm', kek, iv);
  d.setAAD(aad(deviceId));
  d.setAuthTag(body.subarray(body.byteLength - TAG_BYTES));
  try {
    return Buffer.concat([d.update(body.subarray(0, body.byteLength - TAG_BYTES)), d.final()]);
  } catch {
    throw new DeviceKeyError(`device ${deviceId}: key does not decrypt (wrong key-encryption key?)`);
  }
}
