/**
 * Access tokens: short-lived JWTs (RFC 9068 `at+jwt`) signed with Ed25519. Verification allows
 * exactly one algorithm (EdDSA) and checks issuer, audience, type and lifetime, so `alg: none`,
 * HS256 signed with our public key (algorithm confusion), another audience or a tampered claim
 * are all refused.
 *
 * A verified token is cached until it expires: verifying Ed25519 on every request would be the
 * largest cost of an authenticated API call, and the cache key is the whole token, so a changed
 * byte misses the cache and is verified (and refused) in full.
 */
import { errors, jwtVerify, SignJWT } from 'jose';
import type { Role } from '../store/schema.ts';
import type { SigningKey } from './keys.ts';

export const ROLES: readonly Role[] = ['patient', 'clinician', 'auditor', 'admin'];
export const TOKEN_TYPE = 'at+jwt';

export interface AccessClaims {
  sub: string;
  sid: string;
  role: Role;
  username: string;
  /** For patients: their patient record. */
  pid?: string | undefined;
  exp: number;
}

export class TokenError extends Error {
  override name = 'TokenError';
}

export interface TokenServiceOptions {
  key: SigningKey;
  issuer: string;
  audience: string;
  ttlSec: number;
  cacheSize?: number;
}

export class TokenService {
  readonly #opts: TokenServiceOptions;
  readonly #cache = new Map<string, AccessClaims>();
  readonly #cacheSize: number;

  constructor(opts: TokenServiceOptions) {
    this.#opts = opts;
    this.#cacheSize = opts.cacheSize ?? 50_000;
  }

  get audience(): string {
    return this.#opts.audience;
  }
  get issuer(): string {
    return this.#opts.issuer;
  }

  async issue(c: Omit<AccessClaims, 'exp'>): Promise<{ token: string; expiresAt: number }> {
    const nowMs = Date.now();
    const now = Math.floor(nowMs / 1000);
    // JWT times are whole seconds: rounding the expiry up means a token lives at least its TTL
    // (rounding down gave a 1 s token issued late in a second only milliseconds of life).
    const exp = Math.ceil(nowMs / 1000 + this.#opts.ttlSec);
    const token = await new SignJWT({
      sid: c.sid,
      role: c.role,
      username: c.username,
      ...(c.pid ? { pid: c.pid } : {}),
    })
      .setProtectedHeader({ alg: 'EdDSA', typ: TOKEN_TYPE, kid: this.#opts.key.kid })
      .setSubject(c.sub)
      .setIssuer(this.#opts.issuer)
      .setAudience(this.#opts.audience)
      .setIssuedAt(now)
      .setExpirationTime(exp)
      .setJti(crypto.randomUUID())
      .sign(this.#opts.key.privateKey);
    return { token, expiresAt: exp * 1000 };
  }

  /** The claims of a token verified before and not yet expired, without any crypto; else undefined. */
  peek(token: string): AccessClaims | undefined {
    const cached = this.#cache.get(token);
    return cached && cached.exp * 1000 > Date.now() ? cached : undefined;
  }

  async verify(token: string): Promise<AccessClaims> {
    const cached = this.#cache.get(token);
    if (cached) {
      if (cached.exp * 1000 > Date.now()) return cached;
      this.#cache.delete(token);
      throw new TokenError('token expired');
    }
    let payload: Record<string, unknown>;
    try {
      ({ payload } = await jwtVerify(token, this.#opts.key.publicKey, {
        algorithms: ['EdDSA'],
        issuer: this.#opts.issuer,
        audience: this.#opts.audience,
        typ: TOKEN_TYPE,
        requiredClaims: ['sub', 'sid', 'role', 'exp', 'iat'],
      }));
    } catch (err) {
      if (err instanceof errors.JWTExpired) throw new TokenError('token expired');
      if (err instanceof errors.JOSEError) throw new TokenError(`invalid token: ${err.code}`);
      throw new TokenError('invalid token');
    }
    const role = payload.role as Role;
    if (!ROLES.includes(role)) throw new TokenError('invalid token: unknown role');
    if (typeof payload.sid !== 'string' || typeof payload.sub !== 'string')
      throw new TokenError('invalid token');
    const claims: AccessClaims = {
      sub: payload.sub,
      sid: payload.sid,
      role,
      username: String(payload.username ?? ''),
      pid: typeof payload.pid === 'string' ? payload.pid : undefined,
      exp: Number(payload.exp),
    };
    if (this.#cache.size >= this.#cacheSize) {
      // Drop the oldest entry (Map keeps insertion order): bounded memory under token churn.
      const first = this.#cache.keys().next().value;
      if (first !== undefined) this.#cache.delete(first);
    }
    this.#cache.set(token, claims);
    return claims;
  }
}
