/**
 * The device client's queue of unacknowledged alarms, kept in a small append-only file so it
 * survives the client's own restart: `+ <json>` when an alarm is queued (written before it is
 * sent), `- <alarmId> <event>` when its ACK arrives. Opening the file replays it; when the file
 * holds many settled entries it is rewritten (to a temporary file, then renamed) with only the
 * pending ones. A torn last line from a crash is ignored.
 *
 * `sync: 'always'` fsyncs every append (survives power loss); `'none'` leaves it to the OS page
 * cache, which still survives a crash of the process itself.
 */
import { closeSync, existsSync, fsyncSync, openSync, readFileSync, renameSync, writeSync } from 'node:fs';
import type { DeviceAlarm } from './alarm-frame.ts';

export type JournalSync = 'always' | 'none';

export function alarmKey(a: { alarmId: string; event: string }): string {
  return `${a.alarmId} ${a.event}`;
}

export class AlarmJournal {
  readonly file: string;
  readonly #sync: JournalSync;
  #fd: number;
  readonly #pending = new Map<string, DeviceAlarm>();
  #settled = 0;

  constructor(file: string, sync: JournalSync = 'always') {
    this.file = file;
    this.#sync = sync;
    if (existsSync(file)) this.#replay(readFileSync(file, 'utf8'));
    this.#fd = openSync(file, 'a', 0o600);
    if (this.#settled > 1000) this.compact();
  }

  #replay(text: string): void {
    for (const line of text.split('\n')) {
      if (line.startsWith('+ ')) {
        try {
          const a = JSON.parse(line.slice(2)) as DeviceAlarm;
          this.#pending.set(alarmKey(a), a);
        } catch {
          // A torn line from a crash mid-write: the alarm was never sent, so nothing waits for it.
        }
      } else if (line.startsWith('- ')) {
        if (this.#pending.delete(line.slice(2))) this.#settled++;
      }
    }
  }

  /** Pending alarms in the order they were queued. */
  pending(): DeviceAlarm[] {
    return [...this.#pending.values()];
  }

  get size(): number {
    return this.#pending.size;
  }

  has(a: { alarmId: string; event: string }): boolean {
    return this.#pending.has(alarmKey(a));
  }

  add(a: DeviceAlarm): void {
    this.#write(`+ ${JSON.stringify(a)}\n`);
    this.#pending.set(alarmKey(a), a);
  }

  settle(a: { alarmId: string; event: string }): boolean {
    const key = alarmKey(a);
    if (!this.#pending.delete(key)) return false;
    this.#write(`- ${key}\n`);
    this.#settled++;
    if (this.#settled > 10_000 && this.#settled > 4 * this.#pending.size) this.compact();
    return true;
  }

  #write(line: string): void {
    writeSync(this.#fd, line);
    if (this.#sync === 'always') fsyncSync(this.#fd);
  }

  /** Rewrites the file with only the pending alarms. */
  compact(): void {
    const tmp = `${this.file}.tmp`;
    const fd = openSync(tmp, 'w', 0o600);
    for (const a of this.#pending.values()) writeSync(fd, `+ ${JSON.stringify(a)}\n`);
    fsyncSync(fd);
    closeSync(fd);
    closeSync(this.#fd);
    renameSync(tmp, this.file);
    this.#fd = openSync(this.file, 'a', 0o600);
    this.#settled = 0;
  }

  close(): void {
    closeSync(this.#fd);
  }
}
