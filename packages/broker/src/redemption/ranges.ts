/**
 * The ranges of a chain (DESIGN.md §3): each redeemed or refunded range (from, to] is one row of the
 * `redemptions` table (store.ts). Pure arithmetic over them, shared by the redemption checks, the fraud
 * detection and a chain's money account.
 */
import { type ChainPoint, fromBase64url, type Touchstone } from '@netpay/protocol';

/** A redeemed or refunded range of a chain, as the `redemptions` table keeps it. */
export interface RangeRow {
  claim_id: string;
  chain_id: string;
  party_id: string;
  kind: 'redemption' | 'refund';
  from_index: number;
  to_index: number;
  to_payword: string | null;
  amount: bigint;
  fee: bigint;
}

/** How many coins of (from, to] the ranges cover (their union, so coins covered twice count once). */
export function coveredCoins(
  ranges: readonly { from_index: number; to_index: number }[],
  from: number,
  to: number,
): number {
  const spans = ranges
    .map((r) => [Math.max(r.from_index, from), Math.min(r.to_index, to)] as const)
    .filter(([a, b]) => a < b)
    .sort((x, y) => x[0] - y[0]);
  let covered = 0;
  let reach = from;
  for (const [a, b] of spans) {
    if (b <= reach) continue;
    covered += b - Math.max(a, reach);
    reach = b;
  }
  return covered;
}

/** The ranges that share at least one coin with (from, to]. */
export function overlapping<R extends { from_index: number; to_index: number }>(
  ranges: readonly R[],
  from: number,
  to: number,
): R[] {
  return ranges.filter((r) => r.from_index < to && r.to_index > from);
}

/**
 * Where to verify a claim starting at `from` from: the highest point of the chain already verified at or
 * below it (the end of a redeemed range, whose payword was checked then), else the root. One hash per
 * coin, never from the root again.
 */
export function anchorFor(touchstone: Touchstone, ranges: readonly RangeRow[], from: number): ChainPoint {
  let anchor: ChainPoint = { index: 0, payword: fromBase64url(touchstone.root)! };
  for (const r of ranges) {
    if (r.kind === 'redemption' && r.to_payword && r.to_index <= from && r.to_index > anchor.index) {
      anchor = { index: r.to_index, payword: fromBase64url(r.to_payword)! };
    }
  }
  return anchor;
}
