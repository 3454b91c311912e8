/**
 * A small FHIR R4 HTTP client for pushing to any FHIR server (CareWire, HAPI, …): JSON in and out,
 * Bearer authentication, and retries of what is worth retrying (429, 5xx, network errors) with
 * exponential back-off and full jitter, honouring Retry-After (seconds or an HTTP date). Other
 * errors are raised with the server's OperationOutcome, so the caller can report it.
 */
import type { Bundle, OperationOutcome } from '@medplum/fhirtypes';
import { FHIR_JSON } from './constants.ts';

export interface FhirClientOptions {
  /** Base URL of the FHIR server, e.g. https://hapi.fhir.org/baseR4. */
  baseUrl: string;
  token?: string | undefined;
  /** Attempts per request, the first included (default 6). */
  maxAttempts?: number | undefined;
  /** First back-off step (default 500 ms); doubles per attempt. */
  baseDelayMs?: number | undefined;
  /** Longest wait between attempts, Retry-After included (default 60 s). */
  maxDelayMs?: number | undefined;
  /** Per-attempt timeout (default 120 s). */
  timeoutMs?: number | undefined;
  /** Told before each wait, for progress output. */
  onRetry?: ((info: { attempt: number; delayMs: number; reason: string }) => void) | undefined;
  /** Injected in tests; default setTimeout-based sleep. */
  sleep?: ((ms: number) => Promise<void>) | undefined;
}

export class FhirHttpError extends Error {
  override name = 'FhirHttpError';
  readonly status: number;
  readonly outcome: OperationOutcome | undefined;
  constructor(status: number, message: string, outcome?: OperationOutcome) {
    super(message);
    this.status = status;
    this.outcome = outcome;
  }
}

/** The diagnostics of an OperationOutcome as one line. */
export function outcomeText(o: OperationOutcome | undefined): string {
  if (!o?.issue?.length) return '';
  return o.issue
    .map((i) => [i.severity, i.code, i.diagnostics ?? i.details?.text].filter(Boolean).join(' '))
    .join('; ');
}

/** Milliseconds a Retry-After header asks for, or undefined if absent or unreadable. */
export function retryAfterMs(value: string | null, now = Date.now()): number | undefined {
  if (!value) return undefined;
  if (/^\d+$/.test(value.trim())) return Number(value.trim()) * 1000;
  const at = Date.parse(value);
  return Number.isFinite(at) ? Math.max(0, at - now) : undefined;
}

const RETRY_STATUS = (s: number) => s === 429 || s === 408 || s >= 500;

export class FhirClient {
  readonly baseUrl: string;
  readonly #o: Required<Omit<FhirClientOptions, 'token' | 'onRetry'>> &
    Pick<FhirClientOptions, 'token' | 'onRetry'>;

  constructor(o: FhirClientOptions) {
    this.baseUrl = o.baseUrl.replace(/\/+$/, '');
    this.#o = {
      baseUrl: this.baseUrl,
      token: o.token,
      maxAttempts: o.maxAttempts ?? 6,
      baseDelayMs: o.baseDelayMs ?? 500,
      maxDelayMs: o.maxDelayMs ?? 60_000,
      timeoutMs: o.timeoutMs ?? 120_000,
      onRetry: o.onRetry,
      sleep: o.sleep ?? ((ms) => new Promise((r) => setTimeout(r, ms))),
    };
  }

  /** Sends a request; resolves with the parsed body of a 2xx answer. */
  async request<T>(
    method: string,
    path: string,
    body?: unknown,
  ): Promise<{ status: number; body: T | undefined }> {
    const o = this.#o;
    const headers: Record<string, string> = { accept: FHIR_JSON };
    if (o.token) headers.authorization = `Bearer ${o.token}`;
    if (body !== undefined) headers['content-type'] = FHIR_JSON;
    const payload = body === undefined ? undefined : JSON.stringify(body);
    for (let attempt = 1; ; attempt++) {
      let res: Response;
      try {
        res = await fetch(`${this.baseUrl}/${path.replace(/^\//, '')}`, {
          method,
          headers,
          body: payload,
          signal: AbortSignal.timeout(o.timeoutMs),
        });
      } catch (err) {
        if (attempt >= o.maxAttempts)
          throw new FhirHttpError(0, `${method} ${path}: ${(err as Error).message}`);
        await this.#wait(attempt, undefined, (err as Error).message);
        continue;
      }
      const text = await res.text();
      let parsed: unknown;
      try {
        parsed = text ? JSON.parse(text) : undefined;
      } catch {
        parsed = undefined;
      }
      if (res.ok) return { status: res.status, body: parsed as T };
      const outcome =
        (parsed as { resourceType?: string } | undefined)?.resourceType === 'OperationOutcome'
          ? (parsed as OperationOutcome)
          : undefined;
      if (RETRY_STATUS(res.status) && attempt < o.maxAttempts) {
        await this.#wait(attempt, retryAfterMs(res.headers.get('retry-after')), `HTTP ${res.status}`);
        continue;
      }
      const detail = outcomeText(outcome) || text.slice(0, 300) || res.statusText;
      throw new FhirHttpError(res.status, `${method} ${path}: HTTP ${res.status}: ${detail}`, outcome);
    }
  }

  async #wait(attempt: number, retryAfter: number | undefined, reason: string): Promise<void> {
    const o = this.#o;
    // Full jitter: spreads the retries of many clients hitting one overloaded server.
    const backoff = Math.random() * Math.min(o.maxDelayMs, o.baseDelayMs * 2 ** (attempt - 1));
    const delayMs = Math.min(o.maxDelayMs, retryAfter ?? backoff);
    o.onRetry?.({ attempt, delayMs, reason });
    await o.sleep(delayMs);
  }

  /** POSTs a transaction or batch Bundle to the server's base. */
  async bundle(b: Bundle): Promise<Bundle> {
    const r = await this.request<Bundle>('POST', '', b);
    if (r.body?.resourceType !== 'Bundle')
      throw new FhirHttpError(r.status, 'the server did not answer with a Bundle');
    return r.body;
  }
}
