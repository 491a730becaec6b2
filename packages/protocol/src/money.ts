import { err, InvariantError, ok, type Result } from './result.ts';

/**
 * Money is an integer count of minor units (`bigint`) tied to a currency with a fixed exponent.
 * A currency's exponent may exceed the usual one ("USD" with exponent 5 counts thousandths of a cent),
 * which is how NetPay prices content at fractions of a cent. Never a float anywhere.
 */
export interface Currency {
  /** 3–12 characters, uppercase letters and digits, starting with a letter (e.g. "USD", "EUR", "XNP"). */
  readonly code: string;
  /** Decimal places of one minor unit: 25n with exponent 2 is 0.25. 0..18. */
  readonly exponent: number;
}

declare const minorBrand: unique symbol;
/** A bigint that is known to be a count of minor units within the allowed range. */
export type Minor = bigint & { readonly [minorBrand]: 'Minor' };

export interface Money {
  readonly minor: Minor;
  readonly currency: Currency;
}

/** Largest magnitude of any amount: fits a signed 64-bit integer (PostgreSQL `bigint`). */
export const MAX_MINOR = 2n ** 63n - 1n;
export const MAX_EXPONENT = 18;
export const CURRENCY_CODE_RE = /^[A-Z][A-Z0-9]{2,11}$/;
/** Canonical wire form of a non-negative minor-unit amount: no sign, no leading zeros, no decimals. */
export const MINOR_WIRE_RE = /^(0|[1-9][0-9]*)$/;
const SIGNED_MINOR_WIRE_RE = /^(0|-?[1-9][0-9]*)$/;
const AMOUNT_RE = /^(-?)(0|[1-9][0-9]*)(?:\.([0-9]+))?$/;

export function currency(code: string, exponent: number): Currency {
  if (!CURRENCY_CODE_RE.test(code)) throw new InvariantError(`invalid currency code ${JSON.stringify(code)}`);
  if (!Number.isInteger(exponent) || exponent < 0 || exponent > MAX_EXPONENT) {
    throw new InvariantError(`invalid currency exponent ${exponent}`);
  }
  return Object.freeze({ code, exponent });
}

export function sameCurrency(a: Currency, b: Currency): boolean {
  return a.code === b.code && a.exponent === b.exponent;
}

function inRange(minor: bigint): boolean {
  return minor <= MAX_MINOR && minor >= -MAX_MINOR;
}

/** Wraps a bigint as money; amounts beyond ±MAX_MINOR are a bug and throw. */
export function money(minor: bigint, cur: Currency): Money {
  if (!inRange(minor)) throw new InvariantError(`amount ${minor} out of range`);
  return Object.freeze({ minor: minor as Minor, currency: cur });
}

export interface ParseOptions {
  /** Accept a leading minus sign. Off by default: prices, coins and payments are never negative. */
  readonly allowNegative?: boolean;
}

/** Parses the wire form of a minor-unit amount ("25" → 25n). */
export function parseMinor(text: string, options: ParseOptions = {}): Result<Minor> {
  if (typeof text !== 'string' || !SIGNED_MINOR_WIRE_RE.test(text)) {
    return err(
      'money_malformed',
      `amount must be a decimal string of minor units, got ${JSON.stringify(text)}`,
    );
  }
  const value = BigInt(text);
  if (value < 0n && !options.allowNegative)
    return err('money_negative', `amount must not be negative: ${text}`);
  if (!inRange(value)) return err('money_out_of_range', `amount ${text} is beyond ±(2^63−1) minor units`);
  return ok(value as Minor);
}

/** Parses a human decimal amount in major units ("0.25" with exponent 2 → 25n). Exact or rejected. */
export function parseAmount(text: string, cur: Currency, options: ParseOptions = {}): Result<Money> {
  const m = typeof text === 'string' ? AMOUNT_RE.exec(text) : null;
  if (!m) {
    return err(
      'money_malformed',
      `amount must look like "12" or "0.25" (no exponent, sign or spaces), got ${JSON.stringify(text)}`,
    );
  }
  const [, sign, whole, frac = ''] = m;
  if (frac.length === 0 && text.includes('.'))
    return err('money_malformed', 'amount ends with a decimal point');
  if (frac.length > cur.exponent) {
    return err(
      'money_too_precise',
      `${cur.code} has ${cur.exponent} decimal places; "${text}" has ${frac.length}`,
    );
  }
  const minor = BigInt(whole! + frac.padEnd(cur.exponent, '0')) * (sign === '-' ? -1n : 1n);
  if (minor < 0n && !options.allowNegative)
    return err('money_negative', `amount must not be negative: ${text}`);
  if (sign === '-' && minor === 0n) return err('money_malformed', 'negative zero is not an amount');
  if (!inRange(minor)) return err('money_out_of_range', `amount ${text} is out of range`);
  return ok(money(minor, cur));
}

/** Formats in major units with exactly `exponent` decimals: 25n (exp 2) → "0.25", 5n (exp 0) → "5". */
export function formatAmount(m: Money): string {
  const e = m.currency.exponent;
  const neg = m.minor < 0n;
  const digits = (neg ? -m.minor : m.minor).toString().padStart(e + 1, '0');
  const body = e === 0 ? digits : `${digits.slice(0, digits.length - e)}.${digits.slice(digits.length - e)}`;
  return neg ? `-${body}` : body;
}

/** For people: the amount and the currency's code, "0.0050 USD". */
export function formatMoney(m: Money): string {
  return `${formatAmount(m)} ${m.currency.code}`;
}

/** The wire form of an amount: its minor units as a decimal string. */
export function toWire(m: Money | bigint): string {
  return (typeof m === 'bigint' ? m : m.minor).toString();
}

function assertSame(a: Money, b: Money): void {
  if (!sameCurrency(a.currency, b.currency)) {
    throw new InvariantError(
      `currency mismatch: ${a.currency.code}/${a.currency.exponent} vs ${b.currency.code}/${b.currency.exponent}`,
    );
  }
}

export function add(a: Money, b: Money): Money {
  assertSame(a, b);
  return money(a.minor + b.minor, a.currency);
}

export function subtract(a: Money, b: Money): Money {
  assertSame(a, b);
  return money(a.minor - b.minor, a.currency);
}

/** `count` coins of value `m` (count must be a non-negative integer). */
export function times(m: Money, count: bigint | number): Money {
  const c = BigInt(count);
  if (c < 0n) throw new InvariantError(`negative multiplier ${c}`);
  return money(m.minor * c, m.currency);
}

export function compare(a: Money, b: Money): -1 | 0 | 1 {
  assertSame(a, b);
  return a.minor < b.minor ? -1 : a.minor > b.minor ? 1 : 0;
}

export function sum(items: readonly Money[], cur: Currency): Money {
  let total = money(0n, cur);
  for (const m of items) total = add(total, m);
  return total;
}

/**
 * Splits `total` by integer weights (e.g. basis points) exactly: each share is floored and the remainder
 * minor units go one each to the earliest payees, so the parts always add up to the total.
 */
export function allocate(total: Money, weights: readonly bigint[]): Money[] {
  if (weights.length === 0) throw new InvariantError('allocate needs at least one weight');
  let weightSum = 0n;
  for (const w of weights) {
    if (w < 0n) throw new InvariantError('allocation weights must be non-negative');
    weightSum += w;
  }
  if (weightSum === 0n) throw new InvariantError('allocation weights must not all be zero');
  if (total.minor < 0n) throw new InvariantError('cannot allocate a negative amount');
  const parts = weights.map((w) => (total.minor * w) / weightSum);
  let rest = total.minor - parts.reduce((a, b) => a + b, 0n);
  for (let i = 0; rest > 0n; i = (i + 1) % parts.length) {
    if (weights[i]! === 0n) continue;
    parts[i]! += 1n;
    rest -= 1n;
  }
  return parts.map((p) => money(p, total.currency));
}
