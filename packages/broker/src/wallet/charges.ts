/**
 * Server-side wallets' charges: a vendor charges a grant on each click with a signed request and the
 * broker moves the money in its ledger (customer → payees, minus the broker fee), refusing anything over
 * the cap or the balance; a charge for a response that failed is voided, which puts the money back.
 */
import type { Queryable } from '@netpay/db';
import { allocate, currency, isNetPayError, money } from '@netpay/protocol';
import { newId } from '../context.ts';
import { fail } from '../errors.ts';
import { customerAccount, SYSTEM_ACCOUNTS, type Transfer, vendorAccount } from '../ledger/ledger.ts';
import { postedTransfers } from '../ledger/store.ts';
import { hash, type WalletDeps } from './deps.ts';
import { usage } from './grants.ts';
import type { GrantRow } from './store.ts';
import * as store from './store.ts';

/** A charge id the vendor picks (so it can void a charge whose answer it never got). */
export const CHARGE_ID_RE = /^[A-Za-z0-9_-]{16,64}$/;

type Payees = readonly { payeeId: string; share: number }[];

export interface ChargeRequest {
  readonly token: string;
  readonly amount: bigint;
  readonly resource?: string | undefined;
  readonly payees?: Payees | undefined;
  readonly chargeId?: string | undefined;
}

/** Posts `transfers`; a shortfall of a customer's or vendor's account is insufficient_funds with `message`. */
async function postOr(d: Pick<WalletDeps, 'ledger'>, tx: Queryable, transfers: Transfer[], message: string) {
  try {
    await d.ledger.post(tx, transfers);
  } catch (e) {
    if (isNetPayError(e, 'insufficient_funds')) throw fail('insufficient_funds', message);
    throw e;
  }
}

/** The charge's transfers: the broker's fee, rounded up as at redemption; the rest split among the payees as a claim is. */
function chargeTransfers(
  d: Pick<WalletDeps, 'config'>,
  id: string,
  grant: GrantRow,
  amount: bigint,
  payees: Payees,
) {
  const { config } = d;
  const fee = (amount * BigInt(config.feeBasisPoints) + 9_999n) / 10_000n;
  const from = customerAccount(grant.customer_id);
  const parts = allocate(
    money(amount - fee, currency(config.currency.code, config.currency.exponent)),
    payees.map((p) => BigInt(p.share)),
  );
  const transfers: Transfer[] = payees
    .map((p, k) => ({
      id: `${id}/p${k}`,
      debit: from,
      credit: vendorAccount(p.payeeId),
      amount: parts[k]!.minor as bigint,
      kind: 'wallet_charge',
      ref: grant.id,
    }))
    .filter((t) => t.amount > 0n);
  if (fee > 0n)
    transfers.push({
      id: `${id}/fee`,
      debit: from,
      credit: SYSTEM_ACCOUNTS.fees,
      amount: fee,
      kind: 'wallet_fee',
      ref: grant.id,
    });
  return { fee, transfers };
}

/** The grant behind the token, checked to allow `amount` under its cap; with what was spent before. */
async function grantFor(
  d: Pick<WalletDeps, 'clock'>,
  tx: Queryable,
  vendorId: string,
  token: string,
  amount: bigint,
) {
  const grant = await store.lockGrantByToken(tx, hash(token), vendorId);
  if (!grant) throw fail('grant_invalid', 'no wallet grant has this token; the customer must sign in');
  if (grant.revoked_at !== null) throw fail('grant_revoked', 'the customer withdrew this grant');
  const before = await usage(d, tx, grant);
  if (amount > before.remaining) {
    throw fail(
      'spending_limit',
      `this would take ${before.spent + amount} of the customer's ${grant.cap} ${grant.period === 'day' ? 'daily ' : ''}cap for ${vendorId}`,
      { cap: grant.cap.toString(), spent: before.spent.toString(), period: grant.period },
    );
  }
  return { grant, before };
}

/** Charges `amount` to the grant behind `token` for vendor `vendorId`; runs in the caller's transaction. */
export async function charge(d: WalletDeps, tx: Queryable, vendorId: string, input: ChargeRequest) {
  if (input.amount <= 0n) throw fail('bad_request', 'amount must be positive');
  if (input.chargeId !== undefined && !CHARGE_ID_RE.test(input.chargeId))
    throw fail('bad_request', 'chargeId is 16–64 letters, digits, - or _');
  const { grant, before } = await grantFor(d, tx, vendorId, input.token, input.amount);
  const noFunds = 'the customer’s wallet does not hold enough for this';
  const balance = await d.customerBalance(tx, grant.customer_id);
  if (balance - input.amount < d.config.limits.minBalance) throw fail('insufficient_funds', noFunds);
  const id = input.chargeId ? `wc_${input.chargeId}` : newId(d, 'charge');
  if (await store.chargeExists(tx, id))
    throw fail('bad_request', `charge ${input.chargeId} exists already: pick a new chargeId`);
  const payees = input.payees ?? [{ payeeId: vendorId, share: 10_000 }];
  for (const p of payees) if (p.payeeId !== vendorId) await d.parties.get(p.payeeId, tx);
  const { fee, transfers } = chargeTransfers(d, id, grant, input.amount, payees);
  await postOr(d, tx, transfers, noFunds);
  await store.insertCharge(tx, {
    id,
    grantId: grant.id,
    amount: input.amount,
    fee,
    resource: input.resource ?? null,
    payees: payees.length,
    createdAt: BigInt(d.clock()),
  });
  return {
    chargeId: id,
    grantId: grant.id,
    amount: input.amount,
    fee,
    cap: grant.cap,
    period: grant.period,
    spent: before.spent + input.amount,
    remaining: before.remaining - input.amount,
  };
}

/** Puts a charge's money back (the vendor's response failed). Voiding twice is a no-op. */
export async function voidCharge(
  d: Pick<WalletDeps, 'clock' | 'ledger'>,
  tx: Queryable,
  vendorId: string,
  chargeId: string,
) {
  const c = await store.lockCharge(tx, [chargeId, `wc_${chargeId}`], vendorId);
  if (!c) throw fail('not_found', `no charge ${chargeId} by ${vendorId}`);
  if (c.status === 'charged') {
    // Every transfer the charge made (to each payee and the fee) goes back the other way.
    const ids = [...Array.from({ length: c.payees }, (_, k) => `p${k}`), 'fee'].map((p) => `${c.id}/${p}`);
    const made = await postedTransfers(tx, ids);
    if (made.length !== c.payees + (c.fee > 0n ? 1 : 0))
      throw new Error(`charge ${c.id}: found ${made.length} of its transfers in the ledger`);
    const to = customerAccount(c.customer_id);
    const back = made.map((t) => ({
      id: `${t.id}/void`,
      debit: t.credit_account,
      credit: to,
      amount: t.amount,
      kind: 'wallet_void',
      ref: c.id,
    }));
    await postOr(d, tx, back, 'the payees’ balance no longer covers this charge (paid out already)');
    await store.markChargeVoided(tx, c.id, d.clock());
  }
  return { chargeId: c.id, status: 'voided' as const, amount: c.amount };
}
