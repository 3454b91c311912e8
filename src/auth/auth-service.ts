/**
 * Login, refresh, logout and request authentication, each audited. This is the only code that
 * turns a password or a token into an Actor.
 */
import type { AuditEvent } from '../audit/log.ts';
import { tooManyRequests, unauthorized } from '../errors.ts';
import type { LoginGuard } from './login-guard.ts';
import { burnVerification, hashPassword, needsRehash, PASSWORD_MAX, verifyPassword } from './passwords.ts';
import type { Actor } from './policy.ts';
import { RefreshError, type SessionService } from './sessions.ts';
import { type AccessClaims, TokenError, type TokenService } from './tokens.ts';
import { toUser, type User, type UserService } from './users.ts';

function toActor(claims: AccessClaims, address: string | undefined): Actor {
  return {
    userId: claims.sub,
    username: claims.username,
    role: claims.role,
    patientId: claims.pid ?? null,
    sessionId: claims.sid,
    address,
  };
}

export interface AuditSink {
  append(e: AuditEvent): Promise<unknown>;
}

export interface RequestContext {
  address?: string | undefined;
  userAgent?: string | undefined;
  source?: string | undefined;
}

export interface IssuedTokens {
  accessToken: string;
  accessExpiresAt: number;
  refreshToken: string;
  refreshExpiresAt: number;
  user: User;
}

export class AuthService {
  readonly #users: UserService;
  readonly #sessions: SessionService;
  readonly #tokens: TokenService;
  readonly #guard: LoginGuard;
  readonly #audit: AuditSink;

  constructor(deps: {
    users: UserService;
    sessions: SessionService;
    tokens: TokenService;
    guard: LoginGuard;
    audit: AuditSink;
  }) {
    this.#users = deps.users;
    this.#sessions = deps.sessions;
    this.#tokens = deps.tokens;
    this.#guard = deps.guard;
    this.#audit = deps.audit;
  }

  async login(username: string, password: string, ctx: RequestContext): Promise<IssuedTokens> {
    const address = ctx.address ?? 'unknown';
    const wait = this.#guard.retryAfter(username, address);
    const agent = { username: username.slice(0, 64), address };
    if (wait > 0) {
      await this.#record('auth.login', 4, agent, ctx, undefined, { reason: 'back-off' });
      throw tooManyRequests(
        'too many failed logins for this account from your address; try again shortly',
        wait,
      );
    }
    const row = password.length <= PASSWORD_MAX ? await this.#users.findByUsername(username) : undefined;
    let ok = false;
    if (row && row.disabled === 0) ok = await verifyPassword(row.password_hash, password);
    else await burnVerification(password.slice(0, PASSWORD_MAX));
    if (!row || !ok) {
      this.#guard.failure(username, address);
      await this.#record('auth.login', 4, { ...agent, userId: row?.id, role: row?.role }, ctx, undefined, {
        reason: row?.disabled ? 'account disabled' : 'bad credentials',
      });
      throw unauthorized('wrong username or password');
    }
    this.#guard.success(username, address);
    if (needsRehash(row.password_hash)) await this.#users.replaceHash(row.id, await hashPassword(password));
    const user = toUser(row);
    const session = await this.#sessions.create(user.id, { address, userAgent: ctx.userAgent });
    const issued = await this.#issue(user, session.sessionId, session.refreshToken, session.expiresAt);
    await this.#record(
      'auth.login',
      0,
      { userId: user.id, username: user.username, role: user.role, address },
      ctx,
      session.sessionId,
    );
    return issued;
  }

  async refresh(refreshToken: string, ctx: RequestContext): Promise<IssuedTokens> {
    try {
      const s = await this.#sessions.rotate(refreshToken);
      const user = await this.#users.get(s.userId);
      if (!user || user.disabled) {
        await this.#sessions.revoke(s.sessionId, 'user disabled');
        throw new RefreshError('account disabled');
      }
      const issued = await this.#issue(user, s.sessionId, s.refreshToken, s.expiresAt);
      const agent = { userId: user.id, username: user.username, role: user.role, address: ctx.address };
      await this.#record('auth.refresh', 0, agent, ctx, s.sessionId);
      return issued;
    } catch (err) {
      if (!(err instanceof RefreshError)) throw err;
      await this.#record(
        'auth.refresh',
        err.reused ? 8 : 4,
        { userId: err.userId, address: ctx.address },
        ctx,
        err.sessionId,
        {
          reason: err.message,
        },
      );
      throw unauthorized(err.message);
    }
  }

  async logout(actor: Actor, ctx: RequestContext): Promise<void> {
    if (actor.sessionId) await this.#sessions.revoke(actor.sessionId, 'logout');
    const agent = { userId: actor.userId, username: actor.username, role: actor.role, address: ctx.address };
    await this.#record('auth.logout', 0, agent, ctx, actor.sessionId);
  }

  /**
   * The fast path of `authenticate`: answers from the caches alone (a token verified before, a
   * session state checked within the last seconds) with no promise, or undefined when the slow
   * path must run. Most API calls take this path.
   */
  authenticateCached(token: string, address?: string): Actor | undefined {
    const claims = this.#tokens.peek(token);
    if (!claims) return undefined;
    const active = this.#sessions.peekActive(claims.sid);
    if (active === undefined) return undefined;
    if (!active) throw unauthorized('session ended; log in again');
    return toActor(claims, address);
  }

  /** Verifies an access token and that its session is still active. */
  async authenticate(token: string, address?: string): Promise<Actor> {
    let claims: AccessClaims;
    try {
      claims = await this.#tokens.verify(token);
    } catch (err) {
      if (err instanceof TokenError) throw unauthorized(err.message);
      throw err;
    }
    if (!(await this.#sessions.isActive(claims.sid))) throw unauthorized('session ended; log in again');
    return toActor(claims, address);
  }

  /** Every auth event is an audit entry of action E (execute) with the session as its entity. */
  #record(
    type: string,
    outcome: AuditEvent['outcome'],
    agent: AuditEvent['agent'],
    ctx: RequestContext,
    sessionId?: string,
    detail?: Record<string, unknown>,
  ): Promise<unknown> {
    return this.#audit.append({
      type,
      action: 'E',
      outcome,
      agent,
      source: ctx.source,
      entity: sessionId ? { type: 'session', id: sessionId } : undefined,
      detail,
    });
  }

  async #issue(
    user: User,
    sessionId: string,
    refreshToken: string,
    refreshExpiresAt: number,
  ): Promise<IssuedTokens> {
    const { token, expiresAt } = await this.#tokens.issue({
      sub: user.id,
      sid: sessionId,
      role: user.role,
      username: user.username,
      pid: user.patientId ?? undefined,
    });
    return { accessToken: token, accessExpiresAt: expiresAt, refreshToken, refreshExpiresAt, user };
  }
}
