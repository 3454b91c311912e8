// HL7 DTM/TS values (YYYY[MM[DD[HH[MM[SS[.S[S[S[S]]]]]]]]][+/-ZZZZ]) to epoch milliseconds.

const DTM = /^(\d{4})(\d{2})?(\d{2})?(\d{2})?(\d{2})?(\d{2})?(?:\.(\d{1,4}))?([+-]\d{4})?$/;

/**
 * Milliseconds since the epoch, or undefined when `text` is empty or not a valid DTM. A value
 * without an offset is the sender's local time (HL7 v2.5 §2.A.22): it is read in `zone`, an IANA
 * time zone the gateway is configured with (`--hl7-timezone`, by default the server's own), as
 * the wall-clock time it names there (summer time included). A value with an offset is exact.
 */
export function parseHl7Time(text: string, zone = 'UTC'): number | undefined {
  // A message repeats the same few times (MSH-7, OBR-7, each OBX-14): remember the last ones.
  if (text === '') return undefined;
  let memo = memos.get(zone);
  if (memo === undefined) {
    if (memos.size >= 16) memos.clear();
    memo = new Map();
    memos.set(zone, memo);
  }
  const hit = memo.get(text);
  if (hit !== undefined) return hit === null ? undefined : hit;
  const t = parseUncached(text, zone);
  if (memo.size >= 256) memo.clear();
  memo.set(text, t ?? null);
  return t;
}

const memos = new Map<string, Map<string, number | null>>();

/** Whether `zone` is an IANA time zone this runtime knows. */
export function isTimeZone(zone: string): boolean {
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: zone });
    return true;
  } catch {
    return false;
  }
}

const formats = new Map<string, Intl.DateTimeFormat>();

/** `zone`'s offset from UTC at instant `t`, ms (positive east of Greenwich). */
function offsetAt(t: number, zone: string): number {
  let f = formats.get(zone);
  if (f === undefined) {
    f = new Intl.DateTimeFormat('en-US', {
      timeZone: zone,
      hourCycle: 'h23',
      year: 'numeric',
      month: 'numeric',
      day: 'numeric',
      hour: 'numeric',
      minute: 'numeric',
      second: 'numeric',
    });
    formats.set(zone, f);
  }
  const p: Record<string, number> = {};
  for (const part of f.formatToParts(t)) if (part.type !== 'literal') p[part.type] = Number(part.value);
  const wall = Date.UTC(p.year!, p.month! - 1, p.day!, p.hour!, p.minute!, p.second!);
  return wall - Math.floor(t / 1000) * 1000;
}

/**
 * The instant at which `zone`'s clocks show the wall time `wall` (given as if it were UTC). In the
 * hour skipped when clocks go forward the earlier offset applies; in the hour repeated when they
 * go back, the first occurrence.
 */
function fromWallTime(wall: number, zone: string): number {
  if (zone === 'UTC') return wall;
  // The offsets a day either side: equal, except across a change of clocks.
  const before = offsetAt(wall - DAY_MS, zone);
  const after = offsetAt(wall + DAY_MS, zone);
  const shows = (t: number) => t + offsetAt(t, zone) === wall;
  const fits = [wall - before, wall - after].filter(shows);
  // A repeated hour fits twice (the first occurrence wins); a skipped one never (earlier offset).
  return fits.length > 0 ? Math.min(...fits) : wall - before;
}

const DAY_MS = 86_400_000;

function parseUncached(text: string, zone: string): number | undefined {
  const m = DTM.exec(text.trim());
  if (!m) return undefined;
  const year = Number(m[1]);
  const month = m[2] ? Number(m[2]) : 1;
  const day = m[3] ? Number(m[3]) : 1;
  const hour = m[4] ? Number(m[4]) : 0;
  const minute = m[5] ? Number(m[5]) : 0;
  const second = m[6] ? Number(m[6]) : 0;
  const ms = m[7] ? Math.round(Number(`0.${m[7]}`) * 1000) : 0;
  if (month < 1 || month > 12 || day < 1 || day > 31 || hour > 23 || minute > 59 || second > 59) {
    return undefined;
  }
  let t = Date.UTC(year, month - 1, day, hour, minute, second, ms);
  // Date.UTC rolls 31 February over into March; a real date maps back to the same day.
  if (new Date(t).getUTCDate() !== day) return undefined;
  if (m[8]) {
    const sign = m[8][0] === '-' ? -1 : 1;
    const oh = Number(m[8].slice(1, 3));
    const om = Number(m[8].slice(3, 5));
    if (oh > 14 || om > 59) return undefined;
    t -= sign * (oh * 60 + om) * 60_000;
  } else {
    t = fromWallTime(t, zone);
  }
  return t;
}

/** `YYYY-MM-DD` of a DTM's date part (PID-7 birth date), or undefined when it has no valid full date. */
export function hl7Date(text: string): string | undefined {
  const hit = dates.get(text);
  if (hit !== undefined) return hit === null ? undefined : hit;
  const d = dateUncached(text);
  if (dates.size >= 1024) dates.clear();
  dates.set(text, d ?? null);
  return d;
}

const dates = new Map<string, string | null>();

function dateUncached(text: string): string | undefined {
  const d = text.trim().slice(0, 8);
  if (!/^\d{8}$/.test(d)) return undefined;
  const iso = `${d.slice(0, 4)}-${d.slice(4, 6)}-${d.slice(6, 8)}`;
  const t = Date.parse(`${iso}T00:00:00Z`);
  return Number.isNaN(t) || new Date(t).toISOString().slice(0, 10) !== iso ? undefined : iso;
}
