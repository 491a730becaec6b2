/**
 * Whether a vendor held a chain over a range of indices, from its holdings (their rows are read and
 * written in store.ts). Redemption consults it so a vendor can only redeem coins from its own holding.
 */
import type { Holding } from './store.ts';

/**
 * True when (from, to] lies within the vendor's holdings of the chain. Back-to-back holdings (the chain
 * handed away and straight back at the same index) join into one span, so one claim may cross them. A
 * holding with a soft end (its lease ran out) reaches to the chain's end: what its holder accepted under
 * the lease beyond its last backup is unknown to the broker, but only the owner could have paid it.
 */
export function heldRange(holdings: readonly Holding[], chainId: string, from: number, to: number): boolean {
  const spans = holdings
    .filter((h) => h.chain_id === chainId)
    .map((h) => ({
      start: h.start_index,
      end: h.end_index === null || h.soft_end ? Number.POSITIVE_INFINITY : h.end_index,
    }))
    .sort((a, b) => a.start - b.start);
  let current: { start: number; end: number } | undefined;
  for (const span of spans) {
    if (current && span.start <= current.end) current.end = Math.max(current.end, span.end);
    else {
      if (current && current.start <= from && to <= current.end) return true;
      current = { ...span };
    }
  }
  return current !== undefined && current.start <= from && to <= current.end;
}
