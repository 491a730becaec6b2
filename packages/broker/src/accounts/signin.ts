/**
 * Signing in: logins, the password and TOTP check with its attempt limit, and bearer sessions
 * (docs/broker.md §4, §6.2).
 */
import type { Queryable } from '@netpay/db';
import { toBase64url } from '@netpay/protocol';
import { nowSeconds, secondsLeft } from '../context.ts';
import { fail } from '../errors.ts';
import { type AccountDeps, hashToken, type Session } from './deps.ts';
import { normalizeLogin } from './login.ts';
import { type Argon2Params, hashPassword, verifyPassword } from './password.ts';
import * as store from './store.ts';
import { verifyTotp } from './totp.ts';

export { normalizeLogin } from './login.ts';

/** The decoy hash, made once on first use (it costs a full argon2id run). */
export function decoyHasher(params: Argon2Params): () => Promise<string> {
  let decoy: Promise<string> | undefined;
  return () => {
    decoy ??= hashPassword('decoy password', new Uint8Array(16), params);
    return decoy;
  };
}

/**
 * Checks a login, password and (when enrolled) TOTP code; returns the customer. Used by sign-in and by
 * the server-side wallet's authorization page, which signs a customer in for one grant only.
 */
export async function checkCredentials(
  d: Pick<AccountDeps, 'db' | 'clock' | 'config' | 'decoyHash'>,
  input: { login: string; password: string; totp?: string | undefined },
) {
  const login = normalizeLogin(input.login);
  // This attempt is counted before the (slow) password check, so attempts made at once count too.
  if (login) await countAttempt(d, login);
  const c = login ? await store.customerByLogin(d.db, login) : undefined;
  // An unknown login costs a full hash too, so timing does not tell which logins exist.
  const checked = await verifyPassword(input.password, c?.password_hash ?? (await d.decoyHash()));
  if (!c || !checked) {
    throw fail('invalid_credentials', 'login or password is wrong');
  }
  if (c.totp_secret) {
    if (!input.totp) throw fail('totp_required', 'this account needs the code from your authenticator app');
    if (!verifyTotp(c.totp_secret, input.totp, nowSeconds(d)))
      throw fail('totp_invalid', 'the authenticator code is wrong');
  }
  // The whole check passed (password and code): the attempts start again from none.
  await store.clearLoginFailures(d.db, c.login);
  return { customerId: c.id, login: c.login };
}

/**
 * Counts a sign-in attempt for a login in the current window (a new window once the last one is over)
 * and refuses it once there were too many: every attempt counts until one succeeds, which clears them.
 */
async function countAttempt(d: Pick<AccountDeps, 'db' | 'clock' | 'config'>, login: string) {
  const now = d.clock();
  const window = d.config.passwordLockSeconds * 1000;
  const row = await store.countLoginAttempt(d.db, login, now, now - window);
  if (row && row.failures > d.config.passwordMaxFailures) {
    // Seconds until the window is over (details.retryAfter, and the Retry-After header).
    const retryAfter = secondsLeft(row.first_at, window, now);
    throw fail(
      'too_many_attempts',
      `too many wrong passwords or codes for this login; try again in ${Math.ceil(retryAfter / 60)} minute(s)`,
      { retryAfter },
    );
  }
}

/** A new bearer session for a verified device; only the token's hash is kept. */
export async function startSession(
  d: Pick<AccountDeps, 'clock' | 'random' | 'config'>,
  tx: Queryable,
  customerId: string,
  deviceId: string,
) {
  const token = toBase64url(d.random(32));
  const expiresAt = d.clock() + d.config.sessionTtlSeconds * 1000;
  await store.insertSession(tx, {
    tokenHash: hashToken(token),
    customerId,
    deviceId,
    expiresAt,
    createdAt: d.clock(),
  });
  return { token, customerId, deviceId, expiresAt: new Date(expiresAt).toISOString() };
}

/** The session behind a bearer token, or unauthorized. */
export async function authenticate(
  d: Pick<AccountDeps, 'db' | 'clock'>,
  token: string | undefined,
): Promise<Session> {
  if (!token) throw fail('unauthorized', 'sign in first: send Authorization: Bearer <session token>');
  const s = await store.sessionByHash(d.db, hashToken(token));
  if (!s || s.expires_at < BigInt(d.clock()))
    throw fail('unauthorized', 'the session is unknown or has expired');
  return { customerId: s.customer_id, deviceId: s.device_id };
}

export async function logout(d: Pick<AccountDeps, 'db'>, token: string): Promise<void> {
  await store.deleteSession(d.db, hashToken(token));
}
