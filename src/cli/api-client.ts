/**
 * A small HTTPS/HTTP client for the CareWire API, used by `carewire client` and
 * `carewire audit verify --server`. Over https it insists on TLS 1.3 and trusts either the system
 * roots or, with `ca`, exactly the given certificate(s) (the server's `--tls` self-signed one).
 * Tokens live in memory only; an expired access token is refreshed once with the refresh token.
 */
import http from 'node:http';
import https from 'node:https';
import type { TLSSocket } from 'node:tls';

export class ApiError extends Error {
  override readonly name = 'ApiError';
  readonly status: number;
  constructor(status: number, message: string) {
    super(message);
    this.status = status;
  }
}

export interface Me {
  id: string;
  username: string;
  role: string;
  patientId: string | null;
}

const MAX_RESPONSE = 64 * 1024 * 1024;

export class ApiClient {
  readonly base: URL;
  readonly #agent: http.Agent;
  #access: string | undefined;
  #refresh: string | undefined;
  /** The TLS version negotiated on the last https request (e.g. TLSv1.3). */
  tlsProtocol: string | undefined;

  constructor(base: string, opts: { ca?: string | Buffer | undefined } = {}) {
    this.base = new URL(base);
    if (this.base.protocol === 'https:') {
      this.#agent = new https.Agent({
        keepAlive: true,
        minVersion: 'TLSv1.3',
        ...(opts.ca ? { ca: opts.ca } : {}),
      });
    } else if (this.base.protocol === 'http:') {
      this.#agent = new http.Agent({ keepAlive: true });
    } else {
      throw new Error(`--server must be an http:// or https:// URL, got ${base}`);
    }
  }

  async login(username: string, password: string): Promise<Me> {
    const t = (await this.#send('POST', '/api/auth/login', { username, password }, false)) as {
      accessToken: string;
      refreshToken: string;
    };
    this.#access = t.accessToken;
    this.#refresh = t.refreshToken;
    return (await this.get('/api/me')) as Me;
  }

  async logout(): Promise<void> {
    if (this.#access) await this.#send('POST', '/api/auth/logout', undefined, true).catch(() => undefined);
    this.#access = undefined;
    this.#refresh = undefined;
  }

  get(path: string): Promise<unknown> {
    return this.request('GET', path);
  }

  async request(method: string, path: string, body?: unknown): Promise<unknown> {
    try {
      return await this.#send(method, path, body, true);
    } catch (err) {
      if (!(err instanceof ApiError) || err.status !== 401 || !this.#refresh) throw err;
      const t = (await this.#send('POST', '/api/auth/refresh', { refreshToken: this.#refresh }, false)) as {
        accessToken: string;
        refreshToken: string;
      };
      this.#access = t.accessToken;
      this.#refresh = t.refreshToken;
      return this.#send(method, path, body, true);
    }
  }

  close(): void {
    this.#agent.destroy();
  }

  #send(method: string, path: string, body: unknown, withToken: boolean): Promise<unknown> {
    const url = new URL(path, this.base);
    const payload = body === undefined ? undefined : Buffer.from(JSON.stringify(body));
    const headers: Record<string, string> = { accept: 'application/json' };
    if (payload) {
      headers['content-type'] = 'application/json';
      headers['content-length'] = String(payload.length);
    }
    if (withToken && this.#access) headers.authorization = `Bearer ${this.#access}`;
    const mod = url.protocol === 'https:' ? https : http;
    return new Promise((resolve, reject) => {
      const req = mod.request(url, { method, headers, agent: this.#agent, timeout: 120_000 }, (res) => {
        const sock = res.socket as Partial<TLSSocket>;
        if (typeof sock.getProtocol === 'function') this.tlsProtocol = sock.getProtocol() ?? undefined;
        const chunks: Buffer[] = [];
        let size = 0;
        res.on('data', (c: Buffer) => {
          size += c.length;
          if (size > MAX_RESPONSE) req.destroy(new Error('response too large'));
          else chunks.push(c);
        });
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          let json: unknown = null;
          try {
            json = text ? JSON.parse(text) : null;
          } catch {
            json = text;
          }
          const status = res.statusCode ?? 0;
          if (status >= 400) {
            const detail = (json as { detail?: string } | null)?.detail ?? `HTTP ${status}`;
            reject(new ApiError(status, detail));
          } else resolve(json);
        });
        res.on('error', reject);
      });
      req.on('timeout', () => req.destroy(new Error(`no answer from ${url.origin} in 120 s`)));
      req.on('error', reject);
      req.end(payload);
    });
  }
}
