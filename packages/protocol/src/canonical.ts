import { utf8 } from './bytes.ts';
import { InvariantError } from './result.ts';

/**
 * Deepest nesting canonical JSON encodes. No NetPay message comes near it, and the services refuse JSON
 * bodies nested more than 32 deep before anything hashes them (@netpay/service MAX_JSON_DEPTH), so deeper
 * input is a bug in the caller; the bound keeps the recursion far from the stack's end.
 */
export const MAX_CANONICAL_DEPTH = 64;

/**
 * RFC 8785 JSON Canonicalization Scheme: object members sorted by their UTF-16 code units, no whitespace,
 * ECMAScript number and string serialization (which `JSON.stringify` implements). Properties whose value
 * is `undefined` are left out, as JSON does. Lone surrogates, non-finite numbers, bigints, other non-JSON
 * values and nesting deeper than `MAX_CANONICAL_DEPTH` are bugs in the caller and throw.
 */
export function canonicalJson(value: unknown): string {
  return encode(value, 0);
}

function encode(value: unknown, depth: number): string {
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
      if (depth >= MAX_CANONICAL_DEPTH)
        throw new InvariantError(`canonical JSON: nested more than ${MAX_CANONICAL_DEPTH} deep`);
      if (Array.isArray(value))
        return `[${value.map((v) => encode(v === undefined ? null : v, depth + 1)).join(',')}]`;
      const proto = Object.getPrototypeOf(value);
      if (proto !== Object.prototype && proto !== null) {
        throw new InvariantError('canonical JSON: only plain objects and arrays are allowed');
      }
      const record = value as Record<string, unknown>;
      const keys = Object.keys(record)
        .filter((k) => record[k] !== undefined)
        .sort();
      return `{${keys.map((k) => `${encode(k, depth)}:${encode(record[k], depth + 1)}`).join(',')}}`;
    }
    default:
      throw new InvariantError(`canonical JSON: cannot encode a ${typeof value}`);
  }
}

export function canonicalBytes(value: unknown): Uint8Array {
  return utf8(canonicalJson(value));
}
