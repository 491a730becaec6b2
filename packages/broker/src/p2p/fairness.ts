/**
 * Fairness (docs/p2p.md §4): a peer may buy coins while demand + purchase ≤ allowance, where allowance =
 * freeAllowance + supply × supplyFactor. Supply is what other peers paid it (the gross value it redeemed),
 * demand what it bought and kept (its chains' value less what was refunded of them). Pure bigint
 * arithmetic over those figures; no floats anywhere, the ratio included.
 */
import type { BrokerConfig } from '../config.ts';

export interface Figures {
  /** Gross value the peer redeemed, minor units. */
  readonly supply: bigint;
  /** Value of the coins it bought less what was refunded of them, minor units. */
  readonly demand: bigint;
}

type P2pConfig = Pick<BrokerConfig['p2p'], 'freeAllowance' | 'supplyFactor'>;

/** What the peer may have bought in all: the free allowance plus supplyFactor times its supply. */
export const allowance = (p2p: P2pConfig, f: Figures): bigint =>
  p2p.freeAllowance + f.supply * BigInt(p2p.supplyFactor);

/** What the peer may still buy (never below 0: refunds can bring demand back under the allowance). */
export function remaining(p2p: P2pConfig, f: Figures): bigint {
  const left = allowance(p2p, f) - f.demand;
  return left > 0n ? left : 0n;
}

/** Whether a purchase worth `purchase` keeps demand within the allowance. */
export const withinAllowance = (p2p: P2pConfig, f: Figures, purchase: bigint): boolean =>
  f.demand + purchase <= allowance(p2p, f);

/** supply ÷ demand as a decimal string with 2 places, rounded down ("1.25"); null while demand is 0. */
export function ratio(f: Figures): string | null {
  if (f.demand <= 0n) return null;
  const hundredths = (f.supply * 100n) / f.demand;
  return `${hundredths / 100n}.${(hundredths % 100n).toString().padStart(2, '0')}`;
}
