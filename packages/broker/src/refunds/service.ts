/**
 * Refunds (docs/protocol.md §8.6): a refund is a hand-over to the broker. The customer states how far its
 * wallet spent; from then on the chain's lease is not renewed. The broker asks the holder to hand the
 * chain over (a request signed with the broker's key); the holder stops accepting and signs its final
 * index to the broker. Without an answer the refund waits until the holder's lease has run out (the
 * holder has stopped accepting by then). It refunds every coin above the highest of the customer's stated
 * index, the holder's final index or last backup, and every redeemed index. Coins a holder accepted under
 * its lease beyond that point stay redeemable by it and are charged back to the customer (§8.5).
 *
 * Plain functions over RefundDeps; createRefundService binds them. Refunds own no table: the chain's
 * state is the directory's (directory/store.ts), the refunded range is kept with the redeemed ones
 * (redemption/store.ts), the money moves in the ledger. Their errors are the directory's codes.
 */
import type { Queryable } from '@netpay/db';
import type { IndexMessage } from '@netpay/protocol';
import { type BrokerContext, newId } from '../context.ts';
import { leaseLeft } from '../directory/service.ts';
import {
  closeHolding,
  lockChainToRefund,
  lockExpiredChains,
  markClosed,
  pendingRefunds,
  type RefundableChain,
  releaseAtFinalIndex,
  requestRefund,
} from '../directory/store.ts';
import { fail } from '../errors.ts';
import { customerAccount, SYSTEM_ACCOUNTS } from '../ledger/ledger.ts';
import { insertRefundRange, topRedeemedIndex } from '../redemption/store.ts';
import type { RefundDeps } from './deps.ts';
import { askHolder, validFinal } from './holder.ts';

export type { RefundDeps } from './deps.ts';

/** What refunds run on. */

export interface RefundDone {
  readonly status: 'refunded';
  readonly chainId: string;
  readonly refundedFrom: number;
  readonly coins: number;
  readonly amount: bigint;
  readonly balance: bigint;
}

export interface RefundPending {
  readonly status: 'pending';
  readonly chainId: string;
  /** Seconds until the holder's lease has run out and the refund can complete without its answer. */
  readonly retryAfter: number;
}

/** Pays back (from, n] and closes the chain; the refunded range is kept like a redemption. */
async function closeChain(
  d: RefundDeps,
  tx: Queryable,
  c: RefundableChain,
  from: number,
  status: 'refunded' | 'closed',
) {
  const coins = c.n - from;
  const amount = BigInt(coins) * c.coin_value;
  if (coins > 0) {
    const id = newId(d, 'refund');
    await insertRefundRange(tx, { id, chainId: c.chain_id, from, to: c.n, amount, now: BigInt(d.clock()) });
    await d.ledger.post(tx, [
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
  await markClosed(tx, c.chain_id, status);
  return { chainId: c.chain_id, refundedFrom: from, coins, amount };
}

/** The highest index known spent: the last backup or hand-over index, or the end of any redeemed range. */
async function spentIndex(tx: Queryable, c: RefundableChain): Promise<number> {
  return Math.max(c.backup_index, (await topRedeemedIndex(tx, c.chain_id)) ?? 0);
}

/** Records the customer's request: its stated spent index; the chain's lease is not renewed from now. */
async function ask(d: RefundDeps, customerId: string, chainId: string, stated: number) {
  return d.db.transaction(async (tx) => {
    const c = await lockChainToRefund(tx, chainId);
    if (!c || c.customer_id !== customerId) throw fail('chain_not_found', 'you have no such chain');
    if (c.status !== 'active') throw fail('chain_refunded', 'this chain was already refunded or closed');
    if (stated > c.n) throw fail('bad_request', `spentIndex ${stated} is beyond the chain's ${c.n} coins`);
    await requestRefund(tx, chainId, BigInt(d.clock()), stated);
    return c;
  });
}

/**
 * Completes a requested refund: with the holder's final index (a hard end), with nobody holding the
 * chain, or once the holder's lease is over (a soft end: what it accepted under the lease stays its to
 * redeem). Pending while a holder that did not answer still has a lease.
 */
async function complete(
  d: RefundDeps,
  chainId: string,
  final?: IndexMessage,
): Promise<RefundDone | RefundPending> {
  return d.db.transaction(async (tx) => {
    const c = (await lockChainToRefund(tx, chainId))!;
    if (c.status !== 'active') throw fail('chain_refunded', 'this chain was already refunded or closed');
    let backup = c.backup_index;
    if (final && c.holder && (await validFinal(d, tx, c, final))) {
      await closeHolding(tx, chainId, final.index, false);
      backup = final.index;
      await releaseAtFinalIndex(tx, chainId, final);
    } else if (c.holder) {
      const left = leaseLeft(c.lease_until, d.clock());
      if (left.leaseMs > 0) return { status: 'pending', chainId, retryAfter: Math.ceil(left.leaseMs / 1000) };
      await closeHolding(tx, chainId, await spentIndex(tx, c), true);
    }
    const from = Math.max(
      c.refund_stated_index ?? 0,
      backup,
      await spentIndex(tx, { ...c, backup_index: backup }),
    );
    const out = await closeChain(d, tx, c, from, 'refunded');
    return {
      status: 'refunded',
      ...out,
      balance: await d.ledger.balance(tx, customerAccount(c.customer_id)),
    };
  });
}

/**
 * Refunds the unspent rest of a chain to its owner's broker balance (then `unload` sends it to the bank).
 * `stated`: the highest index the customer's wallet spent (0: none). Asking again while pending is safe.
 */
export async function refund(d: RefundDeps, customerId: string, chainId: string, stated: number) {
  const c = await ask(d, customerId, chainId, stated);
  const final = await askHolder(d, c);
  return complete(d, chainId, final);
}

/** Completes refunds left pending (their holder's lease ran out, or the broker restarted meanwhile). */
export async function completePending(d: RefundDeps, limit = 100) {
  const rows = await pendingRefunds(d.db, limit);
  let completed = 0;
  for (const c of rows) {
    const final = await askHolder(d, c);
    const r = await complete(d, c.chain_id, final).catch(() => undefined);
    if (r?.status === 'refunded') completed++;
  }
  return { pending: rows.length - completed, completed };
}

/** Closes chains past expiry and grace, refunding what no vendor redeemed. Runs in batches. */
export async function closeExpired(d: RefundDeps, limit = 500) {
  const cutoff = BigInt(d.clock() - d.config.redemptionGraceSeconds * 1000);
  return d.db.transaction(async (tx) => {
    const rows = await lockExpiredChains(tx, cutoff, limit);
    const closed = [];
    for (const c of rows) {
      // Past expiry and grace nobody accepts the chain's coins: every holding ends where it stands.
      const from = await spentIndex(tx, c);
      await closeHolding(tx, c.chain_id, from, true);
      closed.push(await closeChain(d, tx, c, from, 'closed'));
    }
    return { closed: closed.length, refunded: closed.reduce((s, c) => s + c.amount, 0n).toString() };
  });
}

/** Refunds as one object (what the routes, the operator's jobs and tests call): bound to their deps. */
export function createRefundService(
  ctx: BrokerContext,
  deps: { keys: RefundDeps['keys']; parties: RefundDeps['parties'] },
) {
  const { db, clock, random, config, ledger } = ctx;
  const d: RefundDeps = { db, clock, random, config, ledger, ...deps };
  return {
    refund: (customerId: string, chainId: string, stated: number) => refund(d, customerId, chainId, stated),
    completePending: (limit?: number) => completePending(d, limit),
    closeExpired: (limit?: number) => closeExpired(d, limit),
  };
}

export type RefundService = ReturnType<typeof createRefundService>;
