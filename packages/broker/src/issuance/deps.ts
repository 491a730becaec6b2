/** What issuance is built from (injected, so tests can move the clock, replay randomness and fake the bank). */
import type { Bank } from '../bank.ts';
import type { BrokerBasics } from '../context.ts';
import type { KeyService } from '../keys/service.ts';
import type { Ledger } from '../ledger/ledger.ts';

export interface IssuanceDeps extends BrokerBasics {
  // It reads from config: limits, denominations, chain length and lifetime, currency, broker id, and the broker's bank account.
  /** Loads, unloads, purchases and sends are ledger transfers; balances are read from it. */
  readonly ledger: Pick<Ledger, 'post' | 'balance'>;
  /** Where loads come from and unloads go; null when this broker has no bank connection. */
  readonly bank: Bank | null;
  /** Signs the touchstones of the chains bought. */
  readonly keys: Pick<KeyService, 'currentKey'>;
}
