/**
 * Per-account back-off against password guessing that does not lock the real user out.
 *
 * Failures are counted per (username, client address). After FREE_ATTEMPTS failures each further
 * attempt from that address must wait 1 s, 2 s, 4 s … capped at MAX_DELAY_S, so an attacker is
 * slowed to a crawl while the real user, coming from another address, is not affected at all, and
 * from the same address waits at most a minute. A success clears the count. Per-IP request
 * limits on the login route (HTTP layer) bound the attempts spread across many usernames.
 */
export const FREE_ATTEMPTS = 5;
export const MAX_DELAY_S = 60;
const FORGET_AFTER_MS = 15 * 60_000;
const MAX_TRACKED = 100_000;

interface Entry {
  failures: number;
  last: number;
}

export class LoginGuard {
  readonly #entries = new Map<string, Entry>();
  readonly #now: () => number;

  constructor(now: () => number = Date.now) {
    this.#now = now;
  }

  #key(username: string, address: string): string {
    return `${username.toLowerCase()}\u0000${address}`;
  }

  /** Seconds the caller must still wait before another attempt, 0 when allowed now. */
  retryAfter(username: string, address: string): number {
    const e = this.#entries.get(this.#key(username, address));
    if (!e || e.failures < FREE_ATTEMPTS) return 0;
    const now = this.#now();
    if (now - e.last > FORGET_AFTER_MS) return 0;
    const delayS = Math.min(MAX_DELAY_S, 2 ** (e.failures - FREE_ATTEMPTS));
    const waitMs = e.last + delayS * 1000 - now;
    return waitMs > 0 ? waitMs / 1000 : 0;
  }

  failure(username: string, address: string): void {
    const key = this.#key(username, address);
    const now = this.#now();
    const e = this.#entries.get(key);
    if (!e || now - e.last > FORGET_AFTER_MS) {
      if (this.#entries.size >= MAX_TRACKED) this.#evictOld(now);
      this.#entries.set(key, { failures: 1, last: now });
    } else {
      e.failures++;
      e.last = now;
    }
  }

  success(username: string, address: string): void {
    this.#entries.delete(this.#key(username, address));
  }

  #evictOld(now: number): void {
    for (const [k, e] of this.#entries) if (now - e.last > FORGET_AFTER_MS) this.#entries.delete(k);
    if (this.#entries.size >= MAX_TRACKED) this.#entries.clear();
  }
}
