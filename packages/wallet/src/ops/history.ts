/**
 * What the wallet shows: its coins by denomination and the money at the broker not in coins, the
 * chains it holds, and the history of its payments (as of this instance's last change; `refresh()`
 * reads in other instances' changes first).
 */
import type { WalletCore } from '../core.ts';

/** Coins left by denomination and in total (local chains), and the money at the broker not in coins. */
export async function balance(w: WalletCore, options: { broker?: boolean } = {}) {
  const byDenomination = new Map<string, { coins: number; value: bigint; chains: number }>();
  let coins = 0n;
  for (const c of w.state.chains) {
    // A chain out of step with its holder pays no more: its rest is for a refund, not counted as coins.
    if (c.status !== 'active' || c.outOfStep) continue;
    const left = c.n - c.spent;
    const d = byDenomination.get(c.coinValue) ?? { coins: 0, value: 0n, chains: 0 };
    d.coins += left;
    d.value += BigInt(left) * BigInt(c.coinValue);
    d.chains += 1;
    byDenomination.set(c.coinValue, d);
    coins += BigInt(left) * BigInt(c.coinValue);
  }
  const atBroker =
    options.broker !== false && w.state.session
      ? BigInt((await w.api.me({ token: w.session() })).balance)
      : null;
  return {
    coins,
    atBroker,
    denominations: [...byDenomination.entries()]
      .map(([coinValue, d]) => ({ coinValue: BigInt(coinValue), ...d }))
      .sort((a, b) => (a.coinValue < b.coinValue ? 1 : -1)),
  };
}

/** Every payment (copies: changing them changes nothing). */
export const history = (w: WalletCore) => w.state.history.map((h) => ({ ...h }));

/** The chains held, without their seeds. */
export const chains = (w: WalletCore) =>
  w.state.chains.map((c) => ({
    chainId: c.chainId,
    coinValue: BigInt(c.coinValue),
    n: c.n,
    spent: c.spent,
    status: c.status,
    lastVendor: c.lastVendor,
  }));
