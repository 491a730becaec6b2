import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  add,
  allocate,
  compare,
  currency,
  formatAmount,
  MAX_MINOR,
  money,
  parseAmount,
  parseMinor,
  subtract,
  sum,
  times,
  toWire,
} from './money.ts';
import { InvariantError } from './result.ts';

const USD = currency('USD', 2);
const JPY = currency('JPY', 0);
const MICRO = currency('USD', 5);

describe('parseAmount / formatAmount', () => {
  it('parses exact decimal amounts into minor units', () => {
    const cases: [string, typeof USD, bigint][] = [
      ['0.25', USD, 25n],
      ['0', USD, 0n],
      ['12', USD, 1200n],
      ['12.5', USD, 1250n],
      ['7', JPY, 7n],
      ['0.00001', MICRO, 1n],
      ['92233720368547758.07', USD, MAX_MINOR],
    ];
    for (const [text, cur, minor] of cases) {
      const r = parseAmount(text, cur);
      expect(r.ok && r.value.minor, text).toBe(minor);
    }
  });

  it('formats with exactly the currency exponent', () => {
    expect(formatAmount(money(25n, USD))).toBe('0.25');
    expect(formatAmount(money(5n, USD))).toBe('0.05');
    expect(formatAmount(money(1200n, USD))).toBe('12.00');
    expect(formatAmount(money(7n, JPY))).toBe('7');
    expect(formatAmount(money(-5n, USD))).toBe('-0.05');
    expect(formatAmount(money(1n, MICRO))).toBe('0.00001');
  });

  it('rejects floats, exponents, signs, spaces and excess precision with typed errors', () => {
    const cases: [string, string][] = [
      ['0.255', 'money_too_precise'],
      ['1.000', 'money_too_precise'],
      ['1e3', 'money_malformed'],
      ['1.', 'money_malformed'],
      ['.5', 'money_malformed'],
      ['+1', 'money_malformed'],
      [' 1', 'money_malformed'],
      ['01', 'money_malformed'],
      ['0x10', 'money_malformed'],
      ['NaN', 'money_malformed'],
      ['Infinity', 'money_malformed'],
      ['', 'money_malformed'],
      ['-1', 'money_negative'],
      ['-0', 'money_malformed'],
      ['92233720368547758.08', 'money_out_of_range'],
    ];
    for (const [text, code] of cases) {
      const r = parseAmount(text, USD);
      expect(r.ok ? 'ok' : r.error.code, text).toBe(code);
    }
    expect(parseAmount(0.25 as unknown as string, USD).ok).toBe(false);
  });

  it('accepts negatives only when asked', () => {
    const r = parseAmount('-1.50', USD, { allowNegative: true });
    expect(r.ok && r.value.minor).toBe(-150n);
  });

  it('round-trips every amount exactly (property)', () => {
    fc.assert(
      fc.property(
        fc.bigInt({ min: -MAX_MINOR, max: MAX_MINOR }),
        fc.integer({ min: 0, max: 18 }),
        (minor, e) => {
          const cur = currency('XNP', e);
          const text = formatAmount(money(minor, cur));
          const back = parseAmount(text, cur, { allowNegative: true });
          expect(back.ok && back.value.minor).toBe(minor);
        },
      ),
    );
  });
});

describe('wire minor units', () => {
  it('parses canonical decimal strings only', () => {
    expect(parseMinor('25')).toEqual({ ok: true, value: 25n });
    for (const bad of ['025', '2.5', '-0', '', '1e2', ' 1', '0x1'])
      expect(parseMinor(bad).ok, bad).toBe(false);
    expect(parseMinor('-3').ok).toBe(false);
    expect(parseMinor('-3', { allowNegative: true })).toEqual({ ok: true, value: -3n });
    expect(parseMinor('9223372036854775808').ok).toBe(false);
    expect(toWire(money(25n, USD))).toBe('25');
  });

  it('round-trips (property)', () => {
    fc.assert(
      fc.property(fc.bigInt({ min: 0n, max: MAX_MINOR }), (m) => {
        expect(parseMinor(toWire(m))).toEqual({ ok: true, value: m });
      }),
    );
  });
});

describe('arithmetic', () => {
  it('adds, subtracts, multiplies and compares within one currency', () => {
    const a = money(25n, USD);
    const b = money(5n, USD);
    expect(add(a, b).minor).toBe(30n);
    expect(subtract(b, a).minor).toBe(-20n);
    expect(times(b, 7).minor).toBe(35n);
    expect(compare(a, b)).toBe(1);
    expect(compare(b, a)).toBe(-1);
    expect(compare(a, a)).toBe(0);
    expect(sum([a, b, b], USD).minor).toBe(35n);
  });

  it('refuses to mix currencies or exponents, or to overflow', () => {
    expect(() => add(money(1n, USD), money(1n, JPY))).toThrow(InvariantError);
    expect(() => add(money(1n, USD), money(1n, MICRO))).toThrow(InvariantError);
    expect(() => add(money(MAX_MINOR, USD), money(1n, USD))).toThrow(InvariantError);
    expect(() => times(money(1n, USD), -1)).toThrow(InvariantError);
    expect(() => money(MAX_MINOR + 1n, USD)).toThrow(InvariantError);
    expect(() => currency('usd', 2)).toThrow(InvariantError);
    expect(() => currency('USD', 19)).toThrow(InvariantError);
  });

  it('allocates shares that always add up to the total (property)', () => {
    expect(allocate(money(10n, USD), [9000n, 1000n]).map((m) => m.minor)).toEqual([9n, 1n]);
    expect(allocate(money(1n, USD), [5000n, 5000n]).map((m) => m.minor)).toEqual([1n, 0n]);
    expect(allocate(money(7n, USD), [0n, 1n, 1n]).map((m) => m.minor)).toEqual([0n, 4n, 3n]);
    fc.assert(
      fc.property(
        fc.bigInt({ min: 0n, max: 10n ** 15n }),
        fc
          .array(fc.bigInt({ min: 0n, max: 10_000n }), { minLength: 1, maxLength: 8 })
          .filter((w) => w.some((x) => x > 0n)),
        (total, weights) => {
          const parts = allocate(money(total, USD), weights);
          expect(parts.reduce((s, p) => s + p.minor, 0n)).toBe(total);
          parts.forEach((p, i) => {
            if (weights[i] === 0n) expect(p.minor).toBe(0n);
            expect(p.minor >= 0n).toBe(true);
          });
        },
      ),
    );
  });
});
