/**
 * Rejected datagrams and frames are hostile or broken input: each is counted (cheap), a log line
 * is written at most once per `logEveryMs` per reason (a flood must not flood the log), and the
 * audit log gets one `telemetry.rejected` security event per burst: written when the burst has
 * been quiet for `quietMs`, or every `maxBurstMs` while it goes on, with the counts by reason and
 * a sample of the addresses and device ids involved.
 */
import type { Logger } from 'pino';
import type { AuditLog } from '../audit/log.ts';

export interface RejectionMonitorOptions {
  source: string;
  audit: AuditLog;
  logger?: Logger | undefined;
  logEveryMs?: number;
  quietMs?: number;
  maxBurstMs?: number;
  now?: () => number;
}

const SAMPLE = 10;

export class RejectionMonitor {
  readonly #o: Required<Omit<RejectionMonitorOptions, 'logger'>> & { logger: Logger | undefined };
  readonly totals = new Map<string, number>();
  readonly #lastLog = new Map<string, number>();
  readonly #suppressed = new Map<string, number>();
  #burst: {
    start: number;
    last: number;
    counts: Map<string, number>;
    addresses: Set<string>;
    devices: Set<string>;
  } | null = null;
  #timer: NodeJS.Timeout | undefined;
  /** Bursts audited so far (tests read it). */
  bursts = 0;

  constructor(o: RejectionMonitorOptions) {
    this.#o = {
      logEveryMs: 5000,
      quietMs: 5000,
      maxBurstMs: 60_000,
      now: Date.now,
      ...o,
      logger: o.logger,
    };
  }

  start(): void {
    this.#timer = setInterval(() => this.check(), Math.min(1000, this.#o.quietMs));
    this.#timer.unref();
  }

  /** Counts one rejection. `security` rejections (bad tag, unknown device, replay) open a burst. */
  reject(
    reason: string,
    address: string,
    deviceId: string | null,
    security: boolean,
    detail?: () => string,
  ): void {
    this.totals.set(reason, (this.totals.get(reason) ?? 0) + 1);
    const now = this.#o.now();
    const last = this.#lastLog.get(reason);
    if (last === undefined || now - last >= this.#o.logEveryMs) {
      const suppressed = this.#suppressed.get(reason) ?? 0;
      this.#lastLog.set(reason, now);
      this.#suppressed.set(reason, 0);
      this.#o.logger?.warn(
        { source: this.#o.source, reason, address, deviceId, suppressed, detail: detail?.() },
        `${this.#o.source}: rejected (${reason})`,
      );
    } else {
      this.#suppressed.set(reason, (this.#suppressed.get(reason) ?? 0) + 1);
    }
    if (!security) return;
    let b = this.#burst;
    if (b === null) {
      b = { start: now, last: now, counts: new Map(), addresses: new Set(), devices: new Set() };
      this.#burst = b;
    }
    b.last = now;
    b.counts.set(reason, (b.counts.get(reason) ?? 0) + 1);
    if (b.addresses.size < SAMPLE) b.addresses.add(address);
    if (deviceId !== null && b.devices.size < SAMPLE) b.devices.add(deviceId);
  }

  /** Closes a burst that went quiet or ran too long (the timer calls it; tests may too). */
  check(force = false): Promise<void> | undefined {
    const b = this.#burst;
    if (b === null) return undefined;
    const now = this.#o.now();
    if (!force && now - b.last < this.#o.quietMs && now - b.start < this.#o.maxBurstMs) return undefined;
    this.#burst = null;
    this.bursts++;
    const total = [...b.counts.values()].reduce((a, n) => a + n, 0);
    return this.#o.audit
      .append({
        type: 'telemetry.rejected',
        action: 'E',
        outcome: 4,
        source: this.#o.source,
        agent: { address: [...b.addresses][0] },
        detail: {
          total,
          byReason: Object.fromEntries(b.counts),
          addresses: [...b.addresses],
          deviceIds: [...b.devices],
          from: new Date(b.start).toISOString(),
          to: new Date(b.last).toISOString(),
        },
      })
      .then(
        () => undefined,
        (err: unknown) => this.#o.logger?.error({ err }, 'auditing rejected telemetry failed'),
      );
  }

  async stop(): Promise<void> {
    if (this.#timer) clearInterval(this.#timer);
    await this.check(true);
  }
}
