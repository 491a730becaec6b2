/**
 * Devices and their codes: each new device is confirmed with a 6-digit code sent through the notifier,
 * with few attempts, a short lifetime and limited resends (docs/broker.md §4).
 */
import type { Queryable } from '@netpay/db';
import { newId } from '../context.ts';
import { fail } from '../errors.ts';
import { type AccountDeps, hashToken } from './deps.ts';
import { startSession } from './signin.ts';
import * as store from './store.ts';

type CodeDeps = Pick<AccountDeps, 'clock' | 'random' | 'config' | 'notifier'>;

function sixDigits(random: AccountDeps['random']): string {
  const r = random(4);
  const n = ((r[0]! << 24) | (r[1]! << 16) | (r[2]! << 8) | r[3]!) >>> 0;
  return (n % 1_000_000).toString().padStart(6, '0');
}

/** Gives the device a fresh code (only its hash is kept) and sends it to `recipient`, in `tx`. */
async function issueCode(d: CodeDeps, tx: Queryable, deviceId: string, recipient: string): Promise<void> {
  const code = sixDigits(d.random);
  const ttlSeconds = d.config.deviceCodeTtlSeconds;
  await store.setDeviceCode(tx, deviceId, {
    hash: hashToken(`${deviceId}:${code}`),
    expiresAt: d.clock() + ttlSeconds * 1000,
    sentAt: d.clock(),
  });
  await d.notifier.send(tx, {
    recipient,
    kind: 'device_code',
    body: `Your NetPay code is ${code}. It expires in ${Math.round(ttlSeconds / 60)} minutes.`,
  });
}

/** A new, unverified device of the customer, with a code sent to `recipient` (the login), in `tx`. */
export async function newDevice(
  d: CodeDeps,
  tx: Queryable,
  customerId: string,
  name: string,
  recipient: string,
): Promise<string> {
  const deviceId = newId(d, 'dev');
  await store.insertDevice(tx, { id: deviceId, customerId, name, createdAt: d.clock() });
  await issueCode(d, tx, deviceId, recipient);
  return deviceId;
}

/** A new device for a customer whose password was just checked, with a code sent to the login. */
export async function newDeviceFor(
  d: CodeDeps & Pick<AccountDeps, 'db'>,
  customerId: string,
  login: string,
  name: string,
) {
  return d.db.transaction((tx) => newDevice(d, tx, customerId, name, login));
}

/** Checks a device's code: a right one verifies the device and starts a session; a wrong one is counted. */
export async function verifyDevice(
  d: Pick<AccountDeps, 'db' | 'clock' | 'random' | 'config'>,
  input: { deviceId: string; code: string },
) {
  const { config } = d;
  return d.db.transaction(async (tx) => {
    const dev = await store.lockDeviceCode(tx, input.deviceId);
    if (!dev) throw fail('not_found', 'no such device');
    if (!dev.code_hash || dev.code_expires_at === null)
      throw fail('code_invalid', 'no code is pending for this device');
    if (dev.failures >= config.deviceCodeMaxFailures)
      throw fail('too_many_attempts', 'too many wrong codes for this device; sign in again for a new device');
    if (dev.attempts >= config.deviceCodeMaxAttempts) {
      throw fail('too_many_attempts', 'too many wrong codes; request a new code');
    }
    if (BigInt(d.clock()) > dev.code_expires_at)
      throw fail('code_expired', 'the code has expired; request a new one');
    if (hashToken(`${input.deviceId}:${input.code}`) !== dev.code_hash) {
      await store.countWrongCode(tx, input.deviceId);
      return { ok: false as const, attemptsLeft: config.deviceCodeMaxAttempts - dev.attempts - 1 };
    }
    await store.markDeviceVerified(tx, input.deviceId, d.clock());
    return { ok: true as const, session: await startSession(d, tx, dev.customer_id, input.deviceId) };
  });
}

/**
 * Sends a device a fresh code, within the limits (docs/broker.md §4): a few codes per device, each
 * resend after a doubling wait, a cap per login per day; over a limit, 429 with `retryAfter` seconds.
 */
export async function resendCode(d: CodeDeps & Pick<AccountDeps, 'db'>, deviceId: string) {
  const { config } = d;
  await d.db.transaction(async (tx) => {
    const dev = await store.lockDeviceForResend(tx, deviceId);
    if (!dev) throw fail('not_found', 'no such device');
    if (dev.verified_at !== null) throw fail('bad_request', 'this device is already verified');
    const now = d.clock();
    const tooMany = (message: string, retryAfterMs: number | null) =>
      fail(
        'too_many_attempts',
        message,
        retryAfterMs === null ? {} : { retryAfter: Math.ceil(retryAfterMs / 1000) },
      );
    if (dev.codes_sent >= config.deviceCodeMaxSends || dev.failures >= config.deviceCodeMaxFailures)
      throw tooMany('no more codes for this device; sign in again for a new device', null);
    const waitMs = config.deviceCodeResendSeconds * 1000 * 2 ** (dev.codes_sent - 1);
    const last = Number(dev.last_code_at ?? 0n);
    if (now < last + waitMs)
      throw tooMany('a code was sent a moment ago; wait before asking again', last + waitMs - now);
    if (
      (await store.codesSentSince(tx, dev.customer_id, now - 86_400_000)) >= config.deviceCodesPerLoginPerDay
    )
      throw tooMany('too many codes for this login today; try again tomorrow', 86_400_000);
    await store.countCodeSent(tx, deviceId);
    await issueCode(d, tx, deviceId, dev.login);
  });
}
