/**
 * Vitals coalescing: a monitor may send several samples a second, and a browser drawing 100 tiles
 * needs at most a few updates per second each. Samples of one patient that arrive between two
 * flushes merge into one (sign by sign, newest wins), so flushing every 250 ms caps every
 * patient at 4 updates per second whatever the device rate. Memory is one entry per patient with
 * pending data.
 */
import type { Values, VitalsSample } from './protocol.ts';

export const FLUSH_MS = 250;

export class VitalsCoalescer {
  readonly #pending = new Map<string, VitalsSample>();
  /** Samples merged away since start (for /metrics and tests). */
  merged = 0;

  add(patientId: string, ts: number, values: Values): void {
    const p = this.#pending.get(patientId);
    if (p === undefined) {
      const own: Values = {};
      for (const k in values) {
        const v = values[k as keyof Values];
        if (v !== undefined) own[k as keyof Values] = v;
      }
      this.#pending.set(patientId, { ts, values: own });
      return;
    }
    this.merged++;
    const late = ts < p.ts;
    if (!late) p.ts = ts;
    // Absent signs (undefined keys from the in-process bus) never erase a value; a late sample only
    // fills signs the newer one lacks.
    for (const k in values) {
      const v = values[k as keyof Values];
      if (v === undefined) continue;
      if (!late || p.values[k as keyof Values] === undefined) p.values[k as keyof Values] = v;
    }
  }

  get size(): number {
    return this.#pending.size;
  }

  /** Takes everything pending: one sample per patient. */
  drain(): Map<string, VitalsSample> {
    const out = new Map(this.#pending);
    this.#pending.clear();
    return out;
  }
}
