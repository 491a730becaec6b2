/**
 * Server-side wallets (NetPay's server-side e-wallet, Mobile-NetPay): the broker holds the customer's
 * money and pays vendors on the customer's behalf, so a customer with no wallet software (a phone
 * browser) can still pay per click. The customer signs in once at the broker (a redirect from the
 * vendor), which gives that vendor a grant with a spending cap per day or in total (grants.ts); the
 * vendor then charges the grant on each click with a signed request, and the broker moves the money in
 * its ledger (customer → vendor, minus the broker fee), refusing anything over the cap or the balance. A
 * charge for a response that failed is voided by the vendor, which puts the money back (charges.ts).
 */
import type { Queryable } from '@netpay/db';
import type { BrokerContext } from '../context.ts';
import { type ChargeRequest, charge, voidCharge } from './charges.ts';
import type { WalletDeps } from './deps.ts';
import { authorize, capOf, exchange, grants, revoke, setCap, vendorFor } from './grants.ts';
import type { CapPeriod } from './store.ts';

export type { CapPeriod } from './store.ts';

/** The wallet functions bound to their dependencies: what the routes and tests call. */
export function createWalletService(
  ctx: Pick<BrokerContext, 'db' | 'config' | 'clock' | 'random' | 'ledger'>,
  deps: Pick<WalletDeps, 'parties' | 'customerBalance'>,
) {
  const { db, config, clock, random, ledger } = ctx;
  const d: WalletDeps = { db, config, clock, random, ledger, ...deps };
  return {
    vendorFor: (vendorId: string, redirectUri: string) => vendorFor(d, vendorId, redirectUri),
    authorize: (customerId: string, input: Parameters<typeof authorize>[2]) =>
      authorize(d, customerId, input),
    exchange: (vendorId: string, code: string) => exchange(d, vendorId, code),
    charge: (tx: Queryable, vendorId: string, input: ChargeRequest) => charge(d, tx, vendorId, input),
    voidCharge: (tx: Queryable, vendorId: string, chargeId: string) => voidCharge(d, tx, vendorId, chargeId),
    grants: (customerId: string) => grants(d, customerId),
    setCap: (customerId: string, vendorId: string, cap: bigint, period?: CapPeriod) =>
      setCap(d, customerId, vendorId, cap, period),
    revoke: (customerId: string, vendorId: string) => revoke(d, customerId, vendorId),
    capOf: (customerId: string, vendorId: string) => capOf(d, customerId, vendorId),
  };
}

export type WalletService = ReturnType<typeof createWalletService>;
