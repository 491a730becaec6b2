import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { canonicalJson, MAX_CANONICAL_DEPTH } from './canonical.ts';
import { InvariantError } from './result.ts';

describe('RFC 8785 canonical JSON', () => {
  it('sorts members by UTF-16 code units (RFC 8785 §3.2.3 example)', () => {
    const input = {
      '\u20ac': 'Euro Sign',
      '\r': 'Carriage Return',
      '\ufb33': 'Hebrew Letter Dalet With Dagesh',
      '1': 'One',
      '\ud83d\ude00': 'Emoji: Grinning Face',
      '\u0080': 'Control',
      '\u00f6': 'Latin Small Letter O With Diaeresis',
    };
    const values = [...canonicalJson(input).matchAll(/:"([^"]*)"/g)].map((m) => m[1]);
    expect(values).toEqual([
      'Carriage Return',
      'One',
      'Control',
      'Latin Small Letter O With Diaeresis',
      'Euro Sign',
      'Emoji: Grinning Face',
      'Hebrew Letter Dalet With Dagesh',
    ]);
  });

  it('serializes like the RFC 8785 §3.2.2 example', () => {
    const input = {
      // biome-ignore lint/correctness/noPrecisionLoss: RFC 8785 spells the example number this way.
      numbers: [333333333.33333329, 1e30, 4.5, 2e-3, 0.000000000000000000000000001],
      string: '\u20ac$\u000f\u000aA\'\u0042\u0022\u005c\\"/',
      literals: [null, true, false],
    };
    expect(canonicalJson(input)).toBe(
      '{"literals":[null,true,false],"numbers":[333333333.3333333,1e+30,4.5,0.002,1e-27],"string":"€$\\u000f\\nA\'B\\"\\\\\\\\\\"/"}',
    );
  });

  it('leaves out undefined members and nests', () => {
    expect(canonicalJson({ b: 1, a: { d: undefined, c: [1, 'x'] } })).toBe('{"a":{"c":[1,"x"]},"b":1}');
  });

  it('rejects what JSON cannot carry exactly', () => {
    for (const bad of [Number.NaN, Number.POSITIVE_INFINITY, 1n, '\ud800', () => 1, new Date(0)]) {
      expect(() => canonicalJson({ x: bad })).toThrow(InvariantError);
    }
  });

  it(`encodes ${MAX_CANONICAL_DEPTH} levels and refuses deeper with an InvariantError, not a stack overflow`, () => {
    const nested = (depth: number) => JSON.parse(`${'['.repeat(depth)}${']'.repeat(depth)}`);
    expect(canonicalJson(nested(MAX_CANONICAL_DEPTH))).toHaveLength(2 * MAX_CANONICAL_DEPTH);
    for (const depth of [MAX_CANONICAL_DEPTH + 1, 100_000]) {
      expect(() => canonicalJson(nested(depth))).toThrow(InvariantError);
      expect(() => canonicalJson({ a: nested(depth) })).toThrow(InvariantError);
    }
  });

  it('is stable: re-canonicalizing parsed output gives the same text', () => {
    fc.assert(
      fc.property(fc.jsonValue(), (v) => {
        const once = canonicalJson(v);
        expect(canonicalJson(JSON.parse(once))).toBe(once);
      }),
    );
  });
});
