/**
 * RFC 8785 JSON Canonicalization Scheme for the values audit entries hold.
 *
 * JCS is JSON.stringify's own primitive serialization (ECMAScript Number-to-string, minimal string
 * escapes) plus object keys sorted by UTF-16 code units and no whitespace, so in JavaScript the
 * canonicalizer is a short recursion. Input outside I-JSON (RFC 7493) is refused rather than
 * silently normalized: non-finite numbers, lone surrogates, functions, class instances, undefined
 * array elements. An object property whose value is undefined is treated as absent.
 */

export type JsonValue =
  | null
  | boolean
  | number
  | string
  | readonly JsonValue[]
  | { readonly [k: string]: JsonValue };

export class CanonicalJsonError extends TypeError {
  override readonly name = 'CanonicalJsonError';
}

const MAX_DEPTH = 32;

export function canonicalJson(value: unknown): string {
  try {
    return write(value, 0);
  } catch (err) {
    if (err instanceof PathError) throw new CanonicalJsonError(`$${err.path}: ${err.message}`);
    throw err;
  }
}

// Carries the failing value's path up the recursion. Paths are built only when something fails:
// building one per key costs more than the serialization itself.
class PathError extends Error {
  path = '';
}

function fail(message: string): never {
  throw new PathError(message);
}

function write(v: unknown, depth: number): string {
  if (depth > MAX_DEPTH) fail(`nested deeper than ${MAX_DEPTH}`);
  if (v === null) return 'null';
  switch (typeof v) {
    case 'boolean':
      return v ? 'true' : 'false';
    case 'number':
      if (!Number.isFinite(v)) fail(`${v} is not a JSON number`);
      // ECMAScript Number::toString is exactly RFC 8785 §3.2.2.3; -0 serializes as 0.
      return JSON.stringify(v);
    case 'string':
      if (!v.isWellFormed()) fail('string has a lone surrogate');
      return JSON.stringify(v);
    case 'object':
      return Array.isArray(v) ? writeArray(v, depth) : writeObject(v, depth);
    default:
      return fail(`${typeof v} is not a JSON value`);
  }
}

function writeArray(v: readonly unknown[], depth: number): string {
  let out = '[';
  for (let i = 0; i < v.length; i++) {
    if (i > 0) out += ',';
    try {
      out += write(v[i], depth + 1);
    } catch (err) {
      if (err instanceof PathError) err.path = `[${i}]${err.path}`;
      throw err;
    }
  }
  return `${out}]`;
}

function writeObject(v: object, depth: number): string {
  const proto = Object.getPrototypeOf(v);
  if (proto !== Object.prototype && proto !== null) fail('not a plain object');
  const obj = v as Record<string, unknown>;
  // Default sort compares UTF-16 code units, which is what RFC 8785 §3.2.3 asks for.
  const keys = Object.keys(obj).sort();
  let out = '{';
  let first = true;
  for (const k of keys) {
    const x = obj[k];
    // Like JSON.stringify, an undefined property is an absent one (JSON has no undefined).
    if (x === undefined) continue;
    if (!k.isWellFormed()) fail('key has a lone surrogate');
    if (!first) out += ',';
    first = false;
    try {
      out += `${JSON.stringify(k)}:${write(x, depth + 1)}`;
    } catch (err) {
      if (err instanceof PathError) err.path = `.${k}${err.path}`;
      throw err;
    }
  }
  return `${out}}`;
}
