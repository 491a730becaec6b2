import type { Queryable } from '@netpay/db';

/**
 * The holding history of a chain: one row per vendor that held it, with the index it got the chain at and
 * the index it handed the chain on at (open while it holds it). Redemption consults it so a vendor can
 * only redeem coins from its own holding.
 */
export async function openHolding(
  tx: Queryable,
  chainId: string,
  partyId: string,
  startIndex: number,
  now: number,
) {
  await tx.query(
    `INSERT INTO chain_holdings (chain_id, seq, party_id, start_index, started_at)
     SELECT $1, COALESCE(max(seq), 0) + 1, $2, $3, $4 FROM chain_holdings WHERE chain_id = $1`,
    [chainId, partyId, startIndex, BigInt(now)],
  );
}

/**
 * Ends the open holding of a chain at `endIndex` (the index it was handed on, taken over or refunded at).
 * `soft`: the holder did not sign its final index (its lease ran out), so it may have accepted coins
 * beyond `endIndex` under its lease; they stay its own to redeem.
 */
export async function closeHolding(tx: Queryable, chainId: string, endIndex: number, soft: boolean) {
  await tx.query(
    'UPDATE chain_holdings SET end_index = $2, soft_end = $3 WHERE chain_id = $1 AND end_index IS NULL',
    [chainId, endIndex, soft],
  );
}

export interface Holding {
  readonly chain_id: string;
  readonly party_id: string;
  readonly start_index: number;
  readonly end_index: number | null;
  readonly soft_end: boolean;
}

export async function holdingsOf(
  q: Queryable,
  chainIds: readonly string[],
  partyId: string,
): Promise<Holding[]> {
  return q.query<Holding>(
    'SELECT chain_id, party_id, start_index, end_index, soft_end FROM chain_holdings WHERE chain_id = ANY($1::text[]) AND party_id = $2',
    [chainIds, partyId],
  );
}

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
