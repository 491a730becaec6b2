import type { Queryable } from '@netpay/db';
import { type BrokerContext, newId } from '../context.ts';
import { closeHolding } from '../directory/holdings.ts';
import { fail } from '../errors.ts';
import { customerAccount, SYSTEM_ACCOUNTS } from '../ledger/ledger.ts';

interface ChainRow {
  chain_id: string;
  customer_id: string;
  n: number;
  coin_value: bigint;
  status: string;
  holder: string | null;
  backup_index: number;
  expires_at: bigint;
}

/**
 * Refunds: the broker takes a chain over like a vendor — once marked refunded no vendor can claim it from
 * the directory — and pays the customer back for every coin above the highest point known to be spent
 * (the holder's last backup index or the end of any redeemed range). The refunded range is recorded like a
 * redemption, so a later claim on it is refused as overlapping and kept as evidence. Expired chains are
 * closed the same way once vendors' grace period is over.
 */
export function createRefundService(ctx: BrokerContext) {
  const { db, ledger } = ctx;

  async function closeChain(tx: Queryable, c: ChainRow, status: 'refunded' | 'closed') {
    const [spent] = await tx.query<{ top: number | null }>(
      'SELECT max(to_index) AS top FROM redemptions WHERE chain_id = $1',
      [c.chain_id],
    );
    const from = Math.max(c.backup_index, spent?.top ?? 0);
    const coins = c.n - from;
    const amount = BigInt(coins) * c.coin_value;
    if (coins > 0) {
      const id = newId(ctx, 'refund');
      await tx.query(
        `INSERT INTO redemptions (claim_id, chain_id, party_id, kind, from_index, to_index, to_payword, amount, fee, claim, created_at)
         VALUES ($1, $2, 'broker', 'refund', $3, $4, NULL, $5, 0, NULL, $6)`,
        [id, c.chain_id, from, c.n, amount, BigInt(ctx.clock())],
      );
      await ledger.post(tx, [
        {
          id,
          debit: SYSTEM_ACCOUNTS.coins,
          credit: customerAccount(c.customer_id),
          amount,
          kind: status === 'refunded' ? 'refund' : 'expiry_refund',
          ref: c.chain_id,
        },
      ]);
    }
    await tx.query('UPDATE chains SET status = $2, holder = NULL WHERE chain_id = $1', [c.chain_id, status]);
    await closeHolding(tx, c.chain_id, from);
    return { chainId: c.chain_id, refundedFrom: from, coins, amount };
  }

  /** Refunds the unspent rest of a chain to its owner's broker balance (then `unload` sends it to the bank). */
  async function refund(tx: Queryable, customerId: string, chainId: string) {
    const [c] = await tx.query<ChainRow>(
      'SELECT chain_id, customer_id, n, coin_value, status, holder, backup_index, expires_at FROM chains WHERE chain_id = $1 FOR UPDATE',
      [chainId],
    );
    if (!c || c.customer_id !== customerId) throw fail('chain_not_found', 'you have no such chain');
    if (c.status !== 'active') throw fail('chain_refunded', 'this chain was already refunded or closed');
    const out = await closeChain(tx, c, 'refunded');
    return { ...out, balance: await ledger.balance(tx, customerAccount(customerId)) };
  }

  /** Closes chains past expiry and grace, refunding what no vendor redeemed. Runs in batches. */
  async function closeExpired(limit = 500) {
    const cutoff = BigInt(ctx.clock() - ctx.config.redemptionGraceSeconds * 1000);
    return db.transaction(async (tx) => {
      const rows = await tx.query<ChainRow>(
        `SELECT chain_id, customer_id, n, coin_value, status, holder, backup_index, expires_at FROM chains
         WHERE status = 'active' AND expires_at < $1 ORDER BY chain_id LIMIT $2 FOR UPDATE SKIP LOCKED`,
        [cutoff, limit],
      );
      const closed = [];
      for (const c of rows) closed.push(await closeChain(tx, c, 'closed'));
      return { closed: closed.length, refunded: closed.reduce((s, c) => s + c.amount, 0n).toString() };
    });
  }

  return { refund, closeExpired };
}

export type RefundService = ReturnType<typeof createRefundService>;
