// Sending HL7 messages reliably over one MLLP connection: each message waits for its ACK (with a
// timeout); a timeout or a lost connection reconnects and resends the same bytes with back-off
// (the receiver's MSH-3 + MSH-10 dedup makes the resend safe). AE/AR answers are final, not retried.

import type tls from 'node:tls';
import { type AckInfo, MllpClient, MllpClientError, type SendResult } from './client.ts';

export interface SenderOptions {
  host: string;
  port: number;
  tls?: boolean | tls.ConnectionOptions | undefined;
  /** Per message wait for its ACK, ms. */
  timeoutMs: number;
  /** Resends after a timeout or connection failure (0 = send once). */
  retries: number;
  /** First back-off, ms; doubled per attempt up to 5 s. */
  backoffMs?: number;
}

export interface SendOutcome {
  /** AA, AE, AR, CA, CE, CR; 'NONE' when MSH-15/16 asked for no ACK; 'TIMEOUT' or 'FAILED' when none came. */
  code: string;
  attempts: number;
  /** Error texts from the ERR segments, or why nothing came. */
  errors: string[];
  result: SendResult | undefined;
}

export class Hl7Sender {
  readonly #opts: SenderOptions;
  #client: MllpClient | undefined;
  /**
   * Error ACKs for messages sent with MSH-15/16 "ER" (their `send` had resolved as NONE): the
   * receiver answers those only when something is wrong, at any time after.
   */
  readonly lateErrors: AckInfo[] = [];

  constructor(opts: SenderOptions) {
    this.#opts = opts;
  }

  async #connection(): Promise<MllpClient> {
    if (this.#client?.isOpen) return this.#client;
    this.#drop();
    this.#client = await MllpClient.connect({
      host: this.#opts.host,
      port: this.#opts.port,
      tls: this.#opts.tls,
    });
    return this.#client;
  }

  async send(message: string | Uint8Array): Promise<SendOutcome> {
    const max = Math.max(0, this.#opts.retries) + 1;
    let last: Error | undefined;
    for (let attempt = 1; attempt <= max; attempt++) {
      if (attempt > 1) {
        const wait = Math.min(5000, (this.#opts.backoffMs ?? 250) * 2 ** (attempt - 2));
        await new Promise((r) => setTimeout(r, wait));
      }
      try {
        const client = await this.#connection();
        const r = await client.send(message, { timeoutMs: this.#opts.timeoutMs });
        const errors = r.acks.flatMap((a) => a.errors);
        return { code: r.code ?? 'NONE', attempts: attempt, errors, result: r };
      } catch (err) {
        if (!(err instanceof MllpClientError)) throw err;
        last = err;
        this.#drop();
      }
    }
    const timedOut = last instanceof MllpClientError && last.kind === 'timeout';
    return {
      code: timedOut ? 'TIMEOUT' : 'FAILED',
      attempts: max,
      errors: [last?.message ?? ''],
      result: undefined,
    };
  }

  #drop(): void {
    const c = this.#client;
    if (!c) return;
    this.lateErrors.push(...c.lateErrors.splice(0));
    c.destroy();
    this.#client = undefined;
  }

  /**
   * Closes the connection. When messages went out asking for error ACKs only, it first listens
   * for `graceMs` so an error the receiver sends meanwhile reaches `lateErrors`.
   */
  async close(graceMs = 0): Promise<void> {
    const c = this.#client;
    this.#client = undefined;
    if (!c) return;
    if (graceMs > 0 && c.awaitsErrors && c.isOpen) await new Promise((r) => setTimeout(r, graceMs));
    await c.close();
    this.lateErrors.push(...c.lateErrors.splice(0));
  }
}

/** AA and CA (and NONE: nothing was asked for) are successes; everything else makes `send` exit non-zero. */
export function isSuccess(code: string): boolean {
  return code === 'AA' || code === 'CA' || code === 'NONE';
}
