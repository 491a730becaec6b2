/**
 * Server-side wallet charges (vendor_wallet_charges): those the vendor kept, and the voids still to be
 * sent to the broker or that it refused.
 */
import type { StoreState } from './chains.ts';

/**
 * A server-side wallet charge the vendor keeps (its response succeeded): recorded with its payees, and
 * added to the revenue per minute, in one statement; once only.
 */
export async function keepWalletCharge(
  s: StoreState,
  c: { chargeId: string; amount: bigint; payees?: string },
): Promise<void> {
  const now = BigInt(s.clock());
  await s.db.query(
    `WITH kept AS (
         INSERT INTO vendor_wallet_charges (charge_id, amount, payees, status, at)
         VALUES ($1, $2, $3, 'kept', $4) ON CONFLICT (charge_id) DO NOTHING RETURNING amount
       )
       INSERT INTO vendor_revenue (minute, amount, payments) SELECT $5, amount, 1 FROM kept
       ON CONFLICT (minute) DO UPDATE SET amount = vendor_revenue.amount + excluded.amount,
         payments = vendor_revenue.payments + 1`,
    [c.chargeId, c.amount, c.payees ?? null, now, now - (now % 60_000n)],
  );
}

/**
 * A charge to void that the broker could not be told of yet (`void_pending`: a later round voids it),
 * or that it refused to void (`void_refused`: owed to the customer). Never a charge the vendor kept.
 */
export async function voidLater(
  s: StoreState,
  chargeId: string,
  amount: bigint,
  status: 'void_pending' | 'void_refused' = 'void_pending',
): Promise<void> {
  await s.db.query(
    `INSERT INTO vendor_wallet_charges (charge_id, amount, payees, status, at) VALUES ($1, $2, NULL, $4, $3)
       ON CONFLICT (charge_id) DO UPDATE SET status = excluded.status
       WHERE vendor_wallet_charges.status <> 'kept'`,
    [chargeId, amount, BigInt(s.clock()), status],
  );
}

export async function voidsPending(s: StoreState, limit = 100): Promise<string[]> {
  const rows = await s.db.query<{ charge_id: string }>(
    `SELECT charge_id FROM vendor_wallet_charges WHERE status = 'void_pending' ORDER BY at LIMIT $1`,
    [limit],
  );
  return rows.map((r) => r.charge_id);
}

export async function markVoided(
  s: StoreState,
  chargeId: string,
  status: 'voided' | 'void_refused' = 'voided',
): Promise<void> {
  await s.db.query(`UPDATE vendor_wallet_charges SET status = $2 WHERE charge_id = $1`, [chargeId, status]);
}
