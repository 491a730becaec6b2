import { utf8 } from './bytes.ts';
import { InvariantError } from './result.ts';

/**
 * RFC 8785 JSON Canonicalization Scheme: object members sorted by their UTF-16 code units, no whitespace,
 * ECMAScript number and string serialization (which `JSON.stringify` implements). Properties whose value
 * is `undefined` are left out, as JSON does. Lone surrogates, non-finite numbers, bigints and other
 * non-JSON values are bugs in the caller and throw.
 */
export function canonicalJson(value: unknown): string {
  switch (typeof value) {
    case 'string':
      if (!value.isWellFormed())
        throw new InvariantError('canonical JSON: string is not well-formed Unicode');
      return JSON.stringify(value);
    case 'number':
      if (!Number.isFinite(value)) throw new InvariantError('canonical JSON: non-finite number');
      return JSON.stringify(value);
    case 'boolean':
      return value ? 'true' : 'false';
    case 'object': {
      if (value === null) return 'null';
      if (Array.isArray(value))
        return `[${value.map((v) => canonicalJson(v === undefined ? null : v)).join(',')}]`;
      const proto = Object.getPrototypeOf(value);
      if (proto !== Object.prototype && proto !== null) {
        throw new InvariantError('canonical JSON: only plain objects and arrays are allowed');
      }
      const record = value as Record<string, unknown>;
      const keys = Object.keys(record)
        .filter((k) => record[k] !== undefined)
        .sort();
      return `{${keys.map((k) => `${canonicalJson(k)}:${canonicalJson(record[k])}`).join(',')}}`;
    }
    default:
      throw new InvariantError(`canonical JSON: cannot encode a ${typeof value}`);
  }
}

export function canonicalBytes(value: unknown): Uint8Array {
  return utf8(canonicalJson(value));
}
