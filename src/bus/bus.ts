/**
 * Publish/subscribe between the parts of one node and between nodes. In-process by default;
 * Redis pub/sub when CAREWIRE_REDIS_URL is set, so every node sees every event (rule 6: nodes keep
 * no state another node needs).
 *
 * Delivery is asynchronous in both, so code tested on one node behaves the same on many.
 * Messages are JSON; the bus carries notifications (what changed), never the only copy of data:
 * anything a subscriber must not miss is in the store and can be replayed from there.
 */
import { EventEmitter } from 'node:events';
import { createClient, type RedisClientType } from 'redis';

export type Handler<T = unknown> = (message: T) => void;

export interface PublishOptions {
  /**
   * The caller built `message` for this call and will not touch it again. In-process it is then
   * delivered as it is, deep-frozen, instead of copied through JSON (the vitals stream: the copy
   * was a tenth of the telemetry receive path, measured in bench/telemetry.ts). Such a message
   * must be plain JSON data: keys whose value is undefined reach in-process subscribers but not
   * Redis ones, so subscribers treat undefined as absent.
   */
  owned?: boolean;
}

export interface Bus {
  publish(topic: string, message: unknown, opts?: PublishOptions): Promise<void>;
  /** Returns a function that unsubscribes. */
  subscribe<T = unknown>(topic: string, handler: Handler<T>): Promise<() => Promise<void>>;
  close(): Promise<void>;
}

export class InProcessBus implements Bus {
  readonly #emitter = new EventEmitter();

  constructor() {
    // Many sockets may subscribe to one topic; the default limit of 10 would only warn.
    this.#emitter.setMaxListeners(0);
  }

  async publish(topic: string, message: unknown, opts?: PublishOptions): Promise<void> {
    if (opts?.owned) {
      // Frozen: one subscriber cannot change what another (or the publisher) sees.
      deepFreeze(message);
      setImmediate(() => this.#emitter.emit(topic, message));
      return;
    }
    // Copy through JSON so subscribers cannot share (and mutate) the publisher's object, as with Redis.
    const copy = JSON.stringify(message);
    setImmediate(() => this.#emitter.emit(topic, JSON.parse(copy)));
  }

  async subscribe<T>(topic: string, handler: Handler<T>): Promise<() => Promise<void>> {
    const h = handler as Handler;
    this.#emitter.on(topic, h);
    return async () => {
      this.#emitter.off(topic, h);
    };
  }

  async close(): Promise<void> {
    this.#emitter.removeAllListeners();
  }
}

function deepFreeze(v: unknown): void {
  if (typeof v !== 'object' || v === null || Object.isFrozen(v)) return;
  Object.freeze(v);
  if (Array.isArray(v)) for (const x of v) deepFreeze(x);
  else for (const k in v) deepFreeze((v as Record<string, unknown>)[k]);
}

// The client type with default modules/scripts; `duplicate()` keeps the same shape.
type RedisClient = RedisClientType;

export class RedisBus implements Bus {
  readonly #pub: RedisClient;
  readonly #sub: RedisClient;
  readonly #prefix: string;
  readonly #local = new EventEmitter();

  private constructor(pub: RedisClient, sub: RedisClient, prefix: string) {
    this.#pub = pub;
    this.#sub = sub;
    this.#prefix = prefix;
    this.#local.setMaxListeners(0);
  }

  /** `prefix` namespaces the channels (one CareWire deployment per prefix). */
  static async connect(url: string, prefix = 'carewire:'): Promise<RedisBus> {
    let started = false;
    const pub: RedisClient = createClient({
      url,
      socket: {
        connectTimeout: 3000,
        // At start-up an unreachable Redis is a configuration error: fail with a clear message.
        // Once running, reconnect with back-off (at most 2 s between tries) and keep serving.
        reconnectStrategy: (retries, cause) =>
          started
            ? Math.min(100 * 2 ** retries, 2000)
            : new Error(`Redis at ${url} is unreachable: ${cause.message}`),
      },
    });
    const sub: RedisClient = pub.duplicate();
    for (const c of [pub, sub]) c.on('error', () => {}); // surfaced through connect() and commands
    try {
      await Promise.all([pub.connect(), sub.connect()]);
    } catch (err) {
      pub.destroy();
      sub.destroy();
      throw err;
    }
    started = true;
    return new RedisBus(pub, sub, prefix);
  }

  async publish(topic: string, message: unknown): Promise<void> {
    await this.#pub.publish(this.#prefix + topic, JSON.stringify(message));
  }

  async subscribe<T>(topic: string, handler: Handler<T>): Promise<() => Promise<void>> {
    const channel = this.#prefix + topic;
    const h = handler as Handler;
    // One Redis subscription per topic, fanned out locally to every handler.
    if (this.#local.listenerCount(channel) === 0) {
      await this.#sub.subscribe(channel, (raw) => {
        let msg: unknown;
        try {
          msg = JSON.parse(raw);
        } catch {
          return; // not ours: another writer on the channel
        }
        this.#local.emit(channel, msg);
      });
    }
    this.#local.on(channel, h);
    return async () => {
      this.#local.off(channel, h);
      if (this.#local.listenerCount(channel) === 0) await this.#sub.unsubscribe(channel);
    };
  }

  async close(): Promise<void> {
    this.#local.removeAllListeners();
    await Promise.allSettled([this.#pub.close(), this.#sub.close()]);
  }
}

export async function createBus(redisUrl: string | undefined): Promise<Bus> {
  return redisUrl ? RedisBus.connect(redisUrl) : new InProcessBus();
}
