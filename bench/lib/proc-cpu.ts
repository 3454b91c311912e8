/**
 * CPU time per thread of another process and of the whole machine, read from Linux's /proc, so a
 * benchmark can say where the cores went (which thread of a server limits it) rather than only how
 * fast it was. Elsewhere (no /proc) the readers return undefined and the benchmark leaves the
 * columns out.
 */
import { readdirSync, readFileSync } from 'node:fs';

/** Clock ticks per second of /proc's times (USER_HZ: 100 on Linux for every architecture we run on). */
const TICKS_PER_SECOND = 100;

/** CPU seconds (user + system) per thread id, with the thread's name. */
export type ThreadTimes = Map<number, { name: string; seconds: number }>;

/** Every thread of `pid` with its CPU seconds so far; undefined without /proc. */
export function threadTimes(pid: number): ThreadTimes | undefined {
  let tids: string[];
  try {
    tids = readdirSync(`/proc/${pid}/task`);
  } catch {
    return undefined;
  }
  const out: ThreadTimes = new Map();
  for (const tid of tids) {
    let stat: string;
    try {
      stat = readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8');
    } catch {
      continue; // The thread ended meanwhile.
    }
    // "tid (name) state …": the name may hold spaces and parentheses, so split after the last ')'.
    const close = stat.lastIndexOf(')');
    const name = stat.slice(stat.indexOf('(') + 1, close);
    const rest = stat.slice(close + 2).split(' ');
    // Fields 14 and 15 of the stat line (utime, stime) are 12 and 13 after the name.
    const ticks = Number(rest[11]) + Number(rest[12]);
    out.set(Number(tid), { name, seconds: ticks / TICKS_PER_SECOND });
  }
  return out;
}

/** The machine's busy and total CPU seconds so far (all cores); undefined without /proc. */
export function machineTimes(): { busy: number; total: number } | undefined {
  let line: string;
  try {
    line = readFileSync('/proc/stat', 'utf8').split('\n')[0]!;
  } catch {
    return undefined;
  }
  // cpu user nice system idle iowait irq softirq steal …
  const v = line.trim().split(/\s+/).slice(1).map(Number);
  const total = v.reduce((a, b) => a + b, 0);
  const idle = (v[3] ?? 0) + (v[4] ?? 0);
  return { busy: (total - idle) / TICKS_PER_SECOND, total: total / TICKS_PER_SECOND };
}

export interface ThreadShare {
  /** The process's main thread. */
  main: number;
  /** Its busiest other thread (a server's writer thread, when it has one). */
  busiestOther: number;
  /** Every other thread together. */
  rest: number;
}

/** CPU seconds spent between two snapshots of the same process, by role of thread. */
export function threadShare(pid: number, before: ThreadTimes, after: ThreadTimes): ThreadShare {
  const spent: number[] = [];
  let main = 0;
  for (const [tid, t] of after) {
    const d = t.seconds - (before.get(tid)?.seconds ?? 0);
    if (tid === pid) main = d;
    else spent.push(d);
  }
  spent.sort((a, b) => b - a);
  const busiestOther = spent[0] ?? 0;
  const rest = spent.slice(1).reduce((a, b) => a + b, 0);
  return { main, busiestOther, rest };
}
