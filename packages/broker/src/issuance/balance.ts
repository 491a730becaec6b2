/** A customer's broker balance, and debiting it within the limits: what unloads, purchases and sends share. */
import type { Queryable } from '@netpay/db';
import { fail } from '../errors.ts';
import { customerAccount } from '../ledger/ledger.ts';
import type { IssuanceDeps } from './deps.ts';

/** The customer's balance in minor units (their ledger account). */
export async function customerBalance(d: Pick<IssuanceDeps, 'ledger'>, q: Queryable, customerId: string) {
  return d.ledger.balance(q, customerAccount(customerId));
}

/** Debits a customer keeping the configured minimum balance (or `minBalance`), in the caller's transaction. */
export async function debitCustomer(
  d: Pick<IssuanceDeps, 'ledger' | 'config'>,
  tx: Queryable,
  customerId: string,
  amount: bigint,
  transfer: { id: string; kind: string; credit: string; ref?: string },
  minBalance = d.config.limits.minBalance,
) {
  const account = customerAccount(customerId);
  const balance = await customerBalance(d, tx, customerId);
  if (balance - amount < minBalance) {
    throw fail(
      'insufficient_funds',
      `balance ${balance} is not enough for ${amount}${minBalance > 0n ? ` while keeping ${minBalance}` : ''}`,
    );
  }
  // A shortfall found by the ledger itself (a concurrent debit) is its insufficient_funds error.
  await d.ledger.post(tx, [
    {
      id: transfer.id,
      debit: account,
      credit: transfer.credit,
      amount,
      kind: transfer.kind,
      ref: transfer.ref,
    },
  ]);
}
