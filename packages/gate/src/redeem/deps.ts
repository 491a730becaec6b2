/** What the redeemer works with: the vendor's identity and key, the broker, the store and the clock. */
import type { Ed25519Signer } from '@netpay/protocol';
import type { BrokerClient } from '../broker-client.ts';
import type { ChainStore } from '../store/store.ts';

export interface RedeemerDeps {
  readonly vendorId: string;
  readonly signer: Ed25519Signer;
  readonly broker: BrokerClient;
  readonly store: ChainStore;
  readonly clock: () => number;
  /** As the gate's: how much sooner than the broker's lease this vendor stops accepting (ms). */
  readonly leaseMarginMs: number;
}
