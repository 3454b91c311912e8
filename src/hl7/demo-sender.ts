// A simulated device for the demo: cycles an ADT^A01 admission, an IHE PCD-01 vitals ORU^R01 and
// a laboratory ORU^R01 over the demo patients, one message per interval, waiting for each ACK.

import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type tls from 'node:tls';
import type { DemoDeviceStarter } from '../simulate/demo-devices.ts';
import { adtA01, DEMO_PATIENTS, demoVitals, labOru, vitalsOru } from './demo-messages.ts';
import { Hl7Sender, type SendOutcome } from './sender.ts';

export interface DemoSenderOptions {
  host: string;
  port: number;
  tls?: boolean | tls.ConnectionOptions | undefined;
  intervalMs: number;
  /** Stop after this many messages (default: run until stopped). */
  count?: number | undefined;
  timeoutMs?: number;
  onResult?: (what: string, outcome: SendOutcome) => void;
}

export interface DemoSender {
  readonly sent: number;
  /** Resolves when the sender stopped (after `count` messages or `stop()`). */
  readonly done: Promise<void>;
  stop(): Promise<void>;
}

/** The n-th demo message: ADT, vitals, lab in turn, over the demo patients. */
export function demoMessage(n: number, run: string, at = new Date()): { what: string; text: string } {
  const p = DEMO_PATIENTS[Math.floor(n / 3) % DEMO_PATIENTS.length]!;
  const id = `DEMO-${run}-${n}`;
  switch (n % 3) {
    case 0:
      return { what: `ADT^A01 ${p.mrn}`, text: adtA01(p, id, at) };
    case 1:
      return { what: `ORU^R01 vitals ${p.mrn}`, text: vitalsOru(p, id, demoVitals(n, p.mrn.length), at) };
    default:
      return { what: `ORU^R01 lab ${p.mrn}`, text: labOru(p, id, n, at) };
  }
}

export function startDemoSender(opts: DemoSenderOptions): DemoSender {
  const sender = new Hl7Sender({
    host: opts.host,
    port: opts.port,
    tls: opts.tls,
    timeoutMs: opts.timeoutMs ?? 10_000,
    retries: 3,
  });
  const run = randomBytes(3).toString('hex');
  let stopped = false;
  let sent = 0;
  let wake: (() => void) | undefined;
  const done = (async () => {
    // Sends on a fixed schedule (message n at start + n × interval), as a device's clock does: the
    // time spent waiting for an ACK does not stretch the interval.
    const start = performance.now();
    for (let n = 0; !stopped && (opts.count === undefined || n < opts.count); n++) {
      const m = demoMessage(n, run);
      const outcome = await sender.send(m.text);
      sent++;
      opts.onResult?.(m.what, outcome);
      if (stopped || (opts.count !== undefined && n + 1 >= opts.count)) break;
      const due = start + (n + 1) * opts.intervalMs - performance.now();
      if (due > 0) {
        await new Promise<void>((r) => {
          wake = r;
          setTimeout(r, due).unref();
        });
      }
    }
    await sender.close();
  })();
  return {
    get sent() {
      return sent;
    },
    done,
    async stop() {
      stopped = true;
      wake?.();
      await done;
    },
  };
}

/** `carewire demo`'s HL7 device: sends to the demo server's own HL7 port, once a second. */
export const hl7DemoDevice: DemoDeviceStarter = async (app) => {
  const port = app.ports.hl7;
  if (port === undefined) throw new Error('the HL7 gateway is not running');
  const host = app.config.host;
  const tlsOpts = app.tlsCertFile ? { ca: readFileSync(app.tlsCertFile, 'utf8') } : undefined;
  const sender = startDemoSender({
    host,
    port,
    tls: tlsOpts,
    intervalMs: 1000,
    onResult: (what, o) => {
      if (o.code !== 'AA' && o.code !== 'CA') {
        process.stderr.write(`hl7 demo sender: ${what}: ${o.code} ${o.errors.join('; ')}\n`);
      }
    },
  });
  return {
    description: `HL7 sender → ${host}:${port}, ADT^A01 / PCD-01 vitals / lab ORU^R01, 1 message/s`,
    stop: () => sender.stop(),
  };
};
