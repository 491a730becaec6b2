/**
 * Server-side wallets at the broker (docs/broker.md §16a): the cap each vendor may charge, and the
 * sign-in cookie this wallet keeps per vendor origin when it pays that way itself.
 */
import { NetPayError } from '@netpay/protocol';
import { type GrantPeriod, grantFromWire, type WalletGrant } from '../broker-api.ts';
import type { WalletCore } from '../core.ts';

/** Every vendor's grant with its cap and what was spent in the current period (withdrawn ones too). */
export async function grants(w: WalletCore): Promise<WalletGrant[]> {
  const r = await w.api.grants({ token: w.session() });
  return r.grants.map(grantFromWire);
}

/**
 * Sets the cap `vendorId` may charge per `period` (also before signing in there; without a period an
 * existing grant keeps its own, a new one is per day). Returns the grant.
 */
export async function setGrantCap(
  w: WalletCore,
  vendorId: string,
  cap: bigint,
  period?: GrantPeriod,
): Promise<WalletGrant> {
  if (cap < 0n) throw new NetPayError('bad_amount', 'a spending cap is zero or more');
  const body = { cap: cap.toString(), ...(period ? { period } : {}) };
  return grantFromWire(await w.api.setCap({ params: { vendorId }, token: w.session(), body }));
}

/** Withdraws `vendorId`'s grant: every browser signed in there stops paying at once. */
export async function withdrawGrant(w: WalletCore, vendorId: string): Promise<void> {
  await w.api.revoke({ params: { vendorId }, token: w.session() });
}

/** The grant cookie kept for a vendor origin. */
export const serverGrant = (w: WalletCore, origin: string) => w.state.serverGrants[origin];

/** Keeps (or, with null, forgets) the grant cookie for a vendor origin. */
export function setServerGrant(w: WalletCore, origin: string, cookie: string | null) {
  return w.exclusive(async () => {
    if (cookie === null) delete w.state.serverGrants[origin];
    else w.state.serverGrants[origin] = cookie;
    await w.save();
  });
}
