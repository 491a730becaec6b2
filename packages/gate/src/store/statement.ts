/**
 * The vendor's own accounts, read from every table of the store: what it accepted and redeemed (the
 * reconciliation of receipted coins against claims), revenue per minute, and each payee's share.
 */
import type { Queryable } from '@netpay/db';

/** What this vendor accepted and redeemed, in coins and minor units, over all chains. */
export async function statement(db: Queryable) {
  const { current, earlier, claims, wallet } = await totals(db);
  const missing = await missingCoins(db);
  const accepted = (current?.accepted ?? 0n) + (earlier?.accepted ?? 0n);
  const credited = claims?.credited ?? 0n;
  const lost = missing.reduce((a, m) => a + BigInt(m.amount), 0n);
  return {
    chains: Number(current?.chains ?? 0n),
    accepted: accepted.toString(),
    redeemed: credited.toString(),
    /**
     * Reconciliation: every coin receipted is credited, waiting to be (not claimed yet, or its claim not
     * answered), or missing — claimed and refused by the broker. Missing coins are listed.
     */
    awaitingRedemption: (accepted - credited - lost).toString(),
    missing: lost.toString(),
    missingRanges: missing,
    refusedClaims: Number(claims?.refused ?? 0n),
    claimsAwaitingAnswer: Number(claims?.pending ?? 0n),
    /** Server-side wallet sales kept; voids waiting for the broker; voids it refused (owed to customers). */
    walletCharged: (wallet?.kept ?? 0n).toString(),
    walletVoidsPending: (wallet?.pending ?? 0n).toString(),
    walletOwed: (wallet?.owed ?? 0n).toString(),
  };
}

/** The sums behind the statement: current holdings, earlier holdings' ranges, claims, wallet charges. */
async function totals(db: Queryable) {
  const [current] = await db.query<{ accepted: bigint; chains: bigint }>(
    `SELECT COALESCE(sum((accepted_index - start_index)::int8 * (touchstone->>'coinValue')::int8), 0)::int8 AS accepted,
              count(*)::int8 AS chains
       FROM vendor_chains WHERE status = 'held'`,
  );
  const [earlier] = await db.query<{ accepted: bigint }>(
    `SELECT COALESCE(sum((r.to_index - r.from_index)::int8 * (c.touchstone->>'coinValue')::int8), 0)::int8 AS accepted
       FROM vendor_ranges r JOIN vendor_chains c ON c.chain_id = r.chain_id`,
  );
  const [claims] = await db.query<{ credited: bigint; refused: bigint; pending: bigint }>(
    `SELECT COALESCE(sum(amount) FILTER (WHERE status = 'credited'), 0)::int8 AS credited,
              count(*) FILTER (WHERE status = 'refused')::int8 AS refused,
              count(*) FILTER (WHERE status = 'sent')::int8 AS pending
       FROM vendor_claims`,
  );
  const [wallet] = await db.query<{ kept: bigint; pending: bigint; owed: bigint }>(
    `SELECT COALESCE(sum(amount) FILTER (WHERE status = 'kept'), 0)::int8 AS kept,
              COALESCE(sum(amount) FILTER (WHERE status = 'void_pending'), 0)::int8 AS pending,
              COALESCE(sum(amount) FILTER (WHERE status = 'void_refused'), 0)::int8 AS owed
       FROM vendor_wallet_charges`,
  );
  return { current, earlier, claims, wallet };
}

/** Coins this vendor receipted whose claims the broker refused (up to 100 ranges, newest first). */
async function missingCoins(db: Queryable) {
  const rows = await db.query<{
    chain_id: string;
    from_index: number;
    to_index: number;
    code: string | null;
    amount: bigint;
  }>(
    `SELECT k.chain_id, k.from_index, k.to_index, k.code,
              ((k.to_index - k.from_index)::int8 * (c.touchstone->>'coinValue')::int8)::int8 AS amount
       FROM vendor_claims k JOIN vendor_chains c ON c.chain_id = k.chain_id
       WHERE k.status = 'refused' ORDER BY k.created_at DESC LIMIT 100`,
  );
  return rows.map((r) => ({
    chainId: r.chain_id,
    fromIndex: r.from_index,
    toIndex: r.to_index,
    code: r.code ?? 'rejected',
    amount: r.amount.toString(),
  }));
}

/** Revenue per minute since `sinceMs` (gross, minor units), oldest first. */
export async function revenue(db: Queryable, sinceMs: number) {
  const rows = await db.query<{ minute: bigint; amount: bigint; payments: number }>(
    'SELECT minute, amount, payments FROM vendor_revenue WHERE minute >= $1 ORDER BY minute',
    [BigInt(sinceMs)],
  );
  return rows.map((r) => ({ minute: Number(r.minute), amount: r.amount.toString(), payments: r.payments }));
}

/**
 * What each payee's share of the multi-party payments came to (gross, before the broker fee): coins, and
 * server-side wallet charges kept.
 */
export async function payeeTotals(db: Queryable) {
  const rows = await db.query<{ payees: string; value: bigint }>(
    `SELECT p.payees, sum(p.to_index - p.from_index)::int8 * (c.touchstone->>'coinValue')::int8 AS value
       FROM vendor_payee_payments p JOIN vendor_chains c ON c.chain_id = p.chain_id
       GROUP BY p.payees, c.touchstone->>'coinValue'
       UNION ALL
       SELECT payees, sum(amount)::int8 FROM vendor_wallet_charges
       WHERE status = 'kept' AND payees IS NOT NULL GROUP BY payees`,
  );
  const totals = new Map<string, bigint>();
  for (const r of rows) {
    const value = r.value;
    for (const p of JSON.parse(r.payees) as { payeeId: string; share: number }[]) {
      totals.set(p.payeeId, (totals.get(p.payeeId) ?? 0n) + (value * BigInt(p.share)) / 10_000n);
    }
  }
  return [...totals].map(([payeeId, amount]) => ({ payeeId, amount: amount.toString() }));
}
