/**
 * Buying chains (docs/broker.md §6.2): the customer's balance pays for coins in the configured
 * denominations, and the broker signs a touchstone for each chain. A client-side wallet sends the chain id
 * and root it generated (the broker never sees its seed); for a server-side wallet the broker makes the
 * seed and keeps it. All the chains of one purchase are bought in one transaction, or none.
 */
import type { Queryable } from '@netpay/db';
import { ChainTraversal, type Ed25519Signer, signMessage, toBase64url } from '@netpay/protocol';
import { insertChains, type NewChain, outstandingValue } from '../directory/store.ts';
import { fail } from '../errors.ts';
import { SYSTEM_ACCOUNTS } from '../ledger/ledger.ts';
import { customerBalance, debitCustomer } from './balance.ts';
import type { IssuanceDeps } from './deps.ts';

export interface ChainOrder {
  /** Coin value in minor units: one of the configured denominations. */
  readonly coinValue: bigint;
  readonly n: number;
  /** Client-side wallet: the chain id and root it generated (the broker never sees the seed). */
  readonly chainId?: string;
  readonly root?: string;
}

/** Checks each order against the denominations and the chain length; the purchase's total. */
export function orderTotal(config: IssuanceDeps['config'], orders: readonly ChainOrder[]): bigint {
  let total = 0n;
  for (const o of orders) {
    if (!config.denominations.includes(o.coinValue)) {
      throw fail(
        'bad_denomination',
        `coins come in ${config.denominations.join(', ')} minor units, not ${o.coinValue}`,
      );
    }
    if (o.n > config.maxChainLength)
      throw fail('limit_exceeded', `a chain has at most ${config.maxChainLength} coins`);
    if ((o.chainId === undefined) !== (o.root === undefined)) {
      throw fail(
        'bad_request',
        'send both chainId and root (client-side wallet) or neither (server-side wallet)',
      );
    }
    total += BigInt(o.n) * o.coinValue;
  }
  return total;
}

/** The limits of one purchase, and of the coins a customer may hold unspent. */
async function checkLimits(
  d: Pick<IssuanceDeps, 'config'>,
  tx: Queryable,
  customerId: string,
  total: bigint,
) {
  const limits = d.config.limits;
  if (total > limits.maxTransaction || total < limits.minTransaction) {
    throw fail(
      'limit_exceeded',
      `one purchase is between ${limits.minTransaction} and ${limits.maxTransaction} minor units`,
    );
  }
  const held = await outstandingValue(tx, customerId);
  if (held + total > limits.maxOutstanding) {
    throw fail(
      'limit_exceeded',
      `you may hold at most ${limits.maxOutstanding} in unspent coins; you hold ${held}`,
    );
  }
}

/** The key that signs a purchase's touchstones, and the validity every one of its chains gets. */
interface Issue {
  readonly keyId: string;
  readonly signer: Ed25519Signer;
  /** Unix seconds. */
  readonly issuedAt: number;
  readonly expiresAt: number;
  /** P2P: the peer buying, named in every touchstone so that sellers check its indexes offline. */
  readonly owner?: ChainOwner;
}

/** The peer that buys P2P chains, and its key. */
export interface ChainOwner {
  readonly id: string;
  readonly publicKey: Uint8Array;
}

/** One chain of the purchase, its touchstone signed (its seed made for a server-side wallet). */
function issueChain(
  d: Pick<IssuanceDeps, 'config' | 'clock' | 'random'>,
  customerId: string,
  o: ChainOrder,
  issue: Issue,
): NewChain {
  let chainId = o.chainId;
  let root = o.root;
  let seed: Uint8Array | null = null;
  if (!chainId || !root) {
    seed = d.random(32);
    const id = d.random(16);
    chainId = toBase64url(id);
    root = toBase64url(ChainTraversal.create(seed, id, o.n).root);
  }
  const { config } = d;
  const { keyId, issuedAt, expiresAt } = issue;
  const touchstone = signMessage(
    'touchstone',
    {
      v: 1,
      chainId,
      root,
      n: o.n,
      coinValue: o.coinValue.toString(),
      currency: config.currency.code,
      exponent: config.currency.exponent,
      brokerId: config.brokerId,
      keyId,
      issuedAt,
      expiresAt,
      ...(issue.owner ? { owner: issue.owner.id, ownerKey: toBase64url(issue.owner.publicKey) } : {}),
    },
    issue.signer,
  );
  const expires = BigInt(expiresAt * 1000);
  const made = { keyId, n: o.n, coinValue: o.coinValue, touchstone, expiresAt: expires, serverSeed: seed };
  return { ...made, chainId, customerId, createdAt: BigInt(d.clock()) };
}

/** The ids that stand more than once in `ids` (one statement would insert such a chain only once). */
function repeated(ids: readonly string[]): string[] {
  const seen = new Set<string>();
  return ids.filter((id) => seen.size === seen.add(id).size);
}

/** Buys chains in one transaction: all or none. Runs inside the caller's idempotent transaction. */
export async function buy(
  d: Pick<IssuanceDeps, 'config' | 'clock' | 'random' | 'ledger' | 'keys'>,
  tx: Queryable,
  customerId: string,
  orders: readonly ChainOrder[],
  transferId: string,
  owner?: ChainOwner,
) {
  const total = orderTotal(d.config, orders);
  await checkLimits(d, tx, customerId, total);
  await debitCustomer(d, tx, customerId, total, {
    id: transferId,
    kind: 'buy_coins',
    credit: SYSTEM_ACCOUNTS.coins,
  });
  const { keyId, signer } = await d.keys.currentKey(tx);
  const issuedAt = Math.floor(d.clock() / 1000);
  const issue = {
    keyId,
    signer,
    issuedAt,
    expiresAt: issuedAt + d.config.chainLifetimeSeconds,
    ...(owner ? { owner } : {}),
  };
  const made = orders.map((o) => issueChain(d, customerId, o, issue));
  // All the purchase's chains in one statement: a batch of chains costs about what one does.
  const existing = [...repeated(made.map((c) => c.chainId)), ...(await insertChains(tx, made))];
  if (existing.length > 0)
    throw fail('chain_exists', `chain ${existing[0]} already exists; generate a new chain id`);
  const chains = made.map((c) => ({
    chainId: c.chainId,
    serverSide: c.serverSeed !== null,
    touchstone: c.touchstone,
  }));
  return { chains, total, balance: await customerBalance(d, tx, customerId) };
}
