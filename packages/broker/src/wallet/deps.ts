/** What server-side wallets are built from (injected, so tests can move the clock and replay randomness). */
import type { Queryable } from '@netpay/db';
import { sha256, toHex, utf8 } from '@netpay/protocol';
import type { BrokerBasics } from '../context.ts';
import type { Ledger } from '../ledger/ledger.ts';
import type { PartyService } from '../parties/service.ts';

export interface WalletDeps extends BrokerBasics {
  /** Charges and voids are ledger transfers (customer → payees and the broker's fee, and back). */
  readonly ledger: Pick<Ledger, 'post'>;
  /** The vendors grants are for, and the payees charges are split among. */
  readonly parties: Pick<PartyService, 'get' | 'names'>;
  /** The customer's spendable balance (the issuance feature's reading of it). */
  readonly customerBalance: (q: Queryable, customerId: string) => Promise<bigint>;
}

/** Sign-in codes and vendors' tokens are stored by their SHA-256 only. */
export const hash = (secret: string) => toHex(sha256(utf8(secret)));
