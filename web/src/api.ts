/**
 * HTTP calls from the browser. The session is in HttpOnly cookies the script never sees. An
 * expired access token is renewed once with the refresh cookie; tabs serialise that renewal with
 * a Web Lock, because the refresh token rotates and two tabs presenting the same one would end
 * the session (reuse detection).
 */

export class HttpError extends Error {
  readonly status: number;
  constructor(status: number, message: string) {
    super(message);
    this.status = status;
  }
}

async function raw(path: string, init: RequestInit = {}): Promise<Response> {
  const headers: Record<string, string> = { accept: 'application/json' };
  if (init.body !== undefined) headers['content-type'] = 'application/json';
  return fetch(path, { credentials: 'same-origin', ...init, headers });
}

async function parse<T>(res: Response): Promise<T> {
  if (res.status === 204) return undefined as T;
  const body = (await res.json().catch(() => null)) as (T & { detail?: string }) | null;
  if (!res.ok) throw new HttpError(res.status, body?.detail ?? res.statusText);
  return body as T;
}

export type Renewal = 'ok' | 'signed-out' | 'unreachable';
let renewing: Promise<Renewal> | undefined;

/**
 * Renews the access cookie. `unreachable` (server down or restarting) is not `signed-out`: the
 * caller retries rather than sending the user to the login page.
 */
export function renewSession(): Promise<Renewal> {
  renewing ??= (async (): Promise<Renewal> => {
    const run = async (): Promise<Renewal> => {
      try {
        // Another tab may have renewed while this one waited for the lock.
        if ((await raw('/api/me')).ok) return 'ok';
        const r = await raw('/api/auth/refresh', { method: 'POST' });
        if (r.ok) return 'ok';
        return r.status >= 500 || r.status === 429 ? 'unreachable' : 'signed-out';
      } catch {
        return 'unreachable';
      }
    };
    try {
      return navigator.locks ? await navigator.locks.request('carewire-refresh', run) : await run();
    } finally {
      renewing = undefined;
    }
  })();
  return renewing;
}

export function toLogin(): void {
  const next = `${location.pathname}${location.hash}`;
  location.assign(`/login.html?next=${encodeURIComponent(next)}`);
}

/** JSON API call; renews the session once on 401, then sends the user to the login page. */
export async function api<T>(path: string, init: RequestInit = {}): Promise<T> {
  let res = await raw(path, init);
  if (res.status === 401 && (await renewSession()) === 'ok') res = await raw(path, init);
  if (res.status === 401) {
    toLogin();
    throw new HttpError(401, 'signed out');
  }
  return parse<T>(res);
}

export async function login(username: string, password: string): Promise<void> {
  await parse(await raw('/api/auth/login', { method: 'POST', body: JSON.stringify({ username, password }) }));
}

export async function logout(): Promise<void> {
  await raw('/api/auth/logout', { method: 'POST' }).catch(() => undefined);
}

export interface Me {
  id: string;
  username: string;
  role: 'patient' | 'clinician' | 'auditor' | 'admin';
  patientId: string | null;
}
