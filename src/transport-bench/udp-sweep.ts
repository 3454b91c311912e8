/**
 * UDP at rising send rates: the client sends numbered datagrams at a target rate for a fixed
 * time, then asks the server how many arrived, how many out of order and how many twice. Rates
 * double until datagrams go missing (or the sender itself cannot keep up), which is where a
 * vitals stream would start to lose samples with nobody being told.
 */
import dgram from 'node:dgram';
import net from 'node:net';
import type { ControlClient } from './control-client.ts';
import { SINK_HEADER_BYTES } from './protocol.ts';

export interface SweepSpec {
  host: string;
  port: number;
  control: ControlClient;
  size: number;
  /** Seconds per rate step. */
  seconds: number;
  startRate: number;
  maxRate: number;
  /** Loss above this fraction (e.g. 0.001 = 0.1 %) ends the sweep. */
  lossThreshold: number;
  onStep?: (step: SweepStep) => void;
}

export interface SweepStep {
  targetRate: number;
  /** Rate the sender really achieved (datagrams per second). */
  sentRate: number;
  sent: number;
  received: number;
  deliveredPct: number;
  reordered: number;
  duplicates: number;
}

export interface SweepResult {
  size: number;
  secondsPerStep: number;
  steps: SweepStep[];
  /** First target rate with loss above the threshold, or null if none up to maxRate. */
  lossAtRate: number | null;
  /** True when the sweep stopped because the sender could not reach the target rate. */
  senderLimited: boolean;
}

/** Most datagrams sent in one turn of the event loop, so the send loop never starves the rest. */
const MAX_BURST = 512;

/** Sends `rate` datagrams per second for `seconds`, each with [run, seq] in front. */
function sendAtRate(
  sock: dgram.Socket,
  run: number,
  size: number,
  rate: number,
  seconds: number,
): Promise<{ sent: number; elapsed: number }> {
  const total = Math.max(1, Math.round(rate * seconds));
  const template = Buffer.alloc(size, 0x5a);
  let sent = 0;
  const t0 = performance.now();
  return new Promise((resolve, reject) => {
    const tick = (): void => {
      const due = Math.min(total, Math.floor(((performance.now() - t0) / 1000) * rate) + 1);
      let burst = 0;
      while (sent < due && burst < MAX_BURST) {
        // A fresh buffer per datagram: dgram may queue a send, and the number must not change under it.
        const b = Buffer.allocUnsafe(size);
        template.copy(b);
        b.writeUInt32BE(run, 0);
        b.writeUInt32BE(sent, 4);
        sock.send(b);
        sent++;
        burst++;
      }
      if (sent >= total) {
        resolve({ sent, elapsed: (performance.now() - t0) / 1000 });
        return;
      }
      // Behind schedule: go again at once; ahead: sleep a millisecond rather than spin.
      if (sent < due || burst === MAX_BURST) setImmediate(tick);
      else setTimeout(tick, 1);
    };
    sock.once('error', reject);
    tick();
  });
}

export async function udpSweep(spec: SweepSpec): Promise<SweepResult> {
  if (spec.size < SINK_HEADER_BYTES)
    throw new RangeError(`sweep datagrams need ≥ ${SINK_HEADER_BYTES} bytes`);
  const sock = dgram.createSocket(net.isIPv6(spec.host) ? 'udp6' : 'udp4');
  await new Promise<void>((resolve, reject) => {
    sock.once('error', reject);
    sock.connect(spec.port, spec.host, () => {
      sock.off('error', reject);
      resolve();
    });
  });
  const steps: SweepStep[] = [];
  let lossAtRate: number | null = null;
  let senderLimited = false;
  // Run ids differ per sweep so a straggler of an earlier run cannot count in this one.
  let run = (Math.random() * 0x7fffffff) >>> 0;
  try {
    for (let rate = spec.startRate; rate <= spec.maxRate; rate *= 2) {
      run = (run + 1) >>> 0;
      const { sent, elapsed } = await sendAtRate(sock, run, spec.size, rate, spec.seconds);
      // Let the last datagrams cross and the server's loop count them.
      await new Promise((r) => setTimeout(r, 50));
      const stats = await spec.control.sinkStats(run);
      const step: SweepStep = {
        targetRate: rate,
        sentRate: Math.round(sent / elapsed),
        sent,
        received: stats.received,
        deliveredPct: (100 * stats.received) / sent,
        reordered: stats.reordered,
        duplicates: stats.duplicates,
      };
      steps.push(step);
      spec.onStep?.(step);
      if (1 - stats.received / sent > spec.lossThreshold) {
        lossAtRate = rate;
        break;
      }
      if (step.sentRate < 0.8 * rate) {
        senderLimited = true;
        break;
      }
    }
  } finally {
    sock.close();
  }
  return { size: spec.size, secondsPerStep: spec.seconds, steps, lossAtRate, senderLimited };
}
