/**
 * The server-side wallet's sign-in page, as two steps (docs/broker.md §17): the login and password send
 * a code to the login, as for a new device; the code then grants the vendor, with the cap typed on the
 * page. The page's session only proves the code: the customer is signed in for this grant alone.
 */
import type { AccountService } from '../accounts/service.ts';
import { fail } from '../errors.ts';
import type { WalletService } from './service.ts';
import type { CapPeriod } from './store.ts';

export interface SignInDeps {
  readonly accounts: Pick<AccountService, 'checkCredentials' | 'newDeviceFor' | 'verifyDevice' | 'logout'>;
  readonly wallet: Pick<WalletService, 'capOf' | 'authorize'>;
}

/** Step one: checks the credentials and sends a code to a new device; with the grant's current cap. */
export async function startSignIn(
  d: SignInDeps,
  input: { vendorId: string; login: string; password: string; totp?: string | undefined },
) {
  const who = await d.accounts.checkCredentials(input);
  const deviceId = await d.accounts.newDeviceFor(
    who.customerId,
    who.login,
    `wallet sign-in for ${input.vendorId}`,
  );
  const current = await d.wallet.capOf(who.customerId, input.vendorId);
  return { deviceId, ...(current ? { cap: current.cap, period: current.period } : {}) };
}

/** Step two: checks the device's code and grants the vendor; returns where to send the browser. */
export async function finishSignIn(
  d: SignInDeps,
  input: { deviceId: string; code: string },
  grant: { vendorId: string; redirectUri: string; state?: string; cap?: bigint; period?: CapPeriod },
) {
  const checked = await d.accounts.verifyDevice(input);
  if (!checked.ok) throw fail('code_invalid', 'the code is wrong', { attemptsLeft: checked.attemptsLeft });
  await d.accounts.logout(checked.session.token);
  return (await d.wallet.authorize(checked.session.customerId, grant)).redirect;
}
