/**
 * Signing up and in at the broker (docs/broker.md §3): register a login and this device, confirm the
 * device with the code sent to the login, sign in (with TOTP when the account has it), sign out.
 */
import { NetPayError } from '@netpay/protocol';
import type { WalletCore } from '../core.ts';

/** What the wallet keeps of a session the broker gave it (the broker's answer may carry more). */
const sessionOf = (s: { token: string; customerId: string; deviceId: string }, login: string) => ({
  token: s.token,
  customerId: s.customerId,
  deviceId: s.deviceId,
  login,
});

export function register(w: WalletCore, input: { login: string; password: string; deviceName?: string }) {
  return w.exclusive(async () => {
    const r = await w.api.register({
      body: { login: input.login, password: input.password, deviceName: input.deviceName ?? 'wallet' },
      key: w.key(),
    });
    w.state.pendingDevice = { deviceId: r.deviceId, login: input.login };
    await w.save();
    return { customerId: r.customerId, deviceId: r.deviceId, codeSentTo: input.login };
  });
}

export function verify(w: WalletCore, code: string) {
  return w.exclusive(async () => {
    const pending = w.state.pendingDevice;
    if (!pending)
      throw new NetPayError(
        'nothing_to_verify',
        'register or sign in first; then enter the code you were sent',
      );
    const r = await w.api.verifyDevice({ params: { deviceId: pending.deviceId }, body: { code } });
    w.state.session = sessionOf(r.session, pending.login);
    w.state.pendingDevice = null;
    await w.save();
    return { customerId: r.session.customerId };
  });
}

export function login(w: WalletCore, input: { login: string; password: string; totp?: string }) {
  return w.exclusive(async () => {
    const { state } = w;
    const deviceId = state.session?.login === input.login ? state.session.deviceId : undefined;
    const r = await w.api.login({
      body: {
        login: input.login,
        password: input.password,
        deviceName: 'wallet',
        ...(deviceId ? { deviceId } : {}),
        ...(input.totp ? { totp: input.totp } : {}),
      },
    });
    if (r.verificationRequired) {
      state.pendingDevice = { deviceId: r.deviceId, login: input.login };
      await w.save();
      return { verificationRequired: true as const };
    }
    state.session = sessionOf(r.session, input.login);
    state.pendingDevice = null;
    await w.save();
    return { verificationRequired: false as const };
  });
}

/**
 * Forgets the session (and ends it at the broker when it can be reached). Coins and history stay; use
 * it to sign in as someone else, or when the broker no longer knows the session.
 */
export function signOut(w: WalletCore) {
  return w.exclusive(async () => {
    const token = w.state.session?.token;
    w.state.session = null;
    w.state.pendingDevice = null;
    await w.save();
    if (token) await w.api.logout({ token }).catch(() => {});
  });
}
