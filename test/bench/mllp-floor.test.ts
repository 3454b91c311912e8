/**
 * The HL7 benchmark's floor servers answer what CareWire's own client sends, at any split point,
 * and the durable one acknowledges only frames already written to its file.
 */
import { readFileSync, rmSync } from 'node:fs';
import path from 'node:path';
import fc from 'fast-check';
import { afterEach, describe, expect, it } from 'vitest';
import { type FloorServer, floorAck, startFloorServer } from '../../bench/lib/mllp-floor.ts';
import { MllpClient } from '../../src/hl7/client.ts';
import { MllpDeframer } from '../../src/hl7/mllp.ts';
import { tempDir } from '../helpers/app.ts';

const msg = (id: string) => `MSH|^~\\&|MON|WARD|CW|HOSP|20260101120000||ORU^R01|${id}|P|2.6\rPID|||P-1\r`;
const frame = (id: string) => Buffer.from(`\u000b${msg(id)}\u001c\r`, 'latin1');

describe("the floor's framing (CareWire's MllpDeframer) and ACK", () => {
  it('returns every frame once, in order, however the bytes are split', () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 1, max: 40 }), { minLength: 1, maxLength: 30 }), (cuts) => {
        const ids = Array.from({ length: 5 }, (_, i) => `id-${i}`);
        // Junk before the first frame, and a lone 0x1C inside one (not an end without its 0x0D).
        const odd = Buffer.from(`\u000b${msg('odd')}\u001cX\r\u001c\r`, 'latin1');
        const bytes = Buffer.concat([Buffer.from('junk'), ...ids.map(frame), odd]);
        const d = new MllpDeframer();
        const got: string[] = [];
        let at = 0;
        for (const cut of [...cuts, bytes.length]) {
          const next = Math.min(bytes.length, at + cut);
          for (const f of d.push(bytes.subarray(at, next))) got.push(f.toString('latin1'));
          at = next;
          if (at === bytes.length) break;
        }
        expect(got).toEqual([...ids.map(msg), `${msg('odd')}\u001cX\r`]);
      }),
    );
  });

  it('keeps a 0x1C that is not followed by 0x0D inside the frame', () => {
    const odd = Buffer.from(`\u000bMSH|^~\\&|A\u001cB\r\u001c\r`, 'latin1');
    expect(new MllpDeframer().push(odd).map((f) => f.toString('latin1'))).toEqual(['MSH|^~\\&|A\u001cB\r']);
  });

  it('acknowledges with the message control id', () => {
    const ack = floorAck(Buffer.from(msg('ABC-1'), 'latin1')).toString('latin1');
    expect(ack).toContain('\rMSA|AA|ABC-1\r');
    expect(ack.startsWith('\u000bMSH|') && ack.endsWith('\u001c\r')).toBe(true);
  });
});

describe.each(['bare', 'durable'])('the %s floor server', (kind) => {
  let floor: FloorServer | undefined;
  const dir = tempDir('cw-floor-');
  afterEach(async () => {
    await floor?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('answers each message AA with its own control id', async () => {
    const file = path.join(dir, 'frames.log');
    floor = await startFloorServer(kind === 'durable' ? file : undefined);
    const client = await MllpClient.connect({ host: '127.0.0.1', port: floor.port });
    try {
      const ids = Array.from({ length: 20 }, (_, i) => `c-${i}`);
      const acks = await Promise.all(
        ids.map(async (id) => {
          const ack = await client.send(msg(id));
          // Acknowledged only once it is in the file.
          if (kind === 'durable') expect(readFileSync(file, 'latin1')).toContain(msg(id));
          return ack;
        }),
      );
      expect(acks.map((a) => [a.code, a.controlId])).toEqual(ids.map((id) => ['AA', id]));
    } finally {
      await client.close();
    }
  });
});

it('the durable floor drops the connection, never ACKs, when the write fails', async () => {
  const floor = await startFloorServer('/dev/full'); // every write: ENOSPC
  const client = await MllpClient.connect({ host: '127.0.0.1', port: floor.port });
  try {
    await expect(client.send(msg('lost'), { timeoutMs: 5000 })).rejects.toThrow();
  } finally {
    await client.close();
    await floor.close();
  }
});
