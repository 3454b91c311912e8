/**
 * The benchmarks' /proc readers: a thread that burns CPU is found as the busiest other thread of
 * its process, its time is not given to the main thread, and the machine's counters add up.
 */
import { Worker } from 'node:worker_threads';
import { describe, expect, it } from 'vitest';
import { machineTimes, threadShare, threadTimes } from '../../bench/lib/proc-cpu.ts';

describe('per-thread CPU from /proc', () => {
  it('charges a busy worker thread to the busiest other thread, not to the main thread', async () => {
    // Burns 400 ms of its own thread's CPU (however long that takes on a loaded machine) while
    // this one waits, then stays alive (a thread that has exited is no longer listed).
    const w = new Worker(
      `const { parentPort } = require('node:worker_threads');
       parentPort.once('message', () => {
         const start = process.threadCpuUsage();
         for (;;) {
           const used = process.threadCpuUsage(start);
           if (used.user + used.system >= 400_000) break;
         }
         parentPort.postMessage('spun');
       });`,
      { eval: true },
    );
    await new Promise((resolve) => w.once('online', resolve));
    const before = threadTimes(process.pid);
    const machine0 = machineTimes();
    w.postMessage('go');
    await new Promise((resolve) => w.once('message', resolve));
    const after = threadTimes(process.pid);
    const machine1 = machineTimes();
    await w.terminate();
    expect(before?.get(process.pid)).toBeDefined();
    const share = threadShare(process.pid, before!, after!);
    expect(share.busiestOther).toBeGreaterThan(0.2);
    expect(share.busiestOther).toBeGreaterThan(share.main);
    expect(machine1!.total).toBeGreaterThan(machine0!.total);
    expect(machine1!.busy - machine0!.busy).toBeGreaterThan(0.2);
    expect(machine1!.busy - machine0!.busy).toBeLessThanOrEqual(machine1!.total - machine0!.total);
  });

  it('names no threads for a process that does not exist', () => {
    expect(threadTimes(2 ** 22 + 12345)).toBeUndefined();
  });
});
