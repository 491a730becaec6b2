/** Paying another registered customer from one's broker balance (Quick Pay's money send, docs/broker.md §6.2). */
import type { Queryable } from '@netpay/db';
import { checkedLogin } from '../accounts/service.ts';
import { customerByLogin } from '../accounts/store.ts';
import { fail } from '../errors.ts';
import { customerAccount } from '../ledger/ledger.ts';
import { customerBalance, debitCustomer } from './balance.ts';
import type { IssuanceDeps } from './deps.ts';

/** Sends `amount` to the customer registered as `to`, in the caller's idempotent transaction. */
export async function send(
  d: Pick<IssuanceDeps, 'config' | 'ledger'>,
  tx: Queryable,
  customerId: string,
  input: { to: string; amount: bigint },
  transferId: string,
) {
  const limits = d.config.limits;
  if (input.amount <= 0n) throw fail('bad_request', 'amount must be positive');
  if (input.amount > limits.maxTransaction || input.amount < limits.minTransaction) {
    throw fail(
      'limit_exceeded',
      `one payment is between ${limits.minTransaction} and ${limits.maxTransaction} minor units`,
    );
  }
  // The recipient's login in its stored form; one that could pass for another is refused (login.ts).
  const to = await customerByLogin(tx, checkedLogin(input.to));
  if (!to) throw fail('recipient_not_found', `nobody is registered as ${input.to}`);
  if (to.id === customerId) throw fail('bad_request', 'you cannot send money to yourself');
  await debitCustomer(d, tx, customerId, input.amount, {
    id: transferId,
    kind: 'send',
    credit: customerAccount(to.id),
  });
  return { to: input.to, amount: input.amount, balance: await customerBalance(d, tx, customerId) };
}
