/**
 * Holdings of a chain: where one begins (first claim, hand-over in, take-over) and ends (hand-over out,
 * taken over, refunded), and the lease that lets this vendor accept coins meanwhile (docs/protocol.md §8.4).
 */
import { type IndexMessage, type Touchstone, toBase64url } from '@netpay/protocol';
import { cached, type HeldChain, type Row, reload, type StoreState } from './chains.ts';

/** The broker granted or renewed this chain's lease: coins may be accepted until `untilMs` (local). */
export function setLease(s: StoreState, chainId: string, untilMs: number): void {
  if (untilMs > (s.leases.get(chainId) ?? 0)) s.leases.set(chainId, untilMs);
}

/** Whether this vendor's lease on the chain lets it accept coins at `nowMs` (local clock). */
export function leaseValid(s: StoreState, chainId: string, nowMs: number): boolean {
  return (s.leases.get(chainId) ?? 0) > nowMs;
}

/**
 * Whether a payment's coins may still be committed on this holding at `nowMs`: under a valid lease, or on a
 * P2P holding (held from the payer's own index, docs/p2p.md §3), which has no lease.
 */
export function mayCommit(s: StoreState, chainId: string, nowMs: number): boolean {
  return s.cache.get(chainId)?.startMessage !== undefined || leaseValid(s, chainId, nowMs);
}

/**
 * Records that this vendor now holds a chain from `start` (first claim, hand-over or take-over; in P2P the
 * payer's own signed index, `startMessage`, which its claims will carry).
 */
export async function hold(
  s: StoreState,
  touchstone: Touchstone,
  start: { index: number; payword: Uint8Array },
  startMessage?: IndexMessage,
): Promise<HeldChain> {
  const w = toBase64url(start.payword);
  const [row] = await s.db.query<Row>(
    `INSERT INTO vendor_chains (chain_id, touchstone, start_index, start_payword, accepted_index, accepted_payword,
         redeemed_index, redeemed_payword, status, updated_at, start_message)
       VALUES ($1, $2, $3, $4, $3, $4, $3, $4, 'held', $5, $6)
       ON CONFLICT (chain_id) DO UPDATE SET status = 'held', updated_at = $5, start_index = $3, start_payword = $4,
         start_message = $6, end_message = NULL,
         accepted_index = $3, accepted_payword = $4, redeemed_index = $3, redeemed_payword = $4, backup_index = NULL, backup_payword = NULL,
         -- The answer to an earlier holding's last payment is not this holding's: a payword spent elsewhere
         -- must not be served here as a retry.
         last_receipt = NULL
       -- A chain this vendor (or another instance of it) holds already keeps its state: never go backwards.
       WHERE vendor_chains.status = 'handed' AND vendor_chains.accepted_index <= $3
       RETURNING *`,
    [
      touchstone.chainId,
      JSON.stringify(touchstone),
      start.index,
      w,
      BigInt(s.clock()),
      startMessage ? JSON.stringify(startMessage) : null,
    ],
  );
  // Not written (the row is held already, or ahead): the chain as it is.
  return row ? cached(s, row) : (await reload(s, touchstone.chainId))!;
}

/**
 * Marks a chain handed on (it accepts nothing more here) and returns its final state. What this holding
 * accepted and has not redeemed moves to vendor_ranges, to be redeemed later.
 */
export async function release(s: StoreState, chainId: string): Promise<HeldChain | undefined> {
  s.leases.delete(chainId);
  const ended = await endHolding(s, chainId);
  return ended ? cached(s, ended) : reload(s, chainId);
}

/**
 * The broker moved the chain on without this vendor's hand-over answer (its lease ran out: a take-over,
 * or a refund it did not answer), or refunded it: it accepts the chain no more here. Every coin it
 * accepted was accepted under its lease and stays its own to redeem (docs/protocol.md §8.4).
 */
export async function releaseTakenOver(s: StoreState, chainId: string): Promise<void> {
  s.leases.delete(chainId);
  await endHolding(s, chainId);
  s.cache.delete(chainId);
}

/**
 * Ends the current holding of a chain: it accepts nothing more here. Its range moves to vendor_ranges —
 * the redeemed part marked so, the rest (up to the accepted index) to redeem. One statement: the row is
 * locked first and both the ranges and the end are made from the locked row, so a payment committing on
 * another instance lands before or after, never between. Answers the ended chain's row, or undefined if
 * it was not held.
 */
async function endHolding(s: StoreState, chainId: string): Promise<Row | undefined> {
  const [row] = await s.db.query<Row>(
    `WITH ending AS (
       SELECT chain_id, start_index, start_payword, accepted_index, accepted_payword, redeemed_index,
           redeemed_payword, start_message, end_message FROM vendor_chains
         WHERE chain_id = $1 AND status = 'held' FOR UPDATE
     ), ranges AS (
       INSERT INTO vendor_ranges (chain_id, from_index, from_payword, to_index, to_payword, redeemed, start_message,
           end_message)
         SELECT chain_id, start_index, start_payword, redeemed_index, redeemed_payword, true, start_message,
             end_message FROM ending
           WHERE redeemed_index > start_index
         UNION ALL
         SELECT chain_id, redeemed_index, redeemed_payword, accepted_index, accepted_payword, false, start_message,
             end_message FROM ending
           WHERE accepted_index > redeemed_index
         ON CONFLICT DO NOTHING
     )
     UPDATE vendor_chains v SET status = 'handed', redeemed_index = e.accepted_index,
         redeemed_payword = e.accepted_payword, updated_at = $2
       FROM ending e WHERE v.chain_id = e.chain_id
       RETURNING v.*`,
    [chainId, BigInt(s.clock())],
  );
  return row;
}
