/**
 * What the bank's operations run over: the database, the clock, the random source, the currency and the
 * dev switch, as one explicit dependencies object (tests inject the clock and the random source).
 */
import type { Db } from '@netpay/db';
import { type Currency, currency as makeCurrency, randomBytes, toBase64url } from '@netpay/protocol';

/** Wall-clock time in milliseconds since the Unix epoch; injected so tests can move time. */
export interface Clock {
  now(): number;
}
export const systemClock: Clock = { now: () => Date.now() };

export const DEFAULT_CURRENCY: Currency = makeCurrency('USD', 2);

export interface BankServiceDeps {
  readonly db: Db;
  readonly clock: Clock;
  /** Source of ids and tokens. Default: the platform CSPRNG. */
  readonly random?: (length: number) => Uint8Array;
  /** The one currency of this bank. Default USD with 2 decimals. */
  readonly currency?: Currency;
  /** Dev mode lets anyone open an account with money in it. Default false. */
  readonly dev?: boolean;
}

/** The dependencies with their defaults filled in. */
export interface BankContext {
  readonly db: Db;
  readonly clock: Clock;
  readonly random: (length: number) => Uint8Array;
  readonly currency: Currency;
  readonly dev: boolean;
}

export function bankContext(deps: BankServiceDeps): BankContext {
  return {
    db: deps.db,
    clock: deps.clock,
    random: deps.random ?? randomBytes,
    currency: deps.currency ?? DEFAULT_CURRENCY,
    dev: deps.dev ?? false,
  };
}

/** A new id: the prefix and 16 random bytes. */
export const newId = (ctx: BankContext, prefix: string) => prefix + toBase64url(ctx.random(16));

export const isoTime = (ms: bigint | number) => new Date(Number(ms)).toISOString();
