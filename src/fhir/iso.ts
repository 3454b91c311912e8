/**
 * Milliseconds since the epoch as an ISO 8601 UTC instant (`2024-03-05T10:00:00.000Z`), the same
 * text as `new Date(ms).toISOString()` for years 0000-9999. A search page formats three instants
 * per Observation; `toISOString` was 9 % of a search's CPU profile, this integer arithmetic
 * (Howard Hinnant's days-to-civil algorithm) is several times cheaper.
 */
const P2 = Array.from({ length: 100 }, (_, i) => (i < 10 ? `0${i}` : String(i)));

export function isoInstant(ms: number): string {
  if (!Number.isFinite(ms) || ms < -62167219200000 || ms > 253402300799999) return new Date(ms).toISOString();
  const days = Math.floor(ms / 86_400_000);
  let rem = ms - days * 86_400_000;
  const h = Math.floor(rem / 3_600_000);
  rem -= h * 3_600_000;
  const mi = Math.floor(rem / 60_000);
  rem -= mi * 60_000;
  const s = Math.floor(rem / 1000);
  const milli = rem - s * 1000;
  const z = days + 719468;
  const era = Math.floor(z / 146097);
  const doe = z - era * 146097;
  const yoe = Math.floor(
    (doe - Math.floor(doe / 1460) + Math.floor(doe / 36524) - Math.floor(doe / 146096)) / 365,
  );
  const doy = doe - (365 * yoe + Math.floor(yoe / 4) - Math.floor(yoe / 100));
  const mp = Math.floor((5 * doy + 2) / 153);
  const d = doy - Math.floor((153 * mp + 2) / 5) + 1;
  const m = mp < 10 ? mp + 3 : mp - 9;
  const y = yoe + era * 400 + (m <= 2 ? 1 : 0);
  const ys = y >= 1000 ? String(y) : String(y).padStart(4, '0');
  const ms3 = milli < 10 ? `00${milli}` : milli < 100 ? `0${milli}` : String(milli);
  return `${ys}-${P2[m]}-${P2[d]}T${P2[h]}:${P2[mi]}:${P2[s]}.${ms3}Z`;
}
