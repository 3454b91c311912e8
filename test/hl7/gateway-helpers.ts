/** Helpers for the HL7 gateway tests: a running app, raw MLLP exchanges, stored rows. */
import net from 'node:net';
import { frame, MllpDeframer } from '../../src/hl7/mllp.ts';
import type { Services } from '../../src/services.ts';
import { type EngineName, startTestApp, type TestApp } from '../helpers/app.ts';

export interface Hl7App extends TestApp {
  port: number;
}

export async function startHl7App(
  engine: EngineName,
  flags: Record<string, unknown> = {},
  beforeListen?: (s: Services) => Promise<void>,
): Promise<Hl7App> {
  const t = await startTestApp(engine, flags, beforeListen);
  const port = t.app.ports.hl7;
  if (port === undefined) throw new Error('no hl7 port in ports');
  return Object.assign(t, { port });
}

export interface Exchange {
  /** ACK payloads received, as latin1 text. */
  replies: string[];
  /** The server closed the connection. */
  closed: boolean;
}

/**
 * Writes `chunks` (one write each, with a turn of the event loop between) and collects replies
 * until `expect` have arrived, the server closes, or `timeoutMs` passes (then resolves anyway).
 */
export function exchange(
  port: number,
  chunks: readonly Uint8Array[],
  opts: { expect?: number; timeoutMs?: number; endAfterWrite?: boolean } = {},
): Promise<Exchange> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host: '127.0.0.1', port });
    const deframer = new MllpDeframer({ maxFrameSize: 8 * 1024 * 1024 });
    const replies: string[] = [];
    let done = false;
    const finish = (closed: boolean) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      socket.destroy();
      resolve({ replies, closed });
    };
    const timer = setTimeout(() => finish(false), opts.timeoutMs ?? 10_000);
    socket.on('data', (d) => {
      for (const f of deframer.push(d)) replies.push(f.toString('latin1'));
      if (opts.expect !== undefined && replies.length >= opts.expect) finish(false);
    });
    socket.on('close', () => finish(true));
    socket.on('error', (err) => {
      if (!done && (err as NodeJS.ErrnoException).code !== 'ECONNRESET') reject(err);
    });
    socket.on('connect', async () => {
      for (const c of chunks) {
        socket.write(c);
        await new Promise((r) => setImmediate(r));
      }
      if (opts.endAfterWrite) socket.end();
    });
  });
}

/** The standard wire form: CR terminators. */
export function cr(text: string): string {
  return text.replace(/\r\n|\n/g, '\r');
}

export function framed(text: string): Buffer {
  return frame(Buffer.from(text, 'utf8'));
}

/** MSA-1 and MSA-2 of an ACK text. */
export function msa(ack: string): { code: string; controlId: string } {
  const seg = ack.split('\r').find((s) => s.startsWith('MSA'));
  if (!seg) throw new Error(`no MSA segment in ${JSON.stringify(ack)}`);
  const sep = ack[3]!;
  const f = seg.split(sep);
  return { code: f[1] ?? '', controlId: f[2] ?? '' };
}

/** ERR segments of an ACK text. */
export function errSegments(ack: string): string[] {
  return ack.split('\r').filter((s) => s.startsWith('ERR'));
}

export async function storedRows(s: Services) {
  return s.store.db.selectFrom('hl7_messages').selectAll().orderBy('id').execute();
}

/** The observations stored for these message rows (by `source_ref`, the message id). */
export function observationsOf(s: Services, rows: ReadonlyArray<{ id: number }>) {
  return s.store.db
    .selectFrom('observations')
    .select(['patient_id', 'source_ref'])
    .where(
      'source_ref',
      'in',
      rows.map((x) => String(x.id)),
    )
    .execute();
}
