/**
 * Money at the broker, not in coins (docs/broker.md §4): load from the bank, unload to it, send to
 * another customer. Each request carries an idempotency key, the caller's (kept by it, so that a call it
 * gave up on can be made again later with the same key) or a fresh one; while the outcome is unknown it is
 * sent again with that key (ops/retry.ts), so the broker moves the money once and answers each copy alike.
 */
import type { WalletCore } from '../core.ts';
import { withRetries } from './retry.ts';

/** What a money movement may be given: the Idempotency-Key to send it under. */
export interface KeyedOptions {
  readonly key?: string;
}

export async function load(
  w: WalletCore,
  amount: bigint,
  bank: { account: string; token: string },
  o: KeyedOptions = {},
) {
  const body = { amount: amount.toString(), bankAccount: bank.account, bankToken: bank.token };
  const key = o.key ?? w.key();
  const r = await withRetries(() => w.api.load({ token: w.session(), body, key }));
  return { amount: BigInt(r.amount), balance: BigInt(r.balance), movementId: r.movementId };
}

export async function unload(w: WalletCore, amount: bigint, bankAccount: string, o: KeyedOptions = {}) {
  const body = { amount: amount.toString(), bankAccount };
  const key = o.key ?? w.key();
  const r = await withRetries(() => w.api.unload({ token: w.session(), body, key }));
  return { amount: BigInt(r.amount), balance: BigInt(r.balance), movementId: r.movementId };
}

export async function send(w: WalletCore, to: string, amount: bigint, o: KeyedOptions = {}) {
  const body = { to, amount: amount.toString() };
  const key = o.key ?? w.key();
  const r = await withRetries(() => w.api.send({ token: w.session(), body, key }));
  return { to: r.to, amount: BigInt(r.amount), balance: BigInt(r.balance) };
}
