/**
 * Handing unspent coins back to the broker (docs/broker.md §12), chain by chain, to the wallet's broker
 * balance. Each refund states the highest index this wallet spent, so the broker refunds exactly the
 * rest. A refund the broker holds pending (the holder does not answer and its lease still runs, at most
 * the lease length) is asked again after the time it names. A chain with a payment in flight is skipped.
 */
import { NetPayError } from '@netpay/protocol';
import type { WalletCore } from '../core.ts';

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
      const r = await refundChain(w, c.chainId, c.spent);
      c.status = 'refunded';
      amount += BigInt(r.amount);
      refunded.push(c.chainId);
      await w.save();
    }
    return { chains: refunded, amount };
  });
}

/** One chain's refund, asked again while the broker answers pending (a few times, as it says). */
async function refundChain(w: WalletCore, chainId: string, spentIndex: number) {
  for (let attempt = 0; ; attempt++) {
    const r = await w.api.refund({
      params: { chainId },
      token: w.session(),
      key: w.key(),
      body: { spentIndex },
    });
    if (r.status === 'refunded') return r;
    if (attempt >= 4)
      throw new NetPayError('refund_pending', `the broker is still refunding ${chainId}; try again later`);
    const wait = Math.max(1, Number(r.retryAfter));
    await new Promise((done) => setTimeout(done, wait * 1000));
  }
}
