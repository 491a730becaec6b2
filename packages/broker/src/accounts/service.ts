import type { Queryable } from '@netpay/db';
import { sha256, toBase64url, toHex, utf8 } from '@netpay/protocol';
import { type BrokerContext, newId, nowSeconds } from '../context.ts';
import { fail } from '../errors.ts';
import { customerAccount } from '../ledger/ledger.ts';
import { hashPassword, verifyPassword } from './password.ts';
import { toBase32, verifyTotp } from './totp.ts';

const EMAIL_RE = /^[^\s@]{1,64}@[^\s@]{1,253}\.[^\s@]{2,63}$/;
const PHONE_RE = /^\+[1-9][0-9]{6,14}$/;

/** Customers sign up with an email or an E.164 phone number; both are compared case-insensitively. */
export function normalizeLogin(login: string): string | null {
  const trimmed = login.trim();
  if (PHONE_RE.test(trimmed)) return trimmed;
  if (EMAIL_RE.test(trimmed)) return trimmed.toLowerCase();
  return null;
}

const hashToken = (token: string) => toHex(sha256(utf8(token)));

export interface Session {
  readonly customerId: string;
  readonly deviceId: string;
}

/**
 * Customer accounts as Quick Pay has them: register with a login and a password (argon2id); each device
 * is confirmed with a 6-digit code sent through the notifier, with few attempts and a short lifetime;
 * optional TOTP. A verified device gets a bearer session token.
 */
export function createAccountService(ctx: BrokerContext) {
  const { db, config } = ctx;

  let decoy: Promise<string> | undefined;
  const decoyHash = () => {
    decoy ??= hashPassword('decoy password', new Uint8Array(16), config.argon2);
    return decoy;
  };

  function sixDigits(): string {
    const r = ctx.random(4);
    const n = ((r[0]! << 24) | (r[1]! << 16) | (r[2]! << 8) | r[3]!) >>> 0;
    return (n % 1_000_000).toString().padStart(6, '0');
  }

  async function issueCode(tx: Queryable, deviceId: string, recipient: string): Promise<void> {
    const code = sixDigits();
    await tx.query(
      'UPDATE devices SET code_hash = $2, code_expires_at = $3, attempts = 0, last_code_at = $4 WHERE id = $1',
      [
        deviceId,
        hashToken(`${deviceId}:${code}`),
        BigInt(ctx.clock() + config.deviceCodeTtlSeconds * 1000),
        BigInt(ctx.clock()),
      ],
    );
    await ctx.notifier.send(tx, {
      recipient,
      kind: 'device_code',
      body: `Your NetPay code is ${code}. It expires in ${Math.round(config.deviceCodeTtlSeconds / 60)} minutes.`,
    });
  }

  async function newDevice(
    tx: Queryable,
    customerId: string,
    name: string,
    recipient: string,
  ): Promise<string> {
    const deviceId = newId(ctx, 'dev');
    await tx.query('INSERT INTO devices (id, customer_id, name, created_at) VALUES ($1, $2, $3, $4)', [
      deviceId,
      customerId,
      name,
      BigInt(ctx.clock()),
    ]);
    await issueCode(tx, deviceId, recipient);
    return deviceId;
  }

  async function register(input: { login: string; password: string; deviceName: string }) {
    const login = normalizeLogin(input.login);
    if (!login)
      throw fail('bad_request', 'login must be an email address or a phone number like +14155550100');
    const customerId = newId(ctx, 'cus');
    const passwordHash = await hashPassword(input.password, ctx.random(16), config.argon2);
    return db.transaction(async (tx) => {
      const taken = await tx.query('SELECT 1 FROM customers WHERE login = $1', [login]);
      if (taken.length > 0) throw fail('login_taken', 'an account with this login exists; sign in instead');
      await tx.query('INSERT INTO customers (id, login, password_hash, created_at) VALUES ($1, $2, $3, $4)', [
        customerId,
        login,
        passwordHash,
        BigInt(ctx.clock()),
      ]);
      await ctx.ledger.openAccount(tx, customerAccount(customerId), 'customer');
      const deviceId = await newDevice(tx, customerId, input.deviceName, login);
      return { customerId, deviceId, verificationRequired: true as const };
    });
  }

  async function startSession(tx: Queryable, customerId: string, deviceId: string) {
    const token = toBase64url(ctx.random(32));
    const expiresAt = ctx.clock() + config.sessionTtlSeconds * 1000;
    await tx.query(
      'INSERT INTO sessions (token_hash, customer_id, device_id, expires_at, created_at) VALUES ($1, $2, $3, $4, $5)',
      [hashToken(token), customerId, deviceId, BigInt(expiresAt), BigInt(ctx.clock())],
    );
    return { token, customerId, deviceId, expiresAt: new Date(expiresAt).toISOString() };
  }

  async function verifyDevice(input: { deviceId: string; code: string }) {
    return db.transaction(async (tx) => {
      const [d] = await tx.query<{
        customer_id: string;
        code_hash: string | null;
        code_expires_at: bigint | null;
        attempts: number;
        failures: number;
        verified_at: bigint | null;
      }>(
        'SELECT customer_id, code_hash, code_expires_at, attempts, failures, verified_at FROM devices WHERE id = $1 FOR UPDATE',
        [input.deviceId],
      );
      if (!d) throw fail('not_found', 'no such device');
      if (!d.code_hash || d.code_expires_at === null)
        throw fail('code_invalid', 'no code is pending for this device');
      if (d.failures >= config.deviceCodeMaxFailures)
        throw fail(
          'too_many_attempts',
          'too many wrong codes for this device; sign in again for a new device',
        );
      if (d.attempts >= config.deviceCodeMaxAttempts) {
        throw fail('too_many_attempts', 'too many wrong codes; request a new code');
      }
      if (BigInt(ctx.clock()) > d.code_expires_at)
        throw fail('code_expired', 'the code has expired; request a new one');
      if (hashToken(`${input.deviceId}:${input.code}`) !== d.code_hash) {
        await tx.query('UPDATE devices SET attempts = attempts + 1, failures = failures + 1 WHERE id = $1', [
          input.deviceId,
        ]);
        return { ok: false as const, attemptsLeft: config.deviceCodeMaxAttempts - d.attempts - 1 };
      }
      await tx.query(
        'UPDATE devices SET verified_at = $2, code_hash = NULL, code_expires_at = NULL WHERE id = $1',
        [input.deviceId, BigInt(ctx.clock())],
      );
      return { ok: true as const, session: await startSession(tx, d.customer_id, input.deviceId) };
    });
  }

  /**
   * Sends a device a fresh code, within the limits (docs/broker.md §4): a few codes per device, each
   * resend after a doubling wait, a cap per login per day; over a limit, 429 with `retryAfter` seconds.
   */
  async function resendCode(deviceId: string) {
    await db.transaction(async (tx) => {
      const [d] = await tx.query<{
        login: string;
        customer_id: string;
        verified_at: bigint | null;
        codes_sent: number;
        last_code_at: bigint | null;
        failures: number;
      }>(
        `SELECT c.login, d.customer_id, d.verified_at, d.codes_sent, d.last_code_at, d.failures
         FROM devices d JOIN customers c ON c.id = d.customer_id WHERE d.id = $1 FOR UPDATE`,
        [deviceId],
      );
      if (!d) throw fail('not_found', 'no such device');
      if (d.verified_at !== null) throw fail('bad_request', 'this device is already verified');
      const now = ctx.clock();
      const tooMany = (message: string, retryAfterMs: number | null) =>
        fail(
          'too_many_attempts',
          message,
          retryAfterMs === null ? {} : { retryAfter: Math.ceil(retryAfterMs / 1000) },
        );
      if (d.codes_sent >= config.deviceCodeMaxSends || d.failures >= config.deviceCodeMaxFailures)
        throw tooMany('no more codes for this device; sign in again for a new device', null);
      const waitMs = config.deviceCodeResendSeconds * 1000 * 2 ** (d.codes_sent - 1);
      const last = Number(d.last_code_at ?? 0n);
      if (now < last + waitMs)
        throw tooMany('a code was sent a moment ago; wait before asking again', last + waitMs - now);
      const [day] = await tx.query<{ sent: bigint }>(
        `SELECT COALESCE(sum(codes_sent), 0)::int8 AS sent FROM devices
         WHERE customer_id = $1 AND COALESCE(last_code_at, created_at) > $2`,
        [d.customer_id, BigInt(now - 86_400_000)],
      );
      if (Number(day?.sent ?? 0n) >= config.deviceCodesPerLoginPerDay)
        throw tooMany('too many codes for this login today; try again tomorrow', 86_400_000);
      await tx.query('UPDATE devices SET codes_sent = codes_sent + 1 WHERE id = $1', [deviceId]);
      await issueCode(tx, deviceId, d.login);
    });
  }

  /**
   * Checks a login, password and (when enrolled) TOTP code; returns the customer. Used by sign-in and by
   * the server-side wallet's authorization page, which signs a customer in for one grant only.
   */
  async function checkCredentials(input: { login: string; password: string; totp?: string | undefined }) {
    const login = normalizeLogin(input.login);
    // This attempt is counted before the (slow) password check, so attempts made at once count too.
    if (login) await countAttempt(login);
    const [c] = login
      ? await db.query<{ id: string; password_hash: string; totp_secret: string | null; login: string }>(
          'SELECT id, password_hash, totp_secret, login FROM customers WHERE login = $1',
          [login],
        )
      : [];
    // An unknown login costs a full hash too, so timing does not tell which logins exist.
    const checked = await verifyPassword(input.password, c?.password_hash ?? (await decoyHash()));
    if (!c || !checked) {
      throw fail('invalid_credentials', 'login or password is wrong');
    }
    if (c.totp_secret) {
      if (!input.totp) throw fail('totp_required', 'this account needs the code from your authenticator app');
      if (!verifyTotp(c.totp_secret, input.totp, nowSeconds(ctx)))
        throw fail('totp_invalid', 'the authenticator code is wrong');
    }
    // The whole check passed (password and code): the attempts start again from none.
    await db.query('DELETE FROM login_failures WHERE login = $1', [login]);
    return { customerId: c.id, login: c.login };
  }

  /**
   * Counts a sign-in attempt for a login in the current window (a new window once the last one is over)
   * and refuses it once there were too many: every attempt counts until one succeeds, which clears them.
   */
  async function countAttempt(login: string) {
    const now = ctx.clock();
    const window = config.passwordLockSeconds * 1000;
    const [row] = await db.query<{ failures: number; first_at: bigint }>(
      `INSERT INTO login_failures (login, failures, first_at) VALUES ($1, 1, $2::int8)
       ON CONFLICT (login) DO UPDATE SET
         failures = CASE WHEN login_failures.first_at <= $3::int8 THEN 1 ELSE login_failures.failures + 1 END,
         first_at = CASE WHEN login_failures.first_at <= $3::int8 THEN $2::int8 ELSE login_failures.first_at END
       RETURNING failures, first_at`,
      [login, BigInt(now), BigInt(now - window)],
    );
    if (row && row.failures > config.passwordMaxFailures)
      throw fail(
        'too_many_attempts',
        `too many wrong passwords or codes for this login; try again in ${Math.ceil((Number(row.first_at) + window - now) / 60_000)} minute(s)`,
      );
  }

  async function login(input: {
    login: string;
    password: string;
    deviceId?: string;
    deviceName?: string;
    totp?: string;
  }) {
    const checked = await checkCredentials(input);
    const c = { id: checked.customerId, login: checked.login };
    return db.transaction(async (tx) => {
      if (input.deviceId) {
        const [d] = await tx.query<{ verified_at: bigint | null }>(
          'SELECT verified_at FROM devices WHERE id = $1 AND customer_id = $2',
          [input.deviceId, c.id],
        );
        if (d?.verified_at !== null && d?.verified_at !== undefined) {
          return {
            verificationRequired: false as const,
            session: await startSession(tx, c.id, input.deviceId),
          };
        }
      }
      const deviceId = await newDevice(tx, c.id, input.deviceName ?? 'device', c.login);
      return { verificationRequired: true as const, deviceId };
    });
  }

  async function authenticate(token: string | undefined): Promise<Session> {
    if (!token) throw fail('unauthorized', 'sign in first: send Authorization: Bearer <session token>');
    const [s] = await db.query<{ customer_id: string; device_id: string; expires_at: bigint }>(
      'SELECT customer_id, device_id, expires_at FROM sessions WHERE token_hash = $1',
      [hashToken(token)],
    );
    if (!s || s.expires_at < BigInt(ctx.clock()))
      throw fail('unauthorized', 'the session is unknown or has expired');
    return { customerId: s.customer_id, deviceId: s.device_id };
  }

  async function logout(token: string): Promise<void> {
    await db.query('DELETE FROM sessions WHERE token_hash = $1', [hashToken(token)]);
  }

  /** Starts TOTP enrolment: returns the secret; it is enforced once confirmed with a code. */
  async function enrolTotp(session: Session) {
    const secret = toBase32(ctx.random(20));
    const [c] = await db.query<{ login: string }>(
      'UPDATE customers SET totp_pending = $2 WHERE id = $1 RETURNING login',
      [session.customerId, secret],
    );
    const uri = `otpauth://totp/NetPay:${encodeURIComponent(c?.login ?? '')}?secret=${secret}&issuer=NetPay`;
    return { secret, uri };
  }

  async function confirmTotp(session: Session, code: string) {
    const [c] = await db.query<{ totp_pending: string | null }>(
      'SELECT totp_pending FROM customers WHERE id = $1',
      [session.customerId],
    );
    const secret = c?.totp_pending;
    if (!secret) throw fail('bad_request', 'start TOTP enrolment first');
    if (!verifyTotp(secret, code, nowSeconds(ctx)))
      throw fail('totp_invalid', 'the authenticator code is wrong');
    await db.query('UPDATE customers SET totp_secret = $2, totp_pending = NULL WHERE id = $1', [
      session.customerId,
      secret,
    ]);
    return { enabled: true as const };
  }

  async function profile(session: Session) {
    const [c] = await db.query<{ login: string; totp_secret: string | null; balance: bigint }>(
      `SELECT c.login, c.totp_secret, a.balance FROM customers c JOIN ledger_accounts a ON a.id = $2 WHERE c.id = $1`,
      [session.customerId, customerAccount(session.customerId)],
    );
    if (!c) throw fail('not_found', 'no such customer');
    return {
      customerId: session.customerId,
      login: c.login,
      totp: c.totp_secret !== null,
      balance: c.balance,
    };
  }

  async function outbox(recipient?: string) {
    const rows = await db.query<{
      id: string;
      recipient: string;
      kind: string;
      body: string;
      created_at: bigint;
    }>(
      recipient
        ? 'SELECT * FROM outbox WHERE recipient = $1 ORDER BY created_at, seq'
        : 'SELECT * FROM outbox ORDER BY created_at, seq LIMIT 200',
      recipient ? [normalizeLogin(recipient) ?? recipient] : [],
    );
    return rows.map((r) => ({
      id: r.id,
      recipient: r.recipient,
      kind: r.kind,
      body: r.body,
      createdAt: new Date(Number(r.created_at)).toISOString(),
    }));
  }

  /** A new device for a customer whose password was just checked, with a code sent to the login. */
  async function newDeviceFor(customerId: string, login: string, name: string) {
    return db.transaction((tx) => newDevice(tx, customerId, name, login));
  }

  return {
    register,
    verifyDevice,
    resendCode,
    checkCredentials,
    newDeviceFor,
    login,
    authenticate,
    logout,
    enrolTotp,
    confirmTotp,
    profile,
    outbox,
  };
}

export type AccountService = ReturnType<typeof createAccountService>;
