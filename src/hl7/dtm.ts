// HL7 DTM/TS values (YYYY[MM[DD[HH[MM[SS[.S[S[S[S]]]]]]]]][+/-ZZZZ]) to epoch milliseconds.

const DTM = /^(\d{4})(\d{2})?(\d{2})?(\d{2})?(\d{2})?(\d{2})?(?:\.(\d{1,4}))?([+-]\d{4})?$/;

/**
 * Milliseconds since the epoch, or undefined when `text` is empty or not a valid DTM. A value
 * without an offset is read as UTC: HL7 would take the sender's local time, which a receiver in
 * another zone cannot know; senders that care write the offset (PCD-01 requires it).
 */
export function parseHl7Time(text: string): number | undefined {
  // A message repeats the same few times (MSH-7, OBR-7, each OBX-14): remember the last ones.
  if (text === '') return undefined;
  const hit = memo.get(text);
  if (hit !== undefined) return hit === null ? undefined : hit;
  const t = parseUncached(text);
  if (memo.size >= 256) memo.clear();
  memo.set(text, t ?? null);
  return t;
}

const memo = new Map<string, number | null>();

function parseUncached(text: string): number | undefined {
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
