/**
 * Checks every service runs on what arrives, before validation and before any handler: JSON bodies nested
 * at most `MAX_JSON_DEPTH` deep (deeper ones would overflow recursive code such as the canonical JSON of a
 * signed request's body hash), and no string (body, query, path) holding a character that makes no sense
 * in any field: a C0 control other than tab, line feed and carriage return, DEL, or an unpaired surrogate.
 * PostgreSQL refuses U+0000 in text, and an unpaired surrogate does not survive UTF-8 (docs/broker.md §13,
 * §15.2).
 */
import { serviceError } from './errors.ts';

/** Deepest nesting of objects and arrays a JSON body may have (`{}` is 1 deep). */
export const MAX_JSON_DEPTH = 32;

// C0 controls except \t \n \r, and DEL: matching them is the point.
// biome-ignore lint/suspicious/noControlCharactersInRegex: the characters refused
const CONTROL = /[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f]/;

/** Whether `s` holds a character no NetPay text field accepts (a control character or a lone surrogate). */
export function hasForbiddenCharacter(s: string): boolean {
  return CONTROL.test(s) || !s.isWellFormed();
}

/** A value met in the walk, with how it was reached (the path is only spelled out for an error). */
interface Node {
  readonly v: unknown;
  readonly depth: number;
  readonly parent: Node | undefined;
  readonly key: string | number;
}

function pathOf(n: Node | undefined): string {
  let out = '';
  for (let at = n; at?.parent; at = at.parent) {
    out = typeof at.key === 'number' ? `[${at.key}]${out}` : `.${at.key}${out}`;
  }
  return out.replace(/^\./, '');
}

function refuseText(where: string, at: Node | undefined): never {
  const path = pathOf(at);
  throw serviceError(
    'invalid_characters',
    `${where}${path ? ` at ${path}` : ''} holds a control character or an unpaired surrogate`,
  );
}

/**
 * Walks a parsed value without recursion: refuses one nested deeper than `maxDepth` (json_too_deep), any
 * key or string with a forbidden character (invalid_characters), and a number JSON read as ±Infinity, such as
 * `1e400` (bad_json: it has no canonical JSON, so no signature or idempotency hash could cover it). `where` names the part of the request.
 */
export function checkInput(value: unknown, where: string, maxDepth = MAX_JSON_DEPTH): void {
  const stack: Node[] = [{ v: value, depth: 0, parent: undefined, key: '' }];
  while (stack.length > 0) {
    const n = stack.pop()!;
    const v = n.v;
    if (typeof v === 'string') {
      if (hasForbiddenCharacter(v)) refuseText(where, n);
      continue;
    }
    if (typeof v === 'number' && !Number.isFinite(v)) {
      const path = pathOf(n);
      throw serviceError(
        'bad_json',
        `${where}${path ? ` at ${path}` : ''} holds a number beyond the double range`,
      );
    }
    if (typeof v !== 'object' || v === null) continue;
    if (n.depth >= maxDepth) {
      throw serviceError('json_too_deep', `${where} is nested more than ${maxDepth} levels deep`);
    }
    const depth = n.depth + 1;
    if (Array.isArray(v)) {
      for (let i = v.length - 1; i >= 0; i--) stack.push({ v: v[i], depth, parent: n, key: i });
      continue;
    }
    for (const k in v) {
      if (!Object.hasOwn(v, k)) continue;
      if (hasForbiddenCharacter(k)) refuseText(where, n);
      stack.push({ v: (v as Record<string, unknown>)[k], depth, parent: n, key: k });
    }
  }
}
