/**
 * Receives, decodes and verifies vitals datagrams on a thread of its own and delivers the results
 * to the main thread in batches.
 *
 * Why a thread: Node gives one 'message' event per datagram (a recvmsg call, a 64 KiB allocation
 * shrunk to fit, a Buffer with its own backing store), and the HMAC check allocates an OpenSSL
 * context and copies the key on every call. At 50,000 datagrams/s the main thread ran at 92–100 %
 * of a core (read from `/proc/PID/task/TID/stat`; the CPU profile showed only ~55 %, the rest being
 * native receive work it counts as idle) and the kernel dropped datagrams whenever it fell behind.
 * Here that work runs beside it; the main thread gets one message per event-loop turn of this
 * thread with every datagram read in it, already authenticated, and keeps the stateful steps
 * (replay window, device → patient, storage, alarms, NEWS2, live bus) in arrival order.
 *
 * Batch layout (Float64Array; strings as indexes into the batch's string table):
 *   accepted: ACCEPTED, deviceId, address, sequence, timestamp, flags, n, then n × (code, value)
 *   rejected: REJECTED, deviceId (-1 when unknown), address, reason, detail
 */
import type { KeyObject } from 'node:crypto';
import { Worker } from 'node:worker_threads';
import { MAX_MEASUREMENTS } from './datagram.ts';

export const ACCEPTED = 0;
export const REJECTED = 1;
/** The most numbers one record takes. */
export const MAX_RECORD_NUMBERS = 7 + 2 * MAX_MEASUREMENTS;

export interface ReceiverStart {
  type: 'udp4' | 'udp6';
  host: string;
  port: number;
  recvBufferSize: number;
}
export type ReceiverCommand = { type: 'keys'; keys: Array<[string, KeyObject]> } | { type: 'close' };
export type ReceiverEvent =
  | { type: 'ready'; port: number; recvBufferBytes: number }
  | { type: 'batch'; numbers: ArrayBuffer; count: number; strings: string[] }
  | { type: 'error'; message: string }
  | { type: 'closed' };

/** One authenticated datagram. The object is reused for the next one: read it, do not keep it. */
export interface ReceivedDatagram {
  deviceId: string;
  address: string;
  sequence: number;
  timestamp: number;
  flags: number;
  /** Measurements: `count` pairs of (code, value) in `numbers` from `offset`. */
  count: number;
  numbers: Float64Array;
  offset: number;
}

export interface ReceiverSink {
  accepted(d: ReceivedDatagram): void;
  rejected(reason: string, address: string, deviceId: string | null, detail: string): void;
  error(err: Error): void;
}

export class UdpReceiver {
  readonly #worker: Worker;
  readonly #sink: ReceiverSink;
  readonly #current: ReceivedDatagram = {
    deviceId: '',
    address: '',
    sequence: 0,
    timestamp: 0,
    flags: 0,
    count: 0,
    numbers: new Float64Array(0),
    offset: 0,
  };
  #closed: Promise<void> | undefined;
  readonly #ready = Promise.withResolvers<{ port: number; recvBufferBytes: number }>();

  private constructor(start: ReceiverStart, keys: Array<[string, KeyObject]>, sink: ReceiverSink) {
    this.#sink = sink;
    // Rejected only before 'ready', where start() awaits it; never an unhandled rejection.
    this.#ready.promise.catch(() => {});
    this.#worker = new Worker(new URL('./udp-receiver-worker.ts', import.meta.url), { workerData: start });
    this.#worker.on('message', (e: ReceiverEvent) => this.#event(e));
    this.#worker.on('error', (err) => this.#fail(err));
    this.#worker.on('exit', (code) => this.#fail(new Error(`the UDP receive thread exited (${code})`)));
    this.setKeys(keys);
  }

  /**
   * Binds the socket on its thread with the given device keys; resolves with the bound port and
   * the receive buffer the kernel granted.
   */
  static async start(
    start: ReceiverStart,
    keys: Array<[string, KeyObject]>,
    sink: ReceiverSink,
  ): Promise<{ receiver: UdpReceiver; port: number; recvBufferBytes: number }> {
    const receiver = new UdpReceiver(start, keys, sink);
    try {
      const ready = await receiver.#ready.promise;
      return { receiver, ...ready };
    } catch (err) {
      await receiver.#worker.terminate();
      throw err;
    }
  }

  /** Replaces the device keys the thread verifies with (the whole set). */
  setKeys(keys: Array<[string, KeyObject]>): void {
    if (this.#closed === undefined)
      this.#worker.postMessage({ type: 'keys', keys } satisfies ReceiverCommand);
  }

  #event(e: ReceiverEvent): void {
    switch (e.type) {
      case 'batch':
        this.#deliver(new Float64Array(e.numbers), e.count, e.strings);
        return;
      case 'ready':
        this.#ready.resolve({ port: e.port, recvBufferBytes: e.recvBufferBytes });
        return;
      case 'error':
        this.#fail(new Error(e.message));
        return;
      case 'closed':
        return;
    }
  }

  #deliver(n: Float64Array, count: number, strings: string[]): void {
    const d = this.#current;
    d.numbers = n;
    let at = 0;
    for (let i = 0; i < count; i++) {
      if (n[at] === ACCEPTED) {
        d.deviceId = strings[n[at + 1]!]!;
        d.address = strings[n[at + 2]!]!;
        d.sequence = n[at + 3]!;
        d.timestamp = n[at + 4]!;
        d.flags = n[at + 5]!;
        d.count = n[at + 6]!;
        d.offset = at + 7;
        at += 7 + 2 * d.count;
        this.#sink.accepted(d);
      } else {
        const id = n[at + 1]!;
        this.#sink.rejected(
          strings[n[at + 3]!]!,
          strings[n[at + 2]!]!,
          id < 0 ? null : strings[id]!,
          strings[n[at + 4]!]!,
        );
        at += 5;
      }
    }
  }

  #fail(err: Error): void {
    // Before 'ready' this is a bind failure (port taken, bad address): start() rejects with it.
    this.#ready.reject(err);
    if (this.#closed === undefined) this.#sink.error(err);
  }

  /** Closes the socket; every datagram it had read is delivered before this resolves. */
  close(): Promise<void> {
    this.#closed ??= new Promise<void>((resolve) => {
      this.#worker.once('exit', () => resolve());
      this.#worker.postMessage({ type: 'close' } satisfies ReceiverCommand);
    });
    return this.#closed;
  }
}
