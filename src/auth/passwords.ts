/**
 * Password hashing with argon2id. Parameters are OWASP's recommended minimum for argon2id
 * (19 MiB memory, 2 iterations, 1 lane): ~30 ms on this class of machine, which keeps login
 * latency low while making offline guessing expensive. Stored hashes carry their parameters, so
 * raising them later rehashes each account at its next login.
 */
import argon2 from 'argon2';

export const ARGON2_PARAMS = {
  type: argon2.argon2id,
  memoryCost: 19 * 1024,
  timeCost: 2,
  parallelism: 1,
} as const;

export const PASSWORD_MIN = 10;
/** argon2 takes any length; bounding it stops a multi-megabyte "password" from costing CPU. */
export const PASSWORD_MAX = 256;

export function passwordProblem(pw: string): string | undefined {
  if (pw.length < PASSWORD_MIN) return `password must be at least ${PASSWORD_MIN} characters`;
  if (pw.length > PASSWORD_MAX) return `password must be at most ${PASSWORD_MAX} characters`;
  return undefined;
}

export function hashPassword(pw: string): Promise<string> {
  return argon2.hash(pw, ARGON2_PARAMS);
}

export async function verifyPassword(hash: string, pw: string): Promise<boolean> {
  try {
    return await argon2.verify(hash, pw);
  } catch {
    return false; // a malformed stored hash is a failed login, not a crash
  }
}

export function needsRehash(hash: string): boolean {
  return argon2.needsRehash(hash, ARGON2_PARAMS);
}

let dummy: Promise<string> | undefined;
/**
 * Unknown usernames still pay for one verification against a throwaway hash, so response time
 * does not reveal which usernames exist.
 */
export async function burnVerification(pw: string): Promise<void> {
  dummy ??= hashPassword('carewire-dummy-password');
  await verifyPassword(await dummy, pw);
}
