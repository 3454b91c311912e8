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
  return write(value, '$', 0);
}

function write(v: unknown, path: string, depth: number): string {
  if (depth > MAX_DEPTH) throw new CanonicalJsonError(`${path}: nested deeper than ${MAX_DEPTH}`);
  if (v === null) return 'null';
  switch (typeof v) {
    case 'boolean':
      return v ? 'true' : 'false';
    case 'number':
      if (!Number.isFinite(v)) throw new CanonicalJsonError(`${path}: ${v} is not a JSON number`);
      // ECMAScript Number::toString is exactly RFC 8785 §3.2.2.3; -0 serializes as 0.
      return JSON.stringify(v);
    case 'string':
      if (!v.isWellFormed()) throw new CanonicalJsonError(`${path}: string has a lone surrogate`);
      return JSON.stringify(v);
    case 'object': {
      if (Array.isArray(v)) {
        let out = '[';
        for (let i = 0; i < v.length; i++) {
          if (i > 0) out += ',';
          out += write(v[i], `${path}[${i}]`, depth + 1);
        }
        return `${out}]`;
      }
      const proto = Object.getPrototypeOf(v);
      if (proto !== Object.prototype && proto !== null)
        throw new CanonicalJsonError(`${path}: not a plain object`);
      const obj = v as Record<string, unknown>;
      // Default sort compares UTF-16 code units, which is what RFC 8785 §3.2.3 asks for.
      const keys = Object.keys(obj).sort();
      let out = '{';
      let first = true;
      for (const k of keys) {
        // Like JSON.stringify, an undefined property is an absent one (JSON has no undefined).
        if (obj[k] === undefined) continue;
        if (!k.isWellFormed()) throw new CanonicalJsonError(`${path}: key has a lone surrogate`);
        if (!first) out += ',';
        first = false;
        out += `${JSON.stringify(k)}:${write(obj[k], `${path}.${k}`, depth + 1)}`;
      }
      return `${out}}`;
    }
    default:
      throw new CanonicalJsonError(`${path}: ${typeof v} is not a JSON value`);
  }
}
