/**
 * The redemption store: every SQL statement over the `redemptions` table, the ranges (from, to] of each
 * chain that were redeemed by a vendor or refunded to the owner (a refund keeps its range here like a
 * redemption, so refunds call these functions too). Small functions over a Queryable: the caller's
 * transaction when it holds one. Times are Unix milliseconds as bigint, as the table stores them.
 */
import type { Queryable } from '@netpay/db';
import type { Claim } from '@netpay/protocol';
import type { RangeRow } from './ranges.ts';

/**
 * Every range of these chains, and any earlier use of these claim ids on other chains, in one read (the
 * claim ids' own chains tell the two apart).
 */
export async function rangesOf(
  q: Queryable,
  chainIds: readonly string[],
  claimIds: readonly string[],
): Promise<RangeRow[]> {
  return q.query<RangeRow>(
    `SELECT claim_id, chain_id, party_id, kind, from_index, to_index, to_payword, amount, fee
       FROM redemptions WHERE chain_id = ANY($1::text[]) OR claim_id = ANY($2::text[])`,
    [chainIds, claimIds],
  );
}

/** Records the credited claims of a batch in one multi-row insert, each with the claim it was redeemed by. */
export async function insertRedemptions(
  q: Queryable,
  credited: readonly { row: RangeRow; claim: Claim }[],
  now: bigint,
) {
  const rows = credited.map((c) => c.row);
  await q.query(
    `INSERT INTO redemptions (claim_id, chain_id, party_id, kind, from_index, to_index, to_payword, amount, fee, claim, created_at)
         SELECT claim_id, chain_id, party_id, 'redemption', from_index, to_index, to_payword, amount, fee, claim::jsonb, $9
         FROM unnest($1::text[], $2::text[], $3::text[], $4::int4[], $5::int4[], $6::text[], $7::int8[], $8::int8[], $10::text[])
           AS t(claim_id, chain_id, party_id, from_index, to_index, to_payword, amount, fee, claim)`,
    [
      rows.map((r) => r.claim_id),
      rows.map((r) => r.chain_id),
      rows.map((r) => r.party_id),
      rows.map((r) => r.from_index),
      rows.map((r) => r.to_index),
      rows.map((r) => r.to_payword),
      rows.map((r) => r.amount.toString()),
      rows.map((r) => r.fee.toString()),
      now,
      credited.map((c) => JSON.stringify(c.claim)),
    ],
  );
}

/** Records a refunded range (from, to] of a chain: paid back to its owner by the broker, without fee. */
export async function insertRefundRange(
  q: Queryable,
  r: { id: string; chainId: string; from: number; to: number; amount: bigint; now: bigint },
) {
  await q.query(
    `INSERT INTO redemptions (claim_id, chain_id, party_id, kind, from_index, to_index, to_payword, amount, fee, claim, created_at)
         VALUES ($1, $2, 'broker', 'refund', $3, $4, NULL, $5, 0, NULL, $6)`,
    [r.id, r.chainId, r.from, r.to, r.amount, r.now],
  );
}

/**
 * The end of the chain's highest redeemed range, if any.
 * The directory reads it when a chain is taken over: coins redeemed are surely spent.
 */
export async function topRedeemed(
  q: Queryable,
  chainId: string,
): Promise<{ to_index: number; to_payword: string } | undefined> {
  const [top] = await q.query<{ to_index: number; to_payword: string }>(
    "SELECT to_index, to_payword FROM redemptions WHERE chain_id = $1 AND kind = 'redemption' ORDER BY to_index DESC LIMIT 1",
    [chainId],
  );
  return top;
}

/** The end of the chain's highest redeemed range (null: none redeemed). */
export async function topRedeemedIndex(q: Queryable, chainId: string): Promise<number | null> {
  const [spent] = await q.query<{ top: number | null }>(
    "SELECT max(to_index) AS top FROM redemptions WHERE chain_id = $1 AND kind = 'redemption'",
    [chainId],
  );
  return spent?.top ?? null;
}

/** A party's redemption totals: claims, coins, gross amount and fees. */
export async function redeemedTotals(q: Queryable, partyId: string) {
  const [totals] = await q.query<{ claims: bigint; coins: bigint; amount: bigint; fees: bigint }>(
    `SELECT count(*)::int8 AS claims, COALESCE(sum(to_index - from_index), 0)::int8 AS coins,
              COALESCE(sum(amount), 0)::int8 AS amount, COALESCE(sum(fee), 0)::int8 AS fees
       FROM redemptions WHERE party_id = $1 AND kind = 'redemption'`,
    [partyId],
  );
  return totals;
}

/** The gross amount each of the parties `ids` redeemed, by id (none redeemed: absent). P2P's supply. */
export async function grossRedeemedBy(q: Queryable, ids: readonly string[]): Promise<Map<string, bigint>> {
  const rows = await q.query<{ party_id: string; amount: bigint }>(
    `SELECT party_id, sum(amount)::int8 AS amount FROM redemptions
      WHERE party_id = ANY($1::text[]) AND kind = 'redemption' GROUP BY party_id`,
    [[...new Set(ids)]],
  );
  return new Map(rows.map((r) => [r.party_id, r.amount]));
}

/** Every range of one chain, redeemed or refunded, for its money account. */
export async function chainRanges(q: Queryable, chainId: string) {
  return q.query<{ kind: string; from_index: number; to_index: number; amount: bigint }>(
    'SELECT kind, from_index, to_index, amount FROM redemptions WHERE chain_id = $1',
    [chainId],
  );
}
