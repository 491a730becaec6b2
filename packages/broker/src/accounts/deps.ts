/** What customers' accounts are built from (injected, so tests can move the clock and replay randomness). */
import { sha256, toHex, utf8 } from '@netpay/protocol';
import type { BrokerBasics, Notifier } from '../context.ts';
import type { Ledger } from '../ledger/ledger.ts';

export interface AccountDeps extends BrokerBasics {
  /** Each customer has a ledger account, opened at registration. */
  readonly ledger: Pick<Ledger, 'openAccount' | 'balance'>;
  /** Sends device codes to the login (SMS, e-mail; the outbox in dev mode). */
  readonly notifier: Notifier;
  /** The hash an unknown login's password is checked against (signin.ts decoyHasher). */
  readonly decoyHash: () => Promise<string>;
}

/** A verified device's sign-in. */
export interface Session {
  readonly customerId: string;
  readonly deviceId: string;
}

/** Session tokens and device codes are stored by their SHA-256 only. */
export const hashToken = (token: string) => toHex(sha256(utf8(token)));
