// MLLP client: one connection (TCP or TLS) that sends messages and matches the acknowledgements
// that come back by MSA-2. Used by `carewire hl7 send`, the demo sender, the tests and the
// benchmark. Several sends may be in flight on one connection (pipelining); each resolves with its
// ACK, or rejects on timeout or when the connection closes.

import { Buffer } from 'node:buffer';
import net from 'node:net';
import tls from 'node:tls';
import { readHeaderLoosely } from './header.ts';
import { frame, MllpDeframer } from './mllp.ts';

export interface MllpClientOptions {
  host: string;
  port: number;
  /** TLS: true for defaults, or node:tls options (ca, cert, key, servername, rejectUnauthorized). */
  tls?: boolean | tls.ConnectionOptions | undefined;
  connectTimeoutMs?: number;
  /** Largest ACK accepted (default 1 MiB). */
  maxFrameSize?: number;
}

export interface AckInfo {
  /** MSA-1: AA, AE, AR, CA, CE, CR. */
  code: string;
  /** MSA-2: the control id of the acknowledged message. */
  controlId: string;
  /** ERR-3 code and ERR-7 text (or MSA-3) of each error, for people. */
  errors: string[];
  text: string;
}

export interface SendResult {
  /** The final acknowledgement's code: the application ACK when one was expected; undefined for NE/NE. */
  code: string | undefined;
  /** Every ACK received for the message, in order (accept ACK first in enhanced mode). */
  acks: AckInfo[];
  controlId: string;
  ms: number;
}

export class MllpClientError extends Error {
  override name = 'MllpClientError';
  readonly kind: 'timeout' | 'closed' | 'connect';
  constructor(kind: 'timeout' | 'closed' | 'connect', message: string) {
    super(message);
    this.kind = kind;
  }
}

interface Pending {
  controlId: string;
  /** After an accept ACK with this outcome, is an application ACK still to come? */
  appAfterAccept: (code: string) => boolean;
  acks: AckInfo[];
  started: number;
  timer: NodeJS.Timeout | undefined;
  resolve: (r: SendResult) => void;
  reject: (e: Error) => void;
}

function condition(v: string, absent: string): string {
  const t = v.trim().toUpperCase();
  if (t === '') return absent;
  return t === 'AL' || t === 'NE' || t === 'ER' || t === 'SU' ? t : 'AL';
}

/**
 * Reads MSA-1/MSA-2 (and ERR on errors) of an ACK without a full parse: the sender's hot path in
 * the benchmark reads one per message.
 */
export function readAck(text: string): AckInfo | undefined {
  if (!text.startsWith('MSH') || text.length < 8) return undefined;
  const sep = text[3]!;
  const comp = text[4]!;
  let at = text.indexOf(`MSA${sep}`);
  if (at < 0) return undefined;
  at += 4;
  const lineEnd = (from: number) => {
    const cr = text.indexOf('\r', from);
    const lf = text.indexOf('\n', from);
    return cr < 0 ? (lf < 0 ? text.length : lf) : lf < 0 ? cr : Math.min(cr, lf);
  };
  const msa = text.slice(at, lineEnd(at)).split(sep);
  const code = (msa[0] ?? '').split(comp)[0]!.trim();
  const controlId = (msa[1] ?? '').split(comp)[0]!;
  const errors: string[] = [];
  if (code !== 'AA' && code !== 'CA') {
    let e = text.indexOf(`ERR${sep}`);
    while (e >= 0) {
      const f = text.slice(e + 4, lineEnd(e)).split(sep);
      const c = (f[2] ?? '').split(comp);
      const what = f[6] || c[1] || (f[0] ?? '').split(comp)[3] || '';
      errors.push(`${c[0] ?? ''} ${what}`.trim());
      e = text.indexOf(`ERR${sep}`, e + 4);
    }
    if (errors.length === 0 && msa[2]) errors.push(msa[2]);
  }
  return { code, controlId, errors, text };
}

/** Error-only sends remembered per connection (the oldest forgotten first). */
const MAX_ERROR_ONLY = 100_000;

export class MllpClient {
  readonly #socket: net.Socket;
  readonly #deframer: MllpDeframer;
  readonly #pending: Pending[] = [];
  /** Control ids sent with MSH-15/16 "ER": answered only on error, after `send` resolved. */
  readonly #errorOnly = new Set<string>();
  /** Error ACKs that came for those messages (see `send`); the caller reads and empties it. */
  readonly lateErrors: AckInfo[] = [];
  #closedError: Error | undefined;
  readonly closed: Promise<void>;

  private constructor(socket: net.Socket, maxFrameSize: number) {
    this.#socket = socket;
    this.#deframer = new MllpDeframer({ maxFrameSize });
    socket.setNoDelay(true);
    socket.on('data', (chunk: Buffer) => this.#onData(chunk));
    socket.on('error', (err) => {
      this.#closedError ??= new MllpClientError('closed', `connection error: ${err.message}`);
    });
    this.closed = new Promise((resolve) => {
      socket.once('close', () => {
        const err = this.#closedError ?? new MllpClientError('closed', 'connection closed by the server');
        this.#closedError = err;
        for (const p of this.#pending.splice(0)) {
          clearTimeout(p.timer);
          p.reject(err);
        }
        resolve();
      });
    });
  }

  static connect(opts: MllpClientOptions): Promise<MllpClient> {
    return new Promise((resolve, reject) => {
      const timeoutMs = opts.connectTimeoutMs ?? 10_000;
      const fail = (err: Error) => {
        clearTimeout(timer);
        socket.destroy();
        reject(new MllpClientError('connect', `cannot connect to ${opts.host}:${opts.port}: ${err.message}`));
      };
      let socket: net.Socket;
      const ready = () => {
        clearTimeout(timer);
        socket.off('error', fail);
        resolve(new MllpClient(socket, opts.maxFrameSize ?? 1024 * 1024));
      };
      if (opts.tls) {
        const t = opts.tls === true ? {} : opts.tls;
        // SNI carries host names only, never addresses.
        const sni = net.isIP(opts.host) === 0 ? { servername: opts.host } : {};
        socket = tls.connect({ host: opts.host, port: opts.port, ...sni, ...t }, ready);
      } else {
        socket = net.connect({ host: opts.host, port: opts.port }, ready);
      }
      socket.once('error', fail);
      const timer = setTimeout(() => fail(new Error(`no connection after ${timeoutMs} ms`)), timeoutMs);
    });
  }

  /** Whether any message on this connection may still get an error ACK (see `lateErrors`). */
  get awaitsErrors(): boolean {
    return this.#errorOnly.size > 0;
  }

  get inFlight(): number {
    return this.#pending.length;
  }

  get isOpen(): boolean {
    return this.#closedError === undefined && !this.#socket.destroyed;
  }

  /**
   * Sends one message and resolves with its acknowledgement(s). What to wait for follows the
   * message's own MSH-15/MSH-16: one ACK in original mode; in enhanced mode the accept ACK and,
   * when MSH-16 asks for it, the application ACK. NE/NE resolves once written (code undefined).
   */
  send(message: string | Uint8Array, opts: { timeoutMs?: number } = {}): Promise<SendResult> {
    if (this.#closedError) return Promise.reject(this.#closedError);
    const payload = typeof message === 'string' ? Buffer.from(message, 'utf8') : message;
    const h = readHeaderLoosely(payload);
    const controlId = h?.controlId ?? '';
    const msh15 = h?.acceptAckType ?? '';
    const msh16 = h?.applicationAckType ?? '';
    const bytes = frame(payload);
    const started = performance.now();
    if (msh15 !== '' || msh16 !== '') {
      const accept = condition(msh15, 'NE');
      const app = condition(msh16, 'AL');
      if ((accept === 'NE' || accept === 'ER') && (app === 'NE' || app === 'ER')) {
        // Nothing comes back on success: done once the bytes are handed to the kernel. An error
        // ACK may still come for it ("ER"): it lands in `lateErrors`.
        if (accept === 'ER' || app === 'ER') {
          if (this.#errorOnly.size >= MAX_ERROR_ONLY)
            this.#errorOnly.delete(this.#errorOnly.values().next().value!);
          this.#errorOnly.add(controlId);
        }
        return new Promise((resolve, reject) => {
          this.#socket.write(bytes, (err) =>
            err
              ? reject(new MllpClientError('closed', err.message))
              : resolve({ code: undefined, acks: [], controlId, ms: performance.now() - started }),
          );
        });
      }
      return this.#await(bytes, controlId, started, opts.timeoutMs, (code) =>
        code === 'CA' ? app === 'AL' || app === 'SU' : app === 'AL' || app === 'ER',
      );
    }
    return this.#await(bytes, controlId, started, opts.timeoutMs, () => false);
  }

  #await(
    bytes: Buffer,
    controlId: string,
    started: number,
    timeoutMs: number | undefined,
    appAfterAccept: (code: string) => boolean,
  ): Promise<SendResult> {
    return new Promise<SendResult>((resolve, reject) => {
      const p: Pending = { controlId, appAfterAccept, acks: [], started, timer: undefined, resolve, reject };
      if (timeoutMs !== undefined) {
        p.timer = setTimeout(() => {
          // The connection's state is unknown now (the ACK may still come): close it, so a retry
          // starts clean and the server's dedup makes the resend safe.
          this.#closedError = new MllpClientError(
            'timeout',
            `no ACK for ${controlId} within ${timeoutMs} ms`,
          );
          this.#socket.destroy();
        }, timeoutMs);
      }
      this.#pending.push(p);
      this.#socket.write(bytes);
    });
  }

  #onData(chunk: Buffer): void {
    for (const f of this.#deframer.push(chunk)) {
      const ack = readAck(f.toString('latin1'));
      if (!ack) continue;
      let i = this.#pending.findIndex((p) => p.controlId === ack.controlId);
      // A NAK that could not read our header (e.g. for an oversized frame) answers the oldest.
      if (i < 0 && ack.controlId === '' && this.#pending.length > 0) i = 0;
      if (i < 0) {
        if (this.#errorOnly.delete(ack.controlId)) this.lateErrors.push(ack);
        continue;
      }
      const p = this.#pending[i]!;
      p.acks.push(ack);
      const isAccept = ack.code === 'CA' || ack.code === 'CE' || ack.code === 'CR';
      if (isAccept && p.appAfterAccept(ack.code)) continue;
      this.#pending.splice(i, 1);
      clearTimeout(p.timer);
      p.resolve({ code: ack.code, acks: p.acks, controlId: p.controlId, ms: performance.now() - p.started });
    }
    if (this.#deframer.error) {
      this.#closedError = new MllpClientError('closed', this.#deframer.error.message);
      this.#socket.destroy();
    }
  }

  /** Closes after the pending sends are answered (or fail). */
  async close(): Promise<void> {
    if (!this.#socket.destroyed) this.#socket.end();
    await this.closed;
  }

  destroy(): void {
    this.#socket.destroy();
  }
}
