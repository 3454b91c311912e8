/**
 * FHIR search parameter parsing: the query string split into named parameters with modifiers and
 * comma-separated alternatives, and the value grammars CareWire supports (date with prefixes,
 * token, reference, string, number). Anything not declared by the resource's search definition is
 * refused with 400 (FHIR lets servers ignore unknown parameters; we refuse, so a client never
 * silently gets more data than it asked for).
 */
import { DEFAULT_COUNT, MAX_COUNT } from './constants.ts';
import { fhirError, invalid, notSupported } from './outcome.ts';

export interface SearchParam {
  name: string;
  modifier: string | undefined;
  /** The comma-separated alternatives (OR), unescaped. */
  values: string[];
}

export interface ParamSpec {
  /** Modifiers accepted after `name:`. */
  modifiers?: readonly string[];
  /** May appear more than once (AND)? */
  repeat?: boolean;
  /** May carry several comma-separated values (OR)? */
  multi?: boolean;
}

/** Parameters every search accepts (result and paging parameters). */
const COMMON: Record<string, ParamSpec> = {
  _count: {},
  _cursor: {},
  _total: {},
  _format: {},
};

/** Splits on unescaped commas and removes the FHIR escapes (`\,` `\|` `\$` `\\`). */
export function splitValues(raw: string): string[] {
  const out: string[] = [];
  let cur = '';
  for (let i = 0; i < raw.length; i++) {
    const c = raw[i];
    if (c === '\\' && i + 1 < raw.length) {
      // Keep `\|` escaped: token parsing must still see it as a literal bar.
      cur += raw[i + 1] === '|' ? '\\|' : raw[i + 1];
      i++;
    } else if (c === ',') {
      out.push(cur);
      cur = '';
    } else cur += c;
  }
  out.push(cur);
  return out;
}

export type ParsedQuery = Map<string, SearchParam[]>;

/**
 * Parses a raw query string against the allowed parameters. `rawQuery` is the part after `?`.
 */
export function parseQuery(rawQuery: string, allowed: Readonly<Record<string, ParamSpec>>): ParsedQuery {
  const out: ParsedQuery = new Map();
  if (!rawQuery) return out;
  for (const [key, value] of new URLSearchParams(rawQuery)) {
    const colon = key.indexOf(':');
    const name = colon < 0 ? key : key.slice(0, colon);
    const modifier = colon < 0 ? undefined : key.slice(colon + 1);
    const spec = allowed[name] ?? COMMON[name];
    if (!spec) {
      throw notSupported(
        `unknown search parameter "${name}"; supported: ${[...Object.keys(allowed), ...Object.keys(COMMON)].join(', ')}`,
      );
    }
    if (modifier !== undefined && !spec.modifiers?.includes(modifier)) {
      throw notSupported(`modifier ":${modifier}" is not supported on "${name}"`);
    }
    const list = out.get(name) ?? [];
    if (list.length > 0 && !spec.repeat) throw invalid(`search parameter "${name}" may appear only once`);
    const values = spec.multi ? splitValues(value) : [value];
    if (values.some((v) => v === '')) throw invalid(`search parameter "${name}" has an empty value`);
    list.push({ name, modifier, values });
    out.set(name, list);
  }
  return out;
}

export function single(q: ParsedQuery, name: string): string | undefined {
  return q.get(name)?.[0]?.values[0];
}

// ---- result parameters ----

export interface Paging {
  count: number;
  /** _count asked for more than MAX_COUNT and was lowered. */
  capped: boolean;
  total: boolean;
  cursor: string | undefined;
}

export function parsePaging(q: ParsedQuery, opts: { total: boolean } = { total: true }): Paging {
  const c = single(q, '_count');
  let count = DEFAULT_COUNT;
  let capped = false;
  if (c !== undefined) {
    if (!/^\d{1,9}$/.test(c)) throw invalid(`_count must be a whole number from 0 to ${MAX_COUNT}`);
    count = Number(c);
    if (count > MAX_COUNT) {
      count = MAX_COUNT;
      capped = true;
    }
  }
  const t = single(q, '_total');
  if (t !== undefined && !['none', 'estimate', 'accurate'].includes(t)) {
    throw invalid('_total must be none, estimate or accurate');
  }
  const total = t === 'accurate' || t === 'estimate';
  if (total && !opts.total) throw notSupported('_total is not supported for this resource type');
  const f = single(q, '_format');
  if (f !== undefined && !['json', 'application/json', 'application/fhir+json'].includes(f)) {
    throw fhirError(406, 'not-supported', `_format ${f} is not supported: JSON only`);
  }
  return { count, capped, total, cursor: single(q, '_cursor') };
}

// ---- cursors (keyset paging) ----

/**
 * A cursor is the sort key of the last entry of the previous page, so the next page starts right
 * after it whatever was inserted meanwhile (no gaps, no repeats, no OFFSET scan).
 */
export function encodeCursor(parts: ReadonlyArray<string | number>): string {
  return Buffer.from(JSON.stringify(parts)).toString('base64url');
}

export function decodeCursor(raw: string, shape: readonly ('string' | 'number')[]): Array<string | number> {
  let parts: unknown;
  try {
    if (raw.length > 512 || !/^[A-Za-z0-9_-]+$/.test(raw)) throw new Error('shape');
    parts = JSON.parse(Buffer.from(raw, 'base64url').toString('utf8'));
  } catch {
    throw invalid('_cursor is malformed: use the next link as given');
  }
  if (
    !Array.isArray(parts) ||
    parts.length !== shape.length ||
    parts.some((p, i) => typeof p !== shape[i] || (typeof p === 'number' && !Number.isSafeInteger(p)))
  ) {
    throw invalid('_cursor is malformed: use the next link as given');
  }
  return parts as Array<string | number>;
}

// ---- dates ----

export type DatePrefix = 'eq' | 'ne' | 'gt' | 'lt' | 'ge' | 'le' | 'sa' | 'eb';

export interface DateRange {
  prefix: DatePrefix;
  /** Start of the value's implicit range (ms, inclusive). */
  lo: number;
  /** End of the value's implicit range (ms, exclusive). */
  hi: number;
  /** Precision: true when only a date (no time) was given. */
  dateOnly: boolean;
}

const DATE_RE =
  /^(eq|ne|gt|lt|ge|le|sa|eb|ap)?(\d{4})(?:-(\d{2})(?:-(\d{2})(?:T(\d{2}):(\d{2})(?::(\d{2})(\.\d{1,9})?)?(Z|[+-]\d{2}:\d{2})?)?)?)?$/;

/**
 * Parses a FHIR date search value into its prefix and implicit range: `2024` covers the year,
 * `2024-03-05` the day, `2024-03-05T10:00Z` the minute, `…:30.5Z` the tenth of a second. Values
 * without a time zone are read as UTC (documented in docs/fhir.md).
 */
export function parseDate(raw: string): DateRange {
  const m = DATE_RE.exec(raw);
  if (!m)
    throw invalid(`date value "${raw}" is not a FHIR date (e.g. ge2024-03-05 or lt2024-03-05T10:00:00Z)`);
  const [, p, ys, mos, ds, hs, mis, ss, frac, tz] = m;
  if (p === 'ap') throw notSupported('date prefix "ap" is not supported');
  const y = Number(ys);
  const mo = mos ? Number(mos) : 1;
  const d = ds ? Number(ds) : 1;
  const h = hs ? Number(hs) : 0;
  const mi = mis ? Number(mis) : 0;
  const s = ss ? Number(ss) : 0;
  if (mo < 1 || mo > 12 || d < 1 || d > daysIn(y, mo) || h > 23 || mi > 59 || s > 59) {
    throw invalid(`date value "${raw}" is out of range`);
  }
  if (hs && !tz && !ss && mis === undefined) throw invalid(`date value "${raw}" is incomplete`);
  const fracMs = frac ? Number(frac.slice(0, 4).padEnd(4, '0').slice(1)) : 0;
  let offset = 0;
  if (tz && tz !== 'Z') {
    const sign = tz[0] === '-' ? -1 : 1;
    const oh = Number(tz.slice(1, 3));
    const om = Number(tz.slice(4, 6));
    if (oh > 14 || om > 59) throw invalid(`time zone in "${raw}" is out of range`);
    offset = sign * (oh * 60 + om) * 60_000;
  }
  const lo = Date.UTC(y, mo - 1, d, h, mi, s, fracMs) - offset;
  let hi: number;
  if (!mos) hi = Date.UTC(y + 1, 0, 1) - offset;
  else if (!ds) hi = Date.UTC(y, mo, 1) - offset;
  else if (!hs) hi = Date.UTC(y, mo - 1, d + 1) - offset;
  else if (!ss) hi = lo + 60_000;
  else if (!frac) hi = lo + 1000;
  else hi = lo + Math.max(1, 10 ** (3 - Math.min(3, frac.length - 1)));
  return { prefix: (p as DatePrefix | undefined) ?? 'eq', lo, hi, dateOnly: !hs };
}

function daysIn(y: number, m: number): number {
  return new Date(Date.UTC(y, m, 0)).getUTCDate();
}

/**
 * Whether a point in time `t` matches a date search (FHIR R4 §3.1.1.5.7 for a target without a
 * range of its own): eq = inside the range, gt/sa = after it, lt/eb = before it, ge = not before
 * its start, le = not after its end. Used by tests as the reference for the SQL translation.
 */
export function dateMatches(r: DateRange, t: number): boolean {
  switch (r.prefix) {
    case 'eq':
      return t >= r.lo && t < r.hi;
    case 'ne':
      return t < r.lo || t >= r.hi;
    case 'gt':
    case 'sa':
      return t >= r.hi;
    case 'lt':
    case 'eb':
      return t < r.lo;
    case 'ge':
      return t >= r.lo;
    case 'le':
      return t < r.hi;
  }
}

// ---- tokens and references ----

export interface Token {
  /** undefined: any system; '': explicitly no system (`|code`). */
  system: string | undefined;
  /** undefined: any code (`system|`). */
  code: string | undefined;
}

export function parseToken(raw: string): Token {
  const bar = findUnescapedBar(raw);
  const unbar = (s: string) => s.replaceAll('\\|', '|');
  if (bar < 0) return { system: undefined, code: unbar(raw) };
  const system = unbar(raw.slice(0, bar));
  const code = raw.slice(bar + 1);
  if (findUnescapedBar(code) >= 0) throw invalid(`token "${raw}" has more than one "|"`);
  return { system, code: code === '' ? undefined : unbar(code) };
}

function findUnescapedBar(s: string): number {
  for (let i = 0; i < s.length; i++) {
    if (s[i] === '\\') i++;
    else if (s[i] === '|') return i;
  }
  return -1;
}

const ID_RE = /^[A-Za-z0-9\-.]{1,64}$/;

export function isFhirId(s: string): boolean {
  return ID_RE.test(s);
}

/**
 * A reference search value to the id of a resource of `type`: `ID`, `Type/ID` or an absolute URL
 * ending in `Type/ID`.
 */
export function parseReference(raw: string, type: string): string {
  let id = raw;
  const m = /(?:^|\/)([A-Za-z]+)\/([^/]+)$/.exec(raw);
  if (m) {
    if (m[1] !== type) throw invalid(`reference "${raw}" must point to a ${type}`);
    id = m[2]!;
  }
  if (!isFhirId(id)) throw invalid(`"${raw}" is not a ${type} id`);
  return id;
}

export { DEFAULT_COUNT, MAX_COUNT };
