/**
 * Handing unspent coins back to the broker (docs/broker.md §12), chain by chain, to the wallet's broker
 * balance. Each refund states the highest index this wallet spent, so the broker refunds exactly the
 * rest. A refund the broker holds pending (the holder does not answer and its lease still runs, at most
 * the lease length) is asked again after the time it names. A chain with a payment in flight is skipped.
 * Each chain's refund has one Idempotency-Key, kept with the chain: asked again (its answer lost), the
 * broker gives the first answer rather than refunding twice or refusing the chain as already refunded.
 * A refund that was pending when the wallet stopped (its answer is not kept under the key) and that the
 * broker completed since, or a chain the broker closed at expiry, is answered `chain_refunded`: the money
 * is in the broker balance already, so the chain is marked refunded here too (amount 0 in this answer).
 */
import { NetPayError } from '@netpay/protocol';
import type { WalletCore } from '../core.ts';
import { withRetries } from './retry.ts';

export function refund(w: WalletCore, chainIds?: readonly string[]) {
  return w.exclusive(async () => {
    const inFlight = w.busy();
    const targets = w.state.chains.filter(
      (c) =>
        c.status === 'active' &&
        c.spent < c.n &&
        !inFlight.has(c.chainId) &&
        (chainIds === undefined || chainIds.includes(c.chainId)),
    );
    let amount = 0n;
    const refunded: string[] = [];
    for (const c of targets) {
      // The key is written down first: a refund whose answer is lost is asked again under it (here, or
      // by a later call after this one gave up), and the broker answers it with its first answer.
      if (!c.refundKey) {
        c.refundKey = w.key();
        await w.save();
      }
      const r = await refundChain(w, c.chainId, c.spent, c.refundKey).catch((e: unknown) => {
        if (e instanceof NetPayError && e.code === 'chain_refunded') return { amount: '0' };
        throw e;
      });
      c.status = 'refunded';
      amount += BigInt(r.amount);
      refunded.push(c.chainId);
      await w.save();
    }
    return { chains: refunded, amount };
  });
}

/** One chain's refund, asked again while the broker answers pending (a few times, as it says). */
async function refundChain(w: WalletCore, chainId: string, spentIndex: number, key: string) {
  for (let attempt = 0; ; attempt++) {
    const r = await withRetries(() =>
      w.api.refund({ params: { chainId }, token: w.session(), key, body: { spentIndex } }),
    );
    if (r.status === 'refunded') return r;
    if (attempt >= 4)
      throw new NetPayError('refund_pending', `the broker is still refunding ${chainId}; try again later`);
    const wait = Math.max(1, Number(r.retryAfter));
    await new Promise((done) => setTimeout(done, wait * 1000));
  }
}
