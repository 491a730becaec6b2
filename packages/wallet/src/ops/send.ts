/**
 * Money at the broker, not in coins (docs/broker.md §4): load from the bank, unload to it, send to
 * another customer. Each request carries an idempotency key; a load whose answer is lost is sent again
 * with the same key, so the broker loads once.
 */
import { isNetPayError } from '@netpay/protocol';
import type { WalletCore } from '../core.ts';

export async function load(w: WalletCore, amount: bigint, bank: { account: string; token: string }) {
  const body = { amount: amount.toString(), bankAccount: bank.account, bankToken: bank.token };
  const key = w.key();
  const r = await w.api.load({ token: w.session(), body, key }).catch((e) => {
    if (isNetPayError(e, 'broker_unreachable')) return w.api.load({ token: w.session(), body, key });
    throw e;
  });
  return { amount: BigInt(r.amount), balance: BigInt(r.balance) };
}

export async function unload(w: WalletCore, amount: bigint, bankAccount: string) {
  const r = await w.api.unload({
    token: w.session(),
    body: { amount: amount.toString(), bankAccount },
    key: w.key(),
  });
  return { amount: BigInt(r.amount), balance: BigInt(r.balance) };
}

export async function send(w: WalletCore, to: string, amount: bigint) {
  const r = await w.api.send({ token: w.session(), body: { to, amount: amount.toString() }, key: w.key() });
  return { to: r.to, amount: BigInt(r.amount), balance: BigInt(r.balance) };
}
