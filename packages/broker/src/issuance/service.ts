/**
 * Issuance: money in and out of a customer's broker account, and coins. Loading from the bank, unloading
 * to it and reconciling what a time-out left pending (bank-movements.ts); buying chains in denominations
 * for client-side or server-side wallets (buy.ts); paying another customer (send.ts); and, here, the
 * customer's chains as the broker knows them.
 *
 * Plain functions over IssuanceDeps (deps.ts); createIssuanceService binds them. The bank_movements SQL is
 * in store.ts; chains are written and read through the directory's store.
 */
import type { Queryable } from '@netpay/db';
import { fromBase64url } from '@netpay/protocol';
import type { BrokerContext } from '../context.ts';
import { customerChains, outstandingValue } from '../directory/store.ts';
import type { KeyService } from '../keys/service.ts';
import { customerBalance } from './balance.ts';
import { load, reconcile, unload } from './bank-movements.ts';
import { buy, type ChainOrder, type ChainOwner } from './buy.ts';
import type { IssuanceDeps } from './deps.ts';
import { send } from './send.ts';

export type { ChainOrder } from './buy.ts';
export type { IssuanceDeps } from './deps.ts';

/**
 * The customer's chains, oldest first, with what the broker knows of each: how far it is known spent
 * (the last backup or hand-over index, or the end of a redeemed range), which vendor holds it and for
 * how long its lease runs, and whether a refund is pending — so a wallet can resync after a 409.
 */
export async function chains(
  d: Pick<IssuanceDeps, 'db' | 'clock'>,
  customerId: string,
  chainId?: string,
  page: { after: string | null; limit: number } = { after: null, limit: 1 },
) {
  const rows = await customerChains(d.db, customerId, chainId ?? null, page);
  const now = BigInt(d.clock());
  return rows.map((r) => ({
    chainId: r.chain_id,
    n: r.n,
    coinValue: r.coin_value,
    status: r.status,
    serverSide: r.server_seed !== null,
    redeemedCoins: Number(r.redeemed),
    knownSpentIndex: Math.max(r.backup_index, r.top ?? 0),
    holder:
      r.holder === null
        ? null
        : {
            id: r.holder,
            leaseMs: r.lease_until !== null && r.lease_until > now ? Number(r.lease_until - now) : 0,
          },
    refundPending: r.refund_requested_at !== null && r.status === 'active',
    touchstone: r.touchstone,
  }));
}

/** The issuance functions bound to their dependencies: what the routes, the wallet feature and tests call. */
export function createIssuanceService(
  ctx: Pick<BrokerContext, 'db' | 'config' | 'clock' | 'random' | 'ledger' | 'bank'>,
  keys: Pick<KeyService, 'currentKey'>,
) {
  const { db, config, clock, random, ledger, bank } = ctx;
  const d: IssuanceDeps = { db, config, clock, random, ledger, bank, keys };
  return {
    load: (customerId: string, input: Parameters<typeof load>[2], key: string) =>
      load(d, customerId, input, key),
    unload: (customerId: string, input: Parameters<typeof unload>[2], key: string) =>
      unload(d, customerId, input, key),
    reconcile: (olderThanMs?: number) => reconcile(d, olderThanMs),
    buy: (
      tx: Queryable,
      customerId: string,
      orders: readonly ChainOrder[],
      transferId: string,
      owner?: ChainOwner,
    ) => buy(d, tx, customerId, orders, transferId, owner),
    send: (tx: Queryable, customerId: string, input: Parameters<typeof send>[3], transferId: string) =>
      send(d, tx, customerId, input, transferId),
    chains: (customerId: string, chainId?: string, page?: { after: string | null; limit: number }) =>
      chains(d, customerId, chainId, page),
    customerBalance: (q: Queryable, customerId: string) => customerBalance(d, q, customerId),
    /** Value of the customer's active chains not yet redeemed or refunded. */
    outstanding: (tx: Queryable, customerId: string): Promise<bigint> => outstandingValue(tx, customerId),
  };
}

export type IssuanceService = ReturnType<typeof createIssuanceService>;

/** Wire chain ids and roots are validated by the route schema; this re-checks the decoded lengths. */
export function isChainId(s: string): boolean {
  return fromBase64url(s)?.length === 16;
}
