/** A bare alarm-channel peer for tests that need to misbehave on purpose. */
import net from 'node:net';
import {
  type AlarmChannelFrame,
  AlarmFrameDecoder,
  encodeFrame,
  type FrameEvent,
  helloMac,
} from '../../src/telemetry/alarm-frame.ts';

export class RawPeer {
  readonly socket: net.Socket;
  readonly events: FrameEvent[] = [];
  closed = false;
  #waiters: Array<() => void> = [];

  private constructor(socket: net.Socket) {
    this.socket = socket;
    const dec = new AlarmFrameDecoder();
    socket.on('data', (c: Buffer) => {
      this.events.push(...dec.push(c));
      for (const w of this.#waiters.splice(0)) w();
    });
    socket.on('close', () => {
      this.closed = true;
      for (const w of this.#waiters.splice(0)) w();
    });
    socket.on('error', () => {});
  }

  static async connect(port: number): Promise<RawPeer> {
    const s = net.connect({ host: '127.0.0.1', port });
    await new Promise<void>((resolve, reject) => {
      s.once('connect', resolve);
      s.once('error', reject);
    });
    return new RawPeer(s);
  }

  send(f: AlarmChannelFrame): void {
    this.socket.write(encodeFrame(f));
  }

  /** Waits for the n-th frame of a type (1-based), or for the close. */
  async frame<T extends AlarmChannelFrame['type']>(
    type: T,
    n = 1,
    timeoutMs = 5000,
  ): Promise<Extract<AlarmChannelFrame, { type: T }>> {
    const end = Date.now() + timeoutMs;
    for (;;) {
      const found = this.events.filter((e) => e.ok && e.frame.type === type);
      const hit = found[n - 1];
      // The filter above kept only decoded frames of this type.
      if (hit?.ok) return hit.frame as Extract<AlarmChannelFrame, { type: T }>;
      if (this.closed) throw new Error(`closed before ${type} #${n}`);
      if (Date.now() > end) throw new Error(`timed out waiting for ${type} #${n}`);
      await new Promise<void>((resolve) => {
        this.#waiters.push(resolve);
        setTimeout(resolve, 50);
      });
    }
  }

  async hello(deviceId: string, key: Uint8Array): Promise<void> {
    const c = await this.frame('challenge');
    const clientTime = Date.now();
    this.send({
      type: 'hello',
      protocol: 1,
      deviceId,
      clientTime,
      mac: helloMac(key, deviceId, c.nonce, clientTime),
    });
    await this.frame('welcome');
  }

  async closedWithin(ms: number): Promise<boolean> {
    const end = Date.now() + ms;
    while (!this.closed && Date.now() < end) await new Promise((r) => setTimeout(r, 20));
    return this.closed;
  }

  close(): void {
    this.socket.destroy();
  }
}
