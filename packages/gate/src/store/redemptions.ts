/**
 * What is to be redeemed at the broker and the claims made for it: earlier holdings' ranges
 * (vendor_ranges), the multi-party payments that cut a range into claims (vendor_payee_payments), and the
 * claims as sent and answered (vendor_claims).
 */
import type { Queryable } from '@netpay/db';
import { fromBase64url, type IndexMessage } from '@netpay/protocol';
import { markRedeemed, type StoreState } from './chains.ts';

/** A run of coins of one chain paid for at one set of payees' shares. */
export interface PayeeRun {
  readonly fromIndex: number;
  readonly fromPayword: string;
  readonly toIndex: number;
  readonly payword: string;
  readonly payees: string;
}

/** A claim as written down before it is sent (vendor_claims). */
export interface ClaimRow {
  claim_id: string;
  chain_id: string;
  from_index: number;
  to_index: number;
  earlier: boolean;
  claim: unknown;
}

/**
 * Ranges from earlier holdings still to redeem. `range_from` is the row's own start (its key); `from_index`
 * and `from_payword` are where its unclaimed part starts. A holding can end while claims for it are in
 * flight (written down, sent, their answers not settled yet): it moved to vendor_ranges from its redeemed
 * index then, so the range begins with coins those claims carry. Claims for one holding run on from its
 * redeemed index without a gap, so they cover a prefix of the range, up to the furthest one's end: that
 * prefix is never claimed again (a second claim of it would be refused as overlapping).
 */
export async function pendingRanges(s: StoreState, limit = 500) {
  return s.db.query<{
    chain_id: string;
    range_from: number;
    from_index: number;
    from_payword: string;
    to_index: number;
    to_payword: string;
    start_message: IndexMessage | null;
    end_message: IndexMessage | null;
  }>(
    `SELECT r.chain_id, r.from_index AS range_from, COALESCE(c.to_index, r.from_index) AS from_index,
         COALESCE(c.to_payword, r.from_payword) AS from_payword, r.to_index, r.to_payword, r.start_message,
         r.end_message
       FROM vendor_ranges r LEFT JOIN LATERAL (
         SELECT k.to_index, k.claim->'to'->>'payword' AS to_payword FROM vendor_claims k
           WHERE k.chain_id = r.chain_id AND NOT k.earlier AND k.from_index >= r.from_index
             AND k.to_index <= r.to_index
           ORDER BY k.to_index DESC LIMIT 1
       ) c ON true
       WHERE NOT r.redeemed ORDER BY r.chain_id, r.from_index LIMIT $1`,
    [limit],
  );
}

/** Multi-party payments among the coins (from, to] of a chain, in chain order. */
export async function payeeRuns(
  s: StoreState,
  chainId: string,
  from: number,
  to: number,
): Promise<PayeeRun[]> {
  const rows = await s.db.query<{
    from_index: number;
    from_payword: string;
    chain_index: number;
    payword: string;
    payees: string;
  }>(
    `SELECT from_index, from_payword, to_index AS chain_index, to_payword AS payword, payees
       FROM vendor_payee_payments WHERE chain_id = $1 AND to_index > $2 AND to_index <= $3
       ORDER BY to_index`,
    [chainId, from, to],
  );
  return rows.map((r) => ({
    fromIndex: r.from_index,
    fromPayword: r.from_payword,
    toIndex: r.chain_index,
    payword: r.payword,
    payees: r.payees,
  }));
}

/**
 * Writes claims as sent, before they go to the broker, and in the same transaction marks the earlier
 * holdings' ranges they cover as claimed: from here on the claims (resent until answered) carry them.
 */
export async function recordClaims(
  s: StoreState,
  rows: readonly ClaimRow[],
  claimedRanges: readonly { chainId: string; fromIndex: number }[] = [],
): Promise<void> {
  if (rows.length === 0 && claimedRanges.length === 0) return;
  await s.db.transaction(async (tx) => {
    if (rows.length > 0) await insertClaims(tx, rows, BigInt(s.clock()));
    if (claimedRanges.length > 0) {
      await tx.query(
        `UPDATE vendor_ranges r SET redeemed = true FROM unnest($1::text[], $2::int4[]) AS x(c, f)
           WHERE r.chain_id = x.c AND r.from_index = x.f`,
        [claimedRanges.map((r) => r.chainId), claimedRanges.map((r) => r.fromIndex)],
      );
    }
  });
}

async function insertClaims(tx: Queryable, rows: readonly ClaimRow[], now: bigint): Promise<void> {
  await tx.query(
    `INSERT INTO vendor_claims (claim_id, chain_id, from_index, to_index, earlier, claim, status, created_at)
       SELECT c, ch, f, t, e, j::jsonb, 'sent', $7 FROM unnest($1::text[], $2::text[], $3::int4[], $4::int4[], $5::bool[], $6::text[])
         AS x(c, ch, f, t, e, j)
       ON CONFLICT (claim_id) DO NOTHING`,
    [
      rows.map((r) => r.claim_id),
      rows.map((r) => r.chain_id),
      rows.map((r) => r.from_index),
      rows.map((r) => r.to_index),
      rows.map((r) => r.earlier),
      rows.map((r) => JSON.stringify(r.claim)),
      now,
    ],
  );
}

/** Claims sent whose answer never arrived: to be resent unchanged. */
export async function sentClaims(s: StoreState): Promise<ClaimRow[]> {
  return s.db.query<ClaimRow>(
    "SELECT claim_id, chain_id, from_index, to_index, earlier, claim FROM vendor_claims WHERE status = 'sent' ORDER BY created_at",
  );
}

/** Records the broker's answer to a claim and settles its range (credited or definitively refused). */
export async function settleClaim(
  s: StoreState,
  c: ClaimRow,
  status: 'credited' | 'refused',
  code: string | null,
  amount: bigint | null,
) {
  await s.db.query('UPDATE vendor_claims SET status = $2, code = $3, amount = $4 WHERE claim_id = $1', [
    c.claim_id,
    status,
    code,
    amount,
  ]);
  // An earlier holding's range was marked when its claims were recorded; the current one moves now.
  const to = (c.claim as { to: { payword: string } }).to.payword;
  if (!c.earlier) await markRedeemed(s, c.chain_id, c.to_index, fromBase64url(to)!);
}
