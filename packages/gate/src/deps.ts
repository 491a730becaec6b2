/**
 * Everything the gate is given from outside, named in one place: its identity and key, the broker (its
 * client and URL), the chain store, the clock, the currency and the tunables — and the context its flows
 * share (the broker's keys, the per-chain locks). Each flow (pay/, chains/, server-wallet/) takes a
 * `GateContext` and nothing else.
 */
import { type Currency, type Ed25519Signer, currency as makeCurrency } from '@netpay/protocol';
import type { BrokerClient } from './broker-client.ts';
import { type BrokerKeys, createBrokerKeys } from './chains/broker-keys.ts';
import { leaseEnd } from './chains/lease.ts';
import { type ChainLocks, createChainLocks } from './chains/locks.ts';
import type { ChainStore } from './store/store.ts';

export interface GateOptions {
  readonly vendorId: string;
  readonly signer: Ed25519Signer;
  readonly broker: BrokerClient;
  readonly brokerUrl: string;
  readonly store: ChainStore;
  /** Currency of every price: must be the broker's. */
  readonly currency: { code: string; exponent: number };
  /** Most coins one payment may take from one chain. Default 1,000. */
  readonly maxCoins?: number;
  /**
   * How long after a payment was accepted the same payment, sent again for the same resource, is answered
   * again without a charge (a retry whose answer was lost), in seconds. Default 300; 0: never.
   */
  readonly replayWindowSeconds?: number;
  readonly clock?: () => number;
  /** Path where this vendor serves hand-over requests from other vendors. */
  readonly handoverPath?: string;
  /** How long to wait for a holder to hand a chain over before taking it over through the broker. */
  readonly handoverTimeoutMs?: number;
  /**
   * How much sooner than the broker's lease this vendor stops accepting a chain (ms): the lease is counted
   * from when the request that got it was sent, minus this margin for clock rate and the time a payment
   * takes from check to commit. Default 2,000 (at most a fifth of the lease).
   */
  readonly leaseMarginMs?: number;
  /**
   * This vendor's public URL (as registered at the broker). With it, customers without coins can pay from
   * a server-side wallet: the terms carry a sign-in link, and the gate serves the sign-in routes.
   */
  readonly publicUrl?: string | (() => string | undefined);
  /** Where the server-side wallet sign-in routes live. Default /netpay/wallet. */
  readonly walletPath?: string;
  /**
   * P2P (docs/p2p.md §3): this gate is a peer's. A payer's first payment from a chain carries the
   * touchstone, which names the chain's owner and its key, and the owner's signed index: all checked
   * offline, with no directory and no lease. `frozenPeers` answers, from what the caller keeps, whether
   * the CIS froze a peer for double spending (its coins are refused).
   */
  readonly frozenPeers?: FrozenPeers;
}

/** Whether the CIS froze this peer (as last heard from it); never waits for the CIS. */
export type FrozenPeers = (peerId: string) => boolean;

export const DEFAULT_WALLET_PATH = '/netpay/wallet';
/** How long a paid request may be retried with the same payment (docs/protocol.md §7.4). */
export const DEFAULT_REPLAY_WINDOW_SECONDS = 300;

/** The options with their defaults, and the state the flows share. */
export interface GateContext {
  readonly vendorId: string;
  readonly signer: Ed25519Signer;
  readonly broker: BrokerClient;
  readonly brokerUrl: string;
  readonly store: ChainStore;
  readonly cur: Currency;
  readonly clock: () => number;
  readonly maxCoins: number;
  readonly replayWindowSeconds: number;
  readonly handoverPath: string | undefined;
  readonly handoverTimeoutMs: number;
  readonly walletPath: string;
  /** Where the wallet routes are reached from outside, once the vendor knows its public URL. */
  readonly walletBase: () => string | undefined;
  /** Holds a chain under the lease the broker granted to a request sent at `sentAt` for `leaseMs`. */
  readonly keepLease: (chainId: string, sentAt: number, leaseMs: number) => void;
  readonly keys: BrokerKeys;
  readonly lock: ChainLocks;
  readonly frozenPeers: FrozenPeers | undefined;
}

export function gateContext(o: GateOptions): GateContext {
  const walletPath = o.walletPath ?? DEFAULT_WALLET_PATH;
  const leaseMarginMs = o.leaseMarginMs ?? 2_000;
  const publicUrl = () => (typeof o.publicUrl === 'function' ? o.publicUrl() : o.publicUrl);
  return {
    vendorId: o.vendorId,
    signer: o.signer,
    broker: o.broker,
    brokerUrl: o.brokerUrl,
    store: o.store,
    cur: makeCurrency(o.currency.code, o.currency.exponent),
    clock: o.clock ?? Date.now,
    maxCoins: o.maxCoins ?? 1000,
    replayWindowSeconds: o.replayWindowSeconds ?? DEFAULT_REPLAY_WINDOW_SECONDS,
    handoverPath: o.handoverPath,
    handoverTimeoutMs: o.handoverTimeoutMs ?? 3_000,
    walletPath,
    walletBase: () => {
      const u = publicUrl();
      return u ? u.replace(/\/+$/, '') + walletPath : undefined;
    },
    keepLease: (chainId, sentAt, leaseMs) =>
      o.store.setLease(chainId, leaseEnd(sentAt, leaseMs, leaseMarginMs)),
    keys: createBrokerKeys(o.broker),
    lock: createChainLocks(),
    frozenPeers: o.frozenPeers,
  };
}
