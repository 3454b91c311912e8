/**
 * The floor of the HL7 benchmark: the least a Node MLLP server can do per message, measured with
 * the same senders as CareWire and @medplum/hl7 to show what the machine itself allows.
 *
 *   - `bare`: find each frame's end, read MSH-10 from the first segment, write a fixed AA ACK.
 *     No parsing, no storage: the socket reads and writes, the event loop and nothing else.
 *   - `durable`: the same, but each frame is first appended to a file and the ACKs of a batch are
 *     written only after that batch's fdatasync (group commit, one batch in flight at a time).
 *     This is the cheapest durable acknowledgement there is: one sequential write per batch.
 *
 * Frames are cut by CareWire's own deframer (src/hl7/mllp.ts), so the floor is CareWire's transport
 * without its message handling; the rest is the least there is, written out here.
 */
import { type FileHandle, open } from 'node:fs/promises';
import net from 'node:net';
import { MllpDeframer, frame as mllpFrame } from '../../src/hl7/mllp.ts';

const CR = 0x0d;

/** A fixed AA acknowledgement, framed, echoing the message's MSH-10 (the field after the ninth `|`). */
export function floorAck(message: Buffer): Buffer {
  const eol = message.indexOf(CR);
  const controlId = message.toString('latin1', 0, eol < 0 ? message.length : eol).split('|')[9] ?? '';
  return mllpFrame(`MSH|^~\\&|FLOOR||||20260101000000||ACK|${controlId}|P|2.6\rMSA|AA|${controlId}\r`);
}

/** Appends frames to one file and acknowledges each batch after its fdatasync. */
class GroupCommitFile {
  readonly #file: FileHandle;
  #batch: Array<{ frame: Buffer; ack: () => void; fail: () => void }> = [];
  #committing: Promise<void> | undefined;

  constructor(file: FileHandle) {
    this.#file = file;
  }

  /** `ack` runs once the frame is durable; `fail` if it could not be made so (never both). */
  add(frame: Buffer, ack: () => void, fail: () => void): void {
    this.#batch.push({ frame, ack, fail });
    this.#committing ??= this.#commit().finally(() => {
      this.#committing = undefined;
    });
  }

  async #commit(): Promise<void> {
    // Frames that arrive while a batch is being synced wait for the next one.
    while (this.#batch.length > 0) {
      const batch = this.#batch;
      this.#batch = [];
      try {
        await this.#file.appendFile(Buffer.concat(batch.map((b) => b.frame))); // loops on short writes
        await this.#file.datasync();
      } catch {
        // Not durable: no ACK. The sender's connection is dropped, so it resends elsewhere.
        for (const b of batch) b.fail();
        continue;
      }
      for (const b of batch) b.ack();
    }
  }

  async close(): Promise<void> {
    await this.#committing;
    await this.#file.close();
  }
}

export interface FloorServer {
  server: net.Server;
  port: number;
  close(): Promise<void>;
}

/** Listens on a free loopback port; `durableFile` makes it the durable floor. */
export async function startFloorServer(durableFile?: string): Promise<FloorServer> {
  const log = durableFile ? new GroupCommitFile(await open(durableFile, 'a')) : undefined;
  const server = net.createServer((socket) => {
    socket.setNoDelay(true);
    const deframer = new MllpDeframer();
    socket.on('data', (chunk: Buffer) => {
      for (const message of deframer.push(chunk)) {
        const ack = floorAck(message);
        if (!log) socket.write(ack);
        else
          log.add(
            message,
            () => socket.writable && socket.write(ack),
            () => socket.destroy(),
          );
      }
    });
    socket.on('error', () => socket.destroy());
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    server,
    port: (server.address() as net.AddressInfo).port,
    async close() {
      await new Promise<void>((r) => server.close(() => r()));
      await log?.close();
    },
  };
}
