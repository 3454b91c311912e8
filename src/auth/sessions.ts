/**
 * Login sessions and refresh-token rotation with reuse detection (OAuth 2.0 Security BCP §4.14).
 *
 * A refresh token is `<session id>.<secret>`; the session row stores only SHA-256 of the current
 * secret. Each refresh replaces the secret. Presenting a secret that is no longer current means
 * the token was copied: the whole session is revoked, so both the thief and the user must log in
 * again. Logout revokes the session; its access tokens stop working at once on this node, on other
 * nodes as soon as the bus delivers `session.revoked`, and at the latest after REVOCATION_RECHECK_MS
 * (each node re-reads a session's row when its cached state ages out), should a message be lost.
 */
import { createHash, randomBytes, randomUUID, timingSafeEqual } from 'node:crypto';
import type { Bus } from '../bus/bus.ts';
import type { Db } from '../store/db.ts';

export const REVOCATION_RECHECK_MS = 5_000;
export const REVOKED_TOPIC = 'session.revoked';

export class RefreshError extends Error {
  override name = 'RefreshError';
  readonly reused: boolean;
  readonly sessionId: string | undefined;
  readonly userId: string | undefined;
  constructor(message: string, reused = false, sessionId?: string, userId?: string) {
    super(message);
    this.reused = reused;
    this.sessionId = sessionId;
    this.userId = userId;
  }
}

function sha256(s: string): string {
  return createHash('sha256').update(s).digest('base64url');
}

function newSecret(): string {
  return randomBytes(32).toString('base64url');
}

export interface SessionInfo {
  sessionId: string;
  userId: string;
  refreshToken: string;
  expiresAt: number;
}

export class SessionService {
  readonly #db: Db;
  readonly #ttlMs: number;
  readonly #active = new Map<string, { active: boolean; checkedAt: number }>();

  readonly #bus: Bus | undefined;

  constructor(db: Db, ttlSec: number, bus?: Bus) {
    this.#db = db;
    this.#ttlMs = ttlSec * 1000;
    this.#bus = bus;
  }

  /** Listens for revocations made on other nodes. */
  async listen(): Promise<void> {
    await this.#bus?.subscribe<{ sessionId: string }>(REVOKED_TOPIC, (m) => {
      if (typeof m?.sessionId === 'string')
        this.#active.set(m.sessionId, { active: false, checkedAt: Date.now() });
    });
  }

  async create(userId: string, meta: { address?: string; userAgent?: string } = {}): Promise<SessionInfo> {
    const id = randomUUID();
    const secret = newSecret();
    const now = Date.now();
    const expiresAt = now + this.#ttlMs;
    await this.#db
      .insertInto('sessions')
      .values({
        id,
        user_id: userId,
        refresh_hash: sha256(secret),
        generation: 1,
        created_at: now,
        expires_at: expiresAt,
        revoked_at: null,
        revoked_reason: null,
        address: meta.address ?? null,
        user_agent: meta.userAgent?.slice(0, 200) ?? null,
      })
      .execute();
    this.#active.set(id, { active: true, checkedAt: now });
    return { sessionId: id, userId, refreshToken: `${id}.${secret}`, expiresAt };
  }

  /** Exchanges a refresh token for a new one. Throws RefreshError (with `reused` set on theft). */
  async rotate(refreshToken: string): Promise<SessionInfo> {
    const dot = refreshToken.indexOf('.');
    if (dot <= 0 || refreshToken.length > 200) throw new RefreshError('malformed refresh token');
    const id = refreshToken.slice(0, dot);
    const presented = sha256(refreshToken.slice(dot + 1));
    const row = await this.#db.selectFrom('sessions').selectAll().where('id', '=', id).executeTakeFirst();
    if (!row) throw new RefreshError('unknown session');
    if (row.revoked_at !== null) throw new RefreshError('session revoked', false, id, row.user_id);
    if (row.expires_at <= Date.now()) throw new RefreshError('session expired', false, id, row.user_id);
    if (!timingSafeEqual(Buffer.from(presented), Buffer.from(row.refresh_hash))) {
      await this.revoke(id, 'refresh-token-reuse');
      throw new RefreshError('refresh token reused: session revoked', true, id, row.user_id);
    }
    const secret = newSecret();
    // Compare-and-swap on the old hash: two concurrent refreshes with the same token cannot both win.
    const res = await this.#db
      .updateTable('sessions')
      .set({ refresh_hash: sha256(secret), generation: row.generation + 1 })
      .where('id', '=', id)
      .where('refresh_hash', '=', row.refresh_hash)
      .where('revoked_at', 'is', null)
      .executeTakeFirst();
    if (Number(res.numUpdatedRows) !== 1) {
      await this.revoke(id, 'refresh-token-reuse');
      throw new RefreshError('refresh token reused: session revoked', true, id, row.user_id);
    }
    return { sessionId: id, userId: row.user_id, refreshToken: `${id}.${secret}`, expiresAt: row.expires_at };
  }

  async revoke(sessionId: string, reason: string): Promise<void> {
    await this.#db
      .updateTable('sessions')
      .set({ revoked_at: Date.now(), revoked_reason: reason })
      .where('id', '=', sessionId)
      .where('revoked_at', 'is', null)
      .execute();
    this.#active.set(sessionId, { active: false, checkedAt: Date.now() });
    await this.#bus?.publish(REVOKED_TOPIC, { sessionId });
  }

  async revokeAllForUser(userId: string, reason: string): Promise<void> {
    const rows = await this.#db
      .selectFrom('sessions')
      .select('id')
      .where('user_id', '=', userId)
      .where('revoked_at', 'is', null)
      .execute();
    for (const r of rows) await this.revoke(r.id, reason);
  }

  /** The cached answer of isActive when it is still fresh, else undefined (ask isActive). */
  peekActive(sessionId: string): boolean | undefined {
    const hit = this.#active.get(sessionId);
    if (!hit) return undefined;
    return !hit.active || Date.now() - hit.checkedAt < REVOCATION_RECHECK_MS ? hit.active : undefined;
  }

  /** Whether access tokens of this session are still honoured (cached; see file comment). */
  async isActive(sessionId: string): Promise<boolean> {
    const now = Date.now();
    const hit = this.#active.get(sessionId);
    if (hit && (!hit.active || now - hit.checkedAt < REVOCATION_RECHECK_MS)) return hit.active;
    const row = await this.#db
      .selectFrom('sessions')
      .select(['revoked_at', 'expires_at'])
      .where('id', '=', sessionId)
      .executeTakeFirst();
    const active = !!row && row.revoked_at === null && row.expires_at > now;
    if (this.#active.size > 100_000) this.#active.clear();
    this.#active.set(sessionId, { active, checkedAt: now });
    return active;
  }
}
