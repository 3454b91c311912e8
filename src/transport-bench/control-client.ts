/** The client end of the control protocol: one TCP connection, one request in flight at a time. */
import net from 'node:net';
import {
  type ControlReply,
  type ControlRequest,
  lineSplitter,
  MAX_CONTROL_LINE,
  PROTOCOL_VERSION,
  type ServerInfo,
  type SinkStats,
} from './protocol.ts';

export class ControlClient {
  private readonly socket: net.Socket;
  private readonly waiting: Array<{ resolve: (r: ControlReply) => void; reject: (e: Error) => void }> = [];
  private failure: Error | null = null;

  private constructor(socket: net.Socket) {
    this.socket = socket;
    const push = lineSplitter(MAX_CONTROL_LINE, (line) => {
      const next = this.waiting.shift();
      if (!next) return;
      try {
        next.resolve(JSON.parse(line) as ControlReply);
      } catch {
        next.reject(new Error('bench server sent a control reply that is not JSON'));
      }
    });
    socket.on('data', (d: Buffer) => {
      try {
        push(d);
      } catch (err) {
        this.fail(err as Error);
      }
    });
    socket.on('error', (err) => this.fail(err));
    socket.on('close', () => this.fail(new Error('bench server closed the control connection')));
  }

  static connect(host: string, port: number, timeoutMs = 5000): Promise<ControlClient> {
    return new Promise((resolve, reject) => {
      const socket = net.connect({ host, port, noDelay: true });
      const timer = setTimeout(() => {
        socket.destroy();
        reject(new Error(`no bench server answered at ${host}:${port} within ${timeoutMs} ms`));
      }, timeoutMs);
      socket.once('error', (err) => {
        clearTimeout(timer);
        reject(new Error(`cannot reach the bench server at ${host}:${port}: ${err.message}`));
      });
      socket.once('connect', () => {
        clearTimeout(timer);
        socket.removeAllListeners('error');
        resolve(new ControlClient(socket));
      });
    });
  }

  private fail(err: Error): void {
    if (this.failure) return;
    this.failure = err;
    for (const w of this.waiting.splice(0)) w.reject(err);
  }

  private request(req: ControlRequest): Promise<ControlReply> {
    if (this.failure) return Promise.reject(this.failure);
    return new Promise((resolve, reject) => {
      this.waiting.push({ resolve, reject });
      this.socket.write(`${JSON.stringify(req)}\n`);
    });
  }

  async hello(): Promise<ServerInfo> {
    const r = await this.request({ op: 'hello' });
    if (!r.ok) throw new Error(`bench server refused hello: ${r.error}`);
    const info = r as unknown as ServerInfo;
    if (info.version !== PROTOCOL_VERSION) {
      throw new Error(`bench server speaks protocol ${info.version}, this client ${PROTOCOL_VERSION}`);
    }
    return info;
  }

  async sinkStats(run: number): Promise<SinkStats> {
    const r = await this.request({ op: 'sink-stats', run });
    if (!r.ok) throw new Error(`bench server refused sink-stats: ${r.error}`);
    return r as unknown as SinkStats;
  }

  close(): void {
    this.failure ??= new Error('control connection closed');
    this.socket.destroy();
  }
}
