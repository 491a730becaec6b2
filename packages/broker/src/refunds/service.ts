import { createClient, vendorApi } from '@netpay/api';
import type { Queryable } from '@netpay/db';
import {
  decodeMessage,
  fromBase64url,
  type IndexMessage,
  randomBytes,
  signMessage,
  toBase64url,
  verifyIndex,
  verifyMessageSignature,
} from '@netpay/protocol';
import { type BrokerContext, newId, nowSeconds } from '../context.ts';
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
import type { KeyService } from '../keys/service.ts';
import { customerAccount, SYSTEM_ACCOUNTS } from '../ledger/ledger.ts';
import type { PartyService } from '../parties/service.ts';

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

/**
 * Refunds (docs/protocol.md §8.6): a refund is a hand-over to the broker. The customer states how far its
 * wallet spent; from then on the chain's lease is not renewed. The broker asks the holder to hand the
 * chain over (a request signed with the broker's key); the holder stops accepting and signs its final
 * index to the broker. Without an answer the refund waits until the holder's lease has run out (the
 * holder has stopped accepting by then). It refunds every coin above the highest of the customer's stated
 * index, the holder's final index or last backup, and every redeemed index. Coins a holder accepted under
 * its lease beyond that point stay redeemable by it and are charged back to the customer (§8.5).
 */
export function createRefundService(ctx: BrokerContext, deps: { keys: KeyService; parties: PartyService }) {
  const { db, ledger } = ctx;

  async function lock(tx: Queryable, chainId: string) {
    return lockChainToRefund(tx, chainId);
  }

  /** Pays back (from, n] and closes the chain; the refunded range is kept like a redemption. */
  async function closeChain(tx: Queryable, c: RefundableChain, from: number, status: 'refunded' | 'closed') {
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
    await markClosed(tx, c.chain_id, status);
    return { chainId: c.chain_id, refundedFrom: from, coins, amount };
  }

  /** The highest index known spent: the last backup or hand-over index, or the end of any redeemed range. */
  async function spentIndex(tx: Queryable, c: RefundableChain): Promise<number> {
    const [spent] = await tx.query<{ top: number | null }>(
      "SELECT max(to_index) AS top FROM redemptions WHERE chain_id = $1 AND kind = 'redemption'",
      [c.chain_id],
    );
    return Math.max(c.backup_index, spent?.top ?? 0);
  }

  /** Records the customer's request: its stated spent index; the chain's lease is not renewed from now. */
  async function ask(customerId: string, chainId: string, stated: number) {
    return db.transaction(async (tx) => {
      const c = await lock(tx, chainId);
      if (!c || c.customer_id !== customerId) throw fail('chain_not_found', 'you have no such chain');
      if (c.status !== 'active') throw fail('chain_refunded', 'this chain was already refunded or closed');
      if (stated > c.n) throw fail('bad_request', `spentIndex ${stated} is beyond the chain's ${c.n} coins`);
      await requestRefund(tx, chainId, BigInt(ctx.clock()), stated);
      return c;
    });
  }

  /**
   * Sends the holder the broker's hand-over request and checks its answer: the holder's final index,
   * signed over to the broker. Undefined when the holder does not answer, or answers anything else.
   */
  async function askHolder(c: RefundableChain): Promise<IndexMessage | undefined> {
    if (!c.holder) return undefined;
    let holder: Awaited<ReturnType<PartyService['get']>>;
    try {
      holder = await deps.parties.get(c.holder);
    } catch {
      return undefined;
    }
    if (!holder.url) return undefined;
    const { signer } = await deps.keys.currentKey();
    const request = signMessage(
      'handover-request',
      {
        v: 1,
        chainId: c.chain_id,
        holder: c.holder,
        requester: ctx.config.brokerId,
        nonce: toBase64url(randomBytes(16)),
        issuedAt: nowSeconds(ctx),
      },
      signer,
    );
    try {
      const holderApi = createClient(vendorApi, {
        url: holder.url,
        name: `the holder ${c.holder}`,
        timeoutMs: ctx.config.handoverTimeoutMs,
      });
      const decoded = decodeMessage('handover-response', await holderApi.handover({ body: request }));
      if (!decoded.ok) return undefined;
      const r = decoded.value;
      const key = fromBase64url(holder.publicKey)!;
      const valid =
        r.chainId === c.chain_id &&
        r.nonce === request.nonce &&
        r.index.vendorId === c.holder &&
        verifyMessageSignature('handover-response', r, key);
      return valid ? r.index : undefined;
    } catch {
      return undefined; // unreachable, too slow or refused: the lease decides
    }
  }

  /** Whether the holder's final index is authentic and lies on the chain at or past the last backup. */
  async function validFinal(tx: Queryable, c: RefundableChain, index: IndexMessage): Promise<boolean> {
    if (index.vendorId !== c.holder || index.index < c.backup_index) return false;
    const key = await deps.parties.publicKey(index.vendorId, tx);
    if (!key) return false;
    const anchor = c.backup_message
      ? { index: c.backup_message.index, payword: fromBase64url(c.backup_message.payword)! }
      : { index: 0, payword: fromBase64url(c.touchstone.root)! };
    return verifyIndex(index, {
      vendorKey: key,
      chainId: c.chain_id,
      handedTo: ctx.config.brokerId,
      touchstone: c.touchstone,
      anchor,
    }).ok;
  }

  /**
   * Completes a requested refund: with the holder's final index (a hard end), with nobody holding the
   * chain, or once the holder's lease is over (a soft end: what it accepted under the lease stays its to
   * redeem). Pending while a holder that did not answer still has a lease.
   */
  async function complete(chainId: string, final?: IndexMessage): Promise<RefundDone | RefundPending> {
    return db.transaction(async (tx) => {
      const c = (await lock(tx, chainId))!;
      if (c.status !== 'active') throw fail('chain_refunded', 'this chain was already refunded or closed');
      let backup = c.backup_index;
      if (final && c.holder && (await validFinal(tx, c, final))) {
        await closeHolding(tx, chainId, final.index, false);
        backup = final.index;
        await releaseAtFinalIndex(tx, chainId, final);
      } else if (c.holder) {
        const left = leaseLeft(c.lease_until, ctx.clock());
        if (left.leaseMs > 0)
          return { status: 'pending', chainId, retryAfter: Math.ceil(left.leaseMs / 1000) };
        await closeHolding(tx, chainId, await spentIndex(tx, c), true);
      }
      const from = Math.max(
        c.refund_stated_index ?? 0,
        backup,
        await spentIndex(tx, { ...c, backup_index: backup }),
      );
      const out = await closeChain(tx, c, from, 'refunded');
      return {
        status: 'refunded',
        ...out,
        balance: await ledger.balance(tx, customerAccount(c.customer_id)),
      };
    });
  }

  /**
   * Refunds the unspent rest of a chain to its owner's broker balance (then `unload` sends it to the bank).
   * `stated`: the highest index the customer's wallet spent (0: none). Asking again while pending is safe.
   */
  async function refund(customerId: string, chainId: string, stated: number) {
    const c = await ask(customerId, chainId, stated);
    const final = await askHolder(c);
    return complete(chainId, final);
  }

  /** Completes refunds left pending (their holder's lease ran out, or the broker restarted meanwhile). */
  async function completePending(limit = 100) {
    const rows = await pendingRefunds(db, limit);
    let completed = 0;
    for (const c of rows) {
      const final = await askHolder(c);
      const r = await complete(c.chain_id, final).catch(() => undefined);
      if (r?.status === 'refunded') completed++;
    }
    return { pending: rows.length - completed, completed };
  }

  /** Closes chains past expiry and grace, refunding what no vendor redeemed. Runs in batches. */
  async function closeExpired(limit = 500) {
    const cutoff = BigInt(ctx.clock() - ctx.config.redemptionGraceSeconds * 1000);
    return db.transaction(async (tx) => {
      const rows = await lockExpiredChains(tx, cutoff, limit);
      const closed = [];
      for (const c of rows) {
        // Past expiry and grace nobody accepts the chain's coins: every holding ends where it stands.
        const from = await spentIndex(tx, c);
        await closeHolding(tx, c.chain_id, from, true);
        closed.push(await closeChain(tx, c, from, 'closed'));
      }
      return { closed: closed.length, refunded: closed.reduce((s, c) => s + c.amount, 0n).toString() };
    });
  }

  return { refund, completePending, closeExpired };
}

export type RefundService = ReturnType<typeof createRefundService>;
