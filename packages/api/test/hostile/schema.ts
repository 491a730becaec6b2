/**
 * Malformed values from an OpenAPI (JSON Schema) description: a plausible value of a schema to start from,
 * and for each field the values a hostile client puts there instead: wrong types, missing and extra fields,
 * 100 KB strings, NUL and control characters, huge, negative, fractional and exponent-notation amounts,
 * arrays past their cap, deep nesting.
 */

export interface JsonSchema {
  type?: string | string[];
  properties?: Record<string, JsonSchema>;
  required?: string[];
  additionalProperties?: boolean | JsonSchema;
  items?: JsonSchema;
  enum?: unknown[];
  const?: unknown;
  anyOf?: JsonSchema[];
  oneOf?: JsonSchema[];
  allOf?: JsonSchema[];
  pattern?: string;
  format?: string;
  minLength?: number;
  maxLength?: number;
  minimum?: number;
  maximum?: number;
  minItems?: number;
  maxItems?: number;
  default?: unknown;
  description?: string;
}

/** JSON text put in a body as it is: numbers JSON.stringify would never write (`1e400`, `-0`, `1E3`). */
export class Raw {
  constructor(readonly text: string) {}
}

/** JSON text of a value that may hold Raw pieces. */
export function toJson(v: unknown): string {
  if (v instanceof Raw) return v.text;
  if (Array.isArray(v)) return `[${v.map(toJson).join(',')}]`;
  if (v !== null && typeof v === 'object') {
    return `{${Object.entries(v)
      .map(([k, x]) => `${JSON.stringify(k)}:${toJson(x)}`)
      .join(',')}}`;
  }
  return JSON.stringify(v) ?? 'null';
}

export interface Bad {
  readonly label: string;
  readonly value: unknown;
}

const first = (s: JsonSchema): JsonSchema => s.anyOf?.[0] ?? s.oneOf?.[0] ?? s.allOf?.[0] ?? s;
const typeOf = (s: JsonSchema): string | undefined => {
  const f = first(s);
  return Array.isArray(f.type) ? f.type[0] : (f.type ?? (f.properties ? 'object' : undefined));
};

const B64 = 'QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVowMTIzNDU2Nzg5YWJjZGVmZ2hpams';
/** Strings to try as a plausible value of a string schema: the first that fits its pattern and length. */
const STRING_CANDIDATES = [
  '100',
  '123456',
  'user@example.com',
  'https://example.com/x',
  '2026-11-01T00:00:00.000Z',
  'hostile-vendor',
  'day',
];

function fits(s: JsonSchema, v: string): boolean {
  if (s.minLength !== undefined && v.length < s.minLength) return false;
  if (s.maxLength !== undefined && v.length > s.maxLength) return false;
  if (!s.pattern) return true;
  try {
    return new RegExp(s.pattern, 'u').test(v);
  } catch {
    return true;
  }
}

function plausibleString(s: JsonSchema): string {
  if (s.format === 'uri') return 'https://example.com/x';
  if (s.format === 'date-time') return '2026-11-01T00:00:00.000Z';
  const sized = s.minLength !== undefined && s.minLength > 3 ? [B64.slice(0, s.minLength)] : [];
  const prefixed = s.pattern?.match(/^\^([a-z]+_)/)?.[1];
  const ids = prefixed ? [prefixed + B64.slice(0, 22)] : [];
  return [...ids, ...sized, ...STRING_CANDIDATES].find((v) => fits(s, v)) ?? 'x'.repeat(s.minLength ?? 1);
}

/** A value of the schema that a client would plausibly send (valid where the schema can say so). */
export function plausible(schema: JsonSchema, depth = 0): unknown {
  const s = first(schema);
  if (s.const !== undefined) return s.const;
  if (s.enum) return s.enum[0];
  if (s.default !== undefined) return s.default;
  switch (typeOf(s)) {
    case 'object': {
      const out: Record<string, unknown> = {};
      for (const k of s.required ?? []) out[k] = plausible(s.properties?.[k] ?? {}, depth + 1);
      return out;
    }
    case 'array':
      return depth > 4
        ? []
        : Array.from({ length: Math.max(1, s.minItems ?? 1) }, () => plausible(s.items ?? {}, depth + 1));
    case 'integer':
    case 'number':
      return Math.max(s.minimum ?? 1, Math.min(1, s.maximum ?? 1));
    case 'boolean':
      return true;
    case 'string':
      return plausibleString(s);
    default:
      return 'x';
  }
}

/** An amount field: minor units as a decimal string (docs/broker.md §3). */
const isAmount = (s: JsonSchema) => typeOf(s) === 'string' && s.pattern === '^(0|[1-9][0-9]*)$';

const AMOUNTS: Bad[] = [
  { label: 'negative amount', value: '-1' },
  { label: 'fractional amount', value: '1.5' },
  { label: 'exponent amount', value: '1e3' },
  { label: 'huge exponent amount', value: '1E400' },
  { label: 'hex amount', value: '0x10' },
  { label: 'signed amount', value: '+1' },
  { label: 'leading zero amount', value: '007' },
  { label: '20-digit amount', value: '99999999999999999999' },
  { label: 'amount 2^63', value: '9223372036854775808' },
  { label: 'amount 2^63-1', value: '9223372036854775807' },
  { label: 'amount with space', value: ' 1' },
  { label: 'amount as a number', value: 100 },
  { label: 'amount as 1e3', value: new Raw('1e3') },
  { label: 'amount as 1e400', value: new Raw('1e400') },
  { label: 'amount as -0', value: new Raw('-0') },
  { label: 'amount as 0.5', value: 0.5 },
];

const INTEGERS: Bad[] = [
  { label: 'negative integer', value: -1 },
  { label: 'fractional integer', value: 0.5 },
  { label: 'exponent integer', value: new Raw('1e3') },
  { label: 'integer 1e400', value: new Raw('1e400') },
  { label: 'integer -0', value: new Raw('-0') },
  { label: 'integer 2^53+1', value: new Raw('9007199254740993') },
  { label: 'integer 2^63', value: new Raw('9223372036854775808') },
  { label: 'integer as string', value: '5' },
];

/** A string of control characters, an ANSI escape and DEL. */
export const CONTROL = 'a\u0001\u0007\u001b[31m\u007f\u0085b';
export const KB100 = 'x'.repeat(100_000);

function badStrings(s: JsonSchema): Bad[] {
  const out: Bad[] = [
    { label: '100 KB string', value: KB100 },
    { label: 'NUL in string', value: `${plausibleString(s)}\u0000x` },
    { label: 'control characters', value: CONTROL },
    { label: 'lone surrogate', value: 'a\ud800b' },
    { label: 'full-width and RTL override', value: 'ａｄｍｉｎ\u202e' },
  ];
  if ((s.minLength ?? 0) > 0) out.push({ label: 'empty string', value: '' });
  if (s.maxLength !== undefined && s.maxLength < 100_000)
    out.push({ label: 'one over maxLength', value: 'y'.repeat(s.maxLength + 1) });
  return out;
}

/** Nesting `depth` arrays deep, as JSON text. */
export const deepArray = (depth: number) => new Raw(`${'['.repeat(depth)}${']'.repeat(depth)}`);
/** Nesting `depth` objects deep, as JSON text. */
export const deepObject = (depth: number) => new Raw(`${'{"a":'.repeat(depth)}1${'}'.repeat(depth)}`);

/** What a hostile client sends instead of a valid value of this schema. */
export function badValues(schema: JsonSchema): Bad[] {
  const s = first(schema);
  const type = typeOf(s);
  const out: Bad[] = [];
  if (type !== 'string') out.push({ label: 'string for non-string', value: 'oops' });
  if (type !== 'integer' && type !== 'number') out.push({ label: 'number for non-number', value: 12345 });
  if (type !== 'object') out.push({ label: 'object for non-object', value: { nested: true } });
  if (type !== 'array') out.push({ label: 'array for non-array', value: ['x'] });
  if (type !== 'boolean') out.push({ label: 'boolean', value: true });
  out.push({ label: 'null', value: null });
  if (s.enum) out.push({ label: 'not in enum', value: 'not-a-member' });
  if (isAmount(s)) out.push(...AMOUNTS);
  else if (type === 'string') out.push(...badStrings(s));
  if (type === 'integer' || type === 'number') {
    out.push(...INTEGERS);
    if (s.maximum !== undefined) out.push({ label: 'one over maximum', value: s.maximum + 1 });
  }
  if (type === 'array') {
    if ((s.minItems ?? 0) > 0) out.push({ label: 'empty array', value: [] });
    const max = s.maxItems ?? 1000;
    const item = plausible(s.items ?? {});
    out.push({ label: 'one item over maxItems', value: Array.from({ length: max + 1 }, () => item) });
    out.push({ label: 'array of nulls', value: [null, null, null] });
    out.push({ label: 'nested 1000 deep', value: deepArray(1000) });
  }
  if (type === 'object') {
    out.push({ label: 'empty object', value: {} });
    out.push({ label: 'nested object 1000 deep', value: deepObject(1000) });
  }
  return out;
}

/** A field of a body: its path from the top and its schema. */
export interface Field {
  readonly path: readonly (string | number)[];
  readonly schema: JsonSchema;
  readonly required: boolean;
}

/** Every field of a schema down to `maxDepth` (array items as index 0). */
export function fieldsOf(schema: JsonSchema, maxDepth = 3, path: (string | number)[] = []): Field[] {
  const s = first(schema);
  if (path.length >= maxDepth) return [];
  const out: Field[] = [];
  for (const [k, sub] of Object.entries(s.properties ?? {})) {
    const p = [...path, k];
    out.push({ path: p, schema: sub, required: (s.required ?? []).includes(k) });
    out.push(...fieldsOf(sub, maxDepth, p));
  }
  if (typeOf(s) === 'array' && s.items) {
    const p = [...path, 0];
    out.push({ path: p, schema: s.items, required: true });
    out.push(...fieldsOf(s.items, maxDepth, p));
  }
  return out;
}

/** A copy of `base` with the value at `path` replaced (or removed, when `value` is `REMOVE`). */
export const REMOVE = Symbol('remove');
export function setAt(base: unknown, path: readonly (string | number)[], value: unknown): unknown {
  if (path.length === 0) return value;
  const [head, ...rest] = path;
  if (typeof head === 'number') {
    const arr = Array.isArray(base) && base.length > 0 ? [...base] : [undefined];
    arr[0] = setAt(arr[0], rest, value);
    return arr;
  }
  const obj =
    base !== null && typeof base === 'object' && !Array.isArray(base) ? { ...(base as object) } : {};
  const o = obj as Record<string, unknown>;
  if (rest.length === 0 && value === REMOVE) delete o[head as string];
  else o[head as string] = setAt(o[head as string], rest, value);
  return obj;
}
