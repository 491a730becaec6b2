/**
 * Buying chains (docs/broker.md §5): `count` chains of `n` coins worth `coinValue` each. The seeds are
 * made and written down first (status pending, with the purchase's idempotency key), so a purchase whose
 * answer is lost is completed by `resume()` instead of being paid twice or lost. The broker sees only
 * each chain's root.
 */
import { ChainTraversal, NetPayError, randomBytes, toBase64url } from '@netpay/protocol';
import type { WalletCore } from '../core.ts';
import type { StoredChain } from '../state.ts';

export interface ChainOrder {
  readonly coinValue: bigint;
  readonly n: number;
  readonly count?: number;
}

export function buy(
  w: WalletCore,
  orders: readonly ChainOrder[],
  onProgress?: (done: number, total: number) => void,
) {
  return w.exclusive(async () => {
    const token = w.session();
    await w.currencyInChange();
    const fresh = makeChains(w, orders, w.key(), onProgress);
    w.state.chains.push(...fresh);
    await w.save();
    return completePurchase(w, token, fresh);
  });
}

/** New chains, their seeds and traversals made here; `onProgress` counts paywords hashed. */
function makeChains(
  w: WalletCore,
  orders: readonly ChainOrder[],
  buyKey: string,
  onProgress?: (done: number, total: number) => void,
): StoredChain[] {
  const total = orders.reduce((a, x) => a + x.n * (x.count ?? 1), 0);
  let done = 0;
  const fresh: StoredChain[] = [];
  for (const order of orders) {
    for (let k = 0; k < (order.count ?? 1); k++) {
      const seed = randomBytes(32);
      const id = randomBytes(16);
      const base = done;
      const { traversal, root } = ChainTraversal.create(seed, id, order.n, (d) =>
        onProgress?.(base + d, total),
      );
      done += order.n;
      onProgress?.(done, total);
      const chainId = toBase64url(id);
      fresh.push({
        chainId,
        coinValue: order.coinValue.toString(),
        n: order.n,
        seed: toBase64url(seed),
        root: toBase64url(root),
        status: 'pending',
        buyKey,
        touchstone: null,
        spent: 0,
        traversal: traversal.toJSON(),
        lastVendor: null,
      });
      w.traversals.set(chainId, traversal);
    }
  }
  return fresh;
}

/** Asks the broker for the pending chains' touchstones (inside a change). */
async function completePurchase(w: WalletCore, token: string, pending: StoredChain[]) {
  try {
    const r = await w.api.buy({
      token,
      key: pending[0]!.buyKey,
      body: {
        chains: pending.map((c) => ({ coinValue: c.coinValue, n: c.n, chainId: c.chainId, root: c.root })),
      },
    });
    const byId = new Map(r.chains.map((c) => [c.chainId, c.touchstone]));
    for (const c of pending) {
      c.touchstone = byId.get(c.chainId) ?? null;
      c.status = c.touchstone ? 'active' : c.status;
    }
    await w.save();
    return { chains: pending.map((c) => c.chainId), total: BigInt(r.total), balance: BigInt(r.balance) };
  } catch (e) {
    // A refusal (no money, a limit): nothing was bought; forget the seeds. An outage: keep them pending.
    if (e instanceof NetPayError && e.status !== undefined && e.status < 500) {
      const gone = new Set(pending.map((c) => c.chainId));
      w.state.chains = w.state.chains.filter((c) => !gone.has(c.chainId));
      await w.save();
    }
    throw e;
  }
}

/** Completes purchases whose answer was lost (retried with their key: the broker answers once). */
export function resume(w: WalletCore) {
  return w.exclusive(async () => {
    const pending = w.state.chains.filter((c) => c.status === 'pending');
    const byKey = new Map<string, StoredChain[]>();
    for (const c of pending) byKey.set(c.buyKey, [...(byKey.get(c.buyKey) ?? []), c]);
    for (const group of byKey.values()) await completePurchase(w, w.session(), group);
    return { completed: pending.length };
  });
}
