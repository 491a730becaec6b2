/**
 * A peer's coin account (docs/p2p.md §2): when a party of kind `peer` registers, the CIS opens a customer
 * account for it, `peer:<partyId>`, so the chains it buys belong to it like a customer's, refunds go back to
 * it, and a charge-back for coins it spent twice is taken from it (fraud/). Nobody signs in to it: its
 * login is not an e-mail address or phone number, so sign-in never looks it up, and its password hash is
 * no argon2id string, so no password verifies against it either. The peer reaches it through its signed
 * requests at /p2p (p2p/). In tokens mode (`p2p.currency`) the new account is granted `p2p.grant`.
 */
import type { Queryable } from '@netpay/db';
import type { BrokerBasics } from '../context.ts';
import { customerAccount, type Ledger, SYSTEM_ACCOUNTS } from '../ledger/ledger.ts';
import * as store from './store.ts';

const PREFIX = 'peer:';

/** The customer id (and login) of a peer's coin account. */
export const peerCustomerId = (partyId: string) => `${PREFIX}${partyId}`;

/** The peer whose coin account this customer id is, or undefined for a customer's own account. */
export const peerOf = (customerId: string): string | undefined =>
  customerId.startsWith(PREFIX) ? customerId.slice(PREFIX.length) : undefined;

/**
 * Stands where a password hash would: it does not have the shape of a hash (password.ts), so
 * verifyPassword answers false for every password, without hashing anything.
 */
export const NO_PASSWORD = 'none: a peer coin account is not signed in to';

/** Opens a new peer's coin account in the registration's transaction, with its grant in tokens mode. */
export async function openPeerAccount(
  d: Pick<BrokerBasics, 'config' | 'clock'> & { readonly ledger: Pick<Ledger, 'openAccount' | 'post'> },
  tx: Queryable,
  partyId: string,
): Promise<void> {
  const id = peerCustomerId(partyId);
  await store.insertCustomer(tx, { id, login: id, passwordHash: NO_PASSWORD, createdAt: d.clock() });
  await d.ledger.openAccount(tx, customerAccount(id), 'customer');
  const grant = d.config.p2p.grant;
  if (d.config.p2p.currency === 'tokens' && grant > 0n) {
    // Like a load, but no money came in at the bank: the grant is what the CIS lets a new peer spend.
    await d.ledger.post(tx, [
      {
        id: `p2p_grant:${partyId}`,
        debit: SYSTEM_ACCOUNTS.bank,
        credit: customerAccount(id),
        amount: grant,
        kind: 'p2p_grant',
        ref: partyId,
      },
    ]);
  }
}
