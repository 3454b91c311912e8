// MLLP listener (TCP or TLS). Each connection deframes its byte stream, hands every complete frame
// to the handler in arrival order, and writes the handler's replies in that same order once each
// has resolved (the HL7 gateway resolves only after the group commit). Frames are pipelined: the
// next one is read and handed on while earlier ones commit, up to `maxInFlight` per connection;
// beyond that, or while the peer is not reading its ACKs, the socket stops reading (TCP back-pressure).

import net from 'node:net';
import tls from 'node:tls';
import { MllpDeframer } from './mllp.ts';

export interface MllpConnectionInfo {
  readonly id: number;
  readonly remoteAddress: string;
  readonly remotePort: number;
  readonly tls: boolean;
  /** Subject CN of a verified client certificate (mutual TLS). */
  readonly peer: string | undefined;
}

export interface MllpConnectionCounts {
  frames: number;
  replies: number;
  bytesIn: number;
  /** Bytes outside frames (junk) and of frames cut short by a new start block or the close. */
  skippedBytes: number;
  /** The connection was closed after a NAK for an oversized frame. */
  frameTooLarge: boolean;
  /** Closed for want of traffic. */
  idle: boolean;
  /** The handler failed for a frame: the connection was dropped without answering it. */
  failed: boolean;
  durationMs: number;
}

export interface MllpServerOptions {
  host: string;
  port: number;
  /** Largest message in bytes; beyond it the connection gets `tooLarge()` and is closed. */
  maxFrameSize: number;
  /** A connection with nothing received, sent or pending for this long is closed. */
  idleTimeoutMs: number;
  /** Frames per connection received but not yet answered; reading pauses at this bound. */
  maxInFlight: number;
  /** TLS server options (key, cert, ca, requestCert, rejectUnauthorized); plain TCP when absent. */
  tls?: tls.TlsOptions | undefined;
  /** Replies (already framed) for one frame; rejection drops the connection unanswered. */
  handle(frame: Buffer, conn: MllpConnectionInfo): Promise<Buffer[]>;
  /** The NAK (framed) for a frame beyond maxFrameSize. */
  tooLarge(conn: MllpConnectionInfo): Buffer;
  onOpen?(conn: MllpConnectionInfo): void;
  onClose?(conn: MllpConnectionInfo, counts: MllpConnectionCounts): void;
  onError?(err: Error, conn: MllpConnectionInfo | undefined): void;
}

interface Slot {
  done: boolean;
  replies: Buffer[] | undefined;
  failed: boolean;
  /** End the connection after writing this slot (the oversized-frame NAK). */
  last: boolean;
}

/** Above this many unwritten reply bytes the connection stops reading until the peer catches up. */
const WRITE_HIGH_WATER = 1024 * 1024;

class MllpConnection {
  readonly info: MllpConnectionInfo;
  readonly counts: MllpConnectionCounts = {
    frames: 0,
    replies: 0,
    bytesIn: 0,
    skippedBytes: 0,
    frameTooLarge: false,
    idle: false,
    failed: false,
    durationMs: 0,
  };
  readonly closed: Promise<void>;
  readonly #socket: net.Socket;
  readonly #opts: MllpServerOptions;
  readonly #deframer: MllpDeframer;
  readonly #started = Date.now();
  #slots: Slot[] = [];
  #head = 0;
  #flushQueued = false;
  #readPaused = false;
  /** No more frames are read: stopping, peer finished sending, or an oversized frame. */
  #noMoreInput = false;
  #ending = false;

  constructor(socket: net.Socket, opts: MllpServerOptions, info: MllpConnectionInfo) {
    this.#socket = socket;
    this.#opts = opts;
    this.info = info;
    this.#deframer = new MllpDeframer({ maxFrameSize: opts.maxFrameSize });
    this.closed = new Promise((resolve) => socket.once('close', () => resolve()));
    socket.setNoDelay(true);
    socket.setTimeout(opts.idleTimeoutMs);
    socket.on('data', (chunk: Buffer) => this.#onData(chunk));
    socket.on('end', () => {
      // The peer finished sending (half-close): answer what is pending, then close our side.
      this.#noMoreInput = true;
      this.#maybeEnd();
    });
    socket.on('drain', () => this.#maybeResume());
    socket.on('timeout', () => {
      if (this.#pending() > 0) return; // still committing: not idle
      this.counts.idle = true;
      socket.end();
      socket.destroySoon();
    });
    socket.on('error', (err) => opts.onError?.(err, info));
    socket.once('close', () => {
      this.counts.skippedBytes = this.#deframer.skippedBytes + this.#deframer.end();
      this.counts.durationMs = Date.now() - this.#started;
      opts.onClose?.(info, this.counts);
    });
  }

  #pending(): number {
    return this.#slots.length - this.#head;
  }

  #onData(chunk: Buffer): void {
    if (this.#noMoreInput) return;
    this.counts.bytesIn += chunk.length;
    const frames = this.#deframer.push(chunk);
    for (const f of frames) {
      this.counts.frames++;
      const slot: Slot = { done: false, replies: undefined, failed: false, last: false };
      this.#slots.push(slot);
      this.#opts.handle(f, this.info).then(
        (replies) => {
          slot.replies = replies;
          slot.done = true;
          this.#scheduleFlush();
        },
        (err: unknown) => {
          slot.failed = true;
          slot.done = true;
          this.#opts.onError?.(err instanceof Error ? err : new Error(String(err)), this.info);
          this.#scheduleFlush();
        },
      );
    }
    if (this.#deframer.error) {
      this.counts.frameTooLarge = true;
      this.#noMoreInput = true;
      this.#slots.push({ done: true, replies: [this.#opts.tooLarge(this.info)], failed: false, last: true });
      this.#socket.pause();
      this.#scheduleFlush();
      return;
    }
    if (this.#pending() >= this.#opts.maxInFlight) this.#pause();
  }

  #pause(): void {
    if (this.#readPaused) return;
    this.#readPaused = true;
    this.#socket.pause();
  }

  #maybeResume(): void {
    if (!this.#readPaused || this.#noMoreInput) return;
    if (this.#pending() < this.#opts.maxInFlight && this.#socket.writableLength < WRITE_HIGH_WATER) {
      this.#readPaused = false;
      this.#socket.resume();
    }
  }

  #scheduleFlush(): void {
    if (this.#flushQueued) return;
    this.#flushQueued = true;
    // Replies resolved by one commit arrive as a burst of promise reactions; writing them in one
    // corked pass after the burst makes one write (one syscall, fewer TCP segments) per batch.
    queueMicrotask(() => this.#flush());
  }

  #flush(): void {
    this.#flushQueued = false;
    if (this.#socket.destroyed) return;
    const socket = this.#socket;
    const slots = this.#slots;
    socket.cork();
    while (this.#head < slots.length && slots[this.#head]!.done) {
      const slot = slots[this.#head++]!;
      if (slot.failed) {
        // Not stored, so not answered: the sender times out and resends, and the dedup key keeps
        // anything that was in fact stored from being stored twice.
        this.counts.failed = true;
        socket.uncork();
        socket.destroy();
        return;
      }
      for (const r of slot.replies!) socket.write(r);
      this.counts.replies += slot.replies!.length;
      if (slot.last) {
        this.#ending = true;
        break;
      }
    }
    socket.uncork();
    if (this.#head > 1024 && this.#head * 2 > slots.length) {
      this.#slots = slots.slice(this.#head);
      this.#head = 0;
    }
    if (this.#ending) {
      socket.end();
      socket.destroySoon();
      return;
    }
    if (socket.writableLength >= WRITE_HIGH_WATER) this.#pause();
    else this.#maybeResume();
    this.#maybeEnd();
  }

  #maybeEnd(): void {
    if (this.#noMoreInput && this.#pending() === 0 && !this.#ending) {
      this.#ending = true;
      this.#socket.end();
    }
  }

  /** Graceful stop: read nothing more, answer what is pending, then close. */
  drain(): void {
    this.#noMoreInput = true;
    // Keep reading (and dropping) so the peer's FIN is seen and the socket can close; frames not
    // yet read are not acknowledged, so the sender resends them after the restart.
    this.#readPaused = false;
    this.#socket.resume();
    this.#maybeEnd();
  }

  destroy(): void {
    this.#socket.destroy();
  }
}

export class MllpServer {
  readonly #opts: MllpServerOptions;
  readonly #server: net.Server;
  readonly #connections = new Set<MllpConnection>();
  /** Every accepted TCP socket, also those still in (or failed in) a TLS handshake. */
  readonly #sockets = new Set<net.Socket>();
  #nextId = 1;
  #stopping: Promise<void> | undefined;

  constructor(opts: MllpServerOptions) {
    this.#opts = opts;
    // allowHalfOpen: a sender may shut down its side after the last frame and still read the ACKs.
    if (opts.tls) {
      const server = tls.createServer({ handshakeTimeout: 10_000, ...opts.tls, allowHalfOpen: true });
      server.on('secureConnection', (s) => this.#accept(s, true));
      server.on('tlsClientError', (err) => opts.onError?.(err, undefined));
      this.#server = server;
    } else {
      this.#server = net.createServer({ allowHalfOpen: true, noDelay: true }, (s) => this.#accept(s, false));
    }
    this.#server.on('error', (err) => opts.onError?.(err, undefined));
    this.#server.on('connection', (s: net.Socket) => {
      this.#sockets.add(s);
      s.once('close', () => this.#sockets.delete(s));
    });
  }

  get connectionCount(): number {
    return this.#connections.size;
  }

  #accept(socket: net.Socket, secure: boolean): void {
    if (this.#stopping) {
      socket.destroy();
      return;
    }
    let peer: string | undefined;
    if (secure) {
      const t = socket as tls.TLSSocket;
      if (t.authorized) {
        const cn = t.getPeerCertificate().subject?.CN;
        peer = Array.isArray(cn) ? cn.join(',') : cn;
      }
    }
    const info: MllpConnectionInfo = {
      id: this.#nextId++,
      remoteAddress: socket.remoteAddress ?? '',
      remotePort: socket.remotePort ?? 0,
      tls: secure,
      peer,
    };
    const conn = new MllpConnection(socket, this.#opts, info);
    this.#connections.add(conn);
    void conn.closed.then(() => this.#connections.delete(conn));
    this.#opts.onOpen?.(info);
  }

  /** Starts listening; resolves with the bound port. */
  listen(): Promise<number> {
    return new Promise((resolve, reject) => {
      const onError = (err: Error) => reject(err);
      this.#server.once('error', onError);
      this.#server.listen({ host: this.#opts.host, port: this.#opts.port }, () => {
        this.#server.off('error', onError);
        resolve((this.#server.address() as net.AddressInfo).port);
      });
    });
  }

  /**
   * Graceful stop: accept no connections, read no more frames, write the replies of frames already
   * read (they resolve as their commits finish), close. Connections still open after `graceMs`
   * (a peer that does not read) are destroyed.
   */
  stop(graceMs = 10_000): Promise<void> {
    this.#stopping ??= (async () => {
      const closed = new Promise<void>((resolve) => this.#server.close(() => resolve()));
      const conns = [...this.#connections];
      for (const c of conns) c.drain();
      let timer: NodeJS.Timeout | undefined;
      const timeout = new Promise<void>((resolve) => {
        timer = setTimeout(() => {
          for (const c of this.#connections) c.destroy();
          resolve();
        }, graceMs);
        timer.unref();
      });
      await Promise.race([Promise.all(conns.map((c) => c.closed)), timeout]);
      clearTimeout(timer);
      // Sockets that never completed a TLS handshake hold the server open: nothing to answer there.
      for (const s of this.#sockets) s.destroy();
      await closed;
    })();
    return this.#stopping;
  }
}
