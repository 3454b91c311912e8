/**
 * The UDP receive thread (see udp-receiver.ts): owns the vitals socket, decodes each datagram and
 * checks its tag under the device key, and hands the results to the main thread once per turn of
 * this thread's event loop, packed into one Float64Array and a string table.
 */
import type { KeyObject } from 'node:crypto';
import dgram from 'node:dgram';
import { parentPort, workerData } from 'node:worker_threads';
import { decodeDatagram, verifyDatagram } from './datagram.ts';
import {
  ACCEPTED,
  MAX_RECORD_NUMBERS,
  REJECTED,
  type ReceiverCommand,
  type ReceiverEvent,
  type ReceiverStart,
} from './udp-receiver.ts';

const port = parentPort;
if (!port) throw new Error('udp-receiver-worker runs as a worker thread only');
const start = workerData as ReceiverStart;

let keys = new Map<string, KeyObject>();
let keysLoaded = false;
let boundPort: number | undefined;

const CAPACITY = 64 * 1024;
const scratch = new Float64Array(CAPACITY);
let used = 0;
let count = 0;
let strings: string[] = [];
let stringIndex = new Map<string, number>();
let scheduled = false;

function post(event: ReceiverEvent, transfer: ArrayBuffer[] = []): void {
  port?.postMessage(event, transfer);
}

function str(s: string): number {
  let i = stringIndex.get(s);
  if (i === undefined) {
    i = strings.length;
    strings.push(s);
    stringIndex.set(s, i);
  }
  return i;
}

function flush(): void {
  scheduled = false;
  if (count === 0) return;
  // A right-sized copy moves to the main thread; the scratch array stays here for the next batch.
  const numbers = scratch.slice(0, used).buffer;
  post({ type: 'batch', numbers, count, strings }, [numbers]);
  used = 0;
  count = 0;
  strings = [];
  stringIndex = new Map();
}

function reject(reason: string, address: number, deviceId: string | null, detail: string): false {
  const s = scratch;
  s[used] = REJECTED;
  s[used + 1] = deviceId === null ? -1 : str(deviceId);
  s[used + 2] = address;
  s[used + 3] = str(reason);
  s[used + 4] = str(detail);
  used += 5;
  return false;
}

/** Adds one datagram's record to the batch; true when it was accepted. */
function receive(msg: Buffer, address: string): boolean {
  if (used + MAX_RECORD_NUMBERS > CAPACITY) flush();
  count++;
  const a = str(address);
  const decoded = decodeDatagram(msg);
  if (!decoded.ok) return reject(decoded.error.reason, a, null, decoded.error.message);
  const d = decoded.value;
  const key = keys.get(d.deviceId);
  if (key === undefined) return reject('unknown_device', a, d.deviceId, 'device is not registered');
  const verified = verifyDatagram(d, key);
  if (!verified.ok) return reject(verified.error.reason, a, d.deviceId, verified.error.message);
  const v = verified.value;
  const s = scratch;
  s[used] = ACCEPTED;
  s[used + 1] = str(v.deviceId);
  s[used + 2] = a;
  s[used + 3] = v.sequence;
  s[used + 4] = v.timestamp;
  s[used + 5] = v.flags;
  s[used + 6] = v.measurements.length;
  let o = used + 7;
  for (const m of v.measurements) {
    s[o] = m.code;
    s[o + 1] = m.value;
    o += 2;
  }
  used = o;
  return true;
}

function maybeReady(): void {
  if (keysLoaded && boundPort !== undefined) {
    post({ type: 'ready', port: boundPort, recvBufferBytes: socket.getRecvBufferSize() });
  }
}

const socket = dgram.createSocket({ type: start.type, recvBufferSize: start.recvBufferSize });
socket.on('message', (msg, rinfo) => {
  receive(msg, rinfo.address);
  // Everything this turn read (libuv reads up to 32 datagrams per wake-up) goes as one batch.
  if (!scheduled) {
    scheduled = true;
    setImmediate(flush);
  }
});
socket.on('error', (err) => post({ type: 'error', message: err.message }));

port.on('message', (c: ReceiverCommand) => {
  if (c.type === 'keys') {
    keys = new Map(c.keys);
    if (!keysLoaded) {
      keysLoaded = true;
      maybeReady();
    }
    return;
  }
  socket.close(() => {
    flush();
    post({ type: 'closed' });
    port.close();
  });
});

socket.bind(start.port, start.host, () => {
  try {
    socket.setRecvBufferSize(start.recvBufferSize);
  } catch {
    // Capped by the kernel; the size actually granted is reported with 'ready'.
  }
  boundPort = socket.address().port;
  maybeReady();
});
