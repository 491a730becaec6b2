/**
 * The SQL of customers' accounts: the customers, devices, sessions, login_failures and outbox tables
 * (migrations 0210, 0270, 20261205_0200). Nothing else in the broker touches these tables; each function
 * runs on the Queryable it is given (the database, or the caller's transaction). Times are Unix ms.
 */
import type { Queryable } from '@netpay/db';

// ── customers ──────────────────────────────────────────────────────────────────────────────────────

export async function loginTaken(q: Queryable, login: string): Promise<boolean> {
  const rows = await q.query('SELECT 1 FROM customers WHERE login = $1', [login]);
  return rows.length > 0;
}

export async function insertCustomer(
  q: Queryable,
  c: { id: string; login: string; passwordHash: string; createdAt: number },
): Promise<void> {
  await q.query('INSERT INTO customers (id, login, password_hash, created_at) VALUES ($1, $2, $3, $4)', [
    c.id,
    c.login,
    c.passwordHash,
    BigInt(c.createdAt),
  ]);
}

/** What signing in checks: the password's hash and the TOTP secret (null when not enrolled). */
export async function customerByLogin(q: Queryable, login: string) {
  const [c] = await q.query<{ id: string; password_hash: string; totp_secret: string | null; login: string }>(
    'SELECT id, password_hash, totp_secret, login FROM customers WHERE login = $1',
    [login],
  );
  return c;
}

/** The customer's login and whether TOTP is on, for the profile. */
export async function customerProfile(q: Queryable, customerId: string) {
  const [c] = await q.query<{ login: string; totp_secret: string | null }>(
    'SELECT login, totp_secret FROM customers WHERE id = $1',
    [customerId],
  );
  return c;
}

/** Keeps a TOTP secret until it is confirmed; returns the customer's login (undefined: no such customer). */
export async function setTotpPending(q: Queryable, customerId: string, secret: string) {
  const [c] = await q.query<{ login: string }>(
    'UPDATE customers SET totp_pending = $2 WHERE id = $1 RETURNING login',
    [customerId, secret],
  );
  return c?.login;
}

export async function totpPending(q: Queryable, customerId: string): Promise<string | null> {
  const [c] = await q.query<{ totp_pending: string | null }>(
    'SELECT totp_pending FROM customers WHERE id = $1',
    [customerId],
  );
  return c?.totp_pending ?? null;
}

export async function enableTotp(q: Queryable, customerId: string, secret: string): Promise<void> {
  await q.query('UPDATE customers SET totp_secret = $2, totp_pending = NULL WHERE id = $1', [
    customerId,
    secret,
  ]);
}

// ── devices and their codes ────────────────────────────────────────────────────────────────────────

export async function insertDevice(
  q: Queryable,
  d: { id: string; customerId: string; name: string; createdAt: number },
): Promise<void> {
  await q.query('INSERT INTO devices (id, customer_id, name, created_at) VALUES ($1, $2, $3, $4)', [
    d.id,
    d.customerId,
    d.name,
    BigInt(d.createdAt),
  ]);
}

/** A new code (its hash) for a device: the attempts start again, the wrong codes so far do not. */
export async function setDeviceCode(
  q: Queryable,
  deviceId: string,
  code: { hash: string; expiresAt: number; sentAt: number },
): Promise<void> {
  await q.query(
    'UPDATE devices SET code_hash = $2, code_expires_at = $3, attempts = 0, last_code_at = $4 WHERE id = $1',
    [deviceId, code.hash, BigInt(code.expiresAt), BigInt(code.sentAt)],
  );
}

/** The device's pending code and its counters, locked for the check. */
export async function lockDeviceCode(q: Queryable, deviceId: string) {
  const [d] = await q.query<{
    customer_id: string;
    code_hash: string | null;
    code_expires_at: bigint | null;
    attempts: number;
    failures: number;
    verified_at: bigint | null;
  }>(
    'SELECT customer_id, code_hash, code_expires_at, attempts, failures, verified_at FROM devices WHERE id = $1 FOR UPDATE',
    [deviceId],
  );
  return d;
}

export async function countWrongCode(q: Queryable, deviceId: string): Promise<void> {
  await q.query('UPDATE devices SET attempts = attempts + 1, failures = failures + 1 WHERE id = $1', [
    deviceId,
  ]);
}

export async function markDeviceVerified(q: Queryable, deviceId: string, at: number): Promise<void> {
  await q.query(
    'UPDATE devices SET verified_at = $2, code_hash = NULL, code_expires_at = NULL WHERE id = $1',
    [deviceId, BigInt(at)],
  );
}

/** The device, its customer's login and how many codes it had, locked for a resend. */
export async function lockDeviceForResend(q: Queryable, deviceId: string) {
  const [d] = await q.query<{
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
  return d;
}

/** Codes sent to the customer's devices that were active since `since`. */
export async function codesSentSince(q: Queryable, customerId: string, since: number): Promise<number> {
  const [day] = await q.query<{ sent: bigint }>(
    `SELECT COALESCE(sum(codes_sent), 0)::int8 AS sent FROM devices
     WHERE customer_id = $1 AND COALESCE(last_code_at, created_at) > $2`,
    [customerId, BigInt(since)],
  );
  return Number(day?.sent ?? 0n);
}

export async function countCodeSent(q: Queryable, deviceId: string): Promise<void> {
  await q.query('UPDATE devices SET codes_sent = codes_sent + 1 WHERE id = $1', [deviceId]);
}

/** Whether the customer's device `deviceId` is verified (false for an unknown or someone else's device). */
export async function deviceVerified(q: Queryable, deviceId: string, customerId: string): Promise<boolean> {
  const [d] = await q.query<{ verified_at: bigint | null }>(
    'SELECT verified_at FROM devices WHERE id = $1 AND customer_id = $2',
    [deviceId, customerId],
  );
  return d?.verified_at !== null && d?.verified_at !== undefined;
}

// ── sessions ───────────────────────────────────────────────────────────────────────────────────────

export async function insertSession(
  q: Queryable,
  s: { tokenHash: string; customerId: string; deviceId: string; expiresAt: number; createdAt: number },
): Promise<void> {
  await q.query(
    'INSERT INTO sessions (token_hash, customer_id, device_id, expires_at, created_at) VALUES ($1, $2, $3, $4, $5)',
    [s.tokenHash, s.customerId, s.deviceId, BigInt(s.expiresAt), BigInt(s.createdAt)],
  );
}

export async function sessionByHash(q: Queryable, tokenHash: string) {
  const [s] = await q.query<{ customer_id: string; device_id: string; expires_at: bigint }>(
    'SELECT customer_id, device_id, expires_at FROM sessions WHERE token_hash = $1',
    [tokenHash],
  );
  return s;
}

export async function deleteSession(q: Queryable, tokenHash: string): Promise<void> {
  await q.query('DELETE FROM sessions WHERE token_hash = $1', [tokenHash]);
}

// ── sign-in attempts ───────────────────────────────────────────────────────────────────────────────

/**
 * Counts one attempt for `login`: a new window starting `now` once the last one began at or before
 * `windowStart`, else one more in the current window. Returns the count and when its window began.
 */
export async function countLoginAttempt(q: Queryable, login: string, now: number, windowStart: number) {
  const [row] = await q.query<{ failures: number; first_at: bigint }>(
    `INSERT INTO login_failures (login, failures, first_at) VALUES ($1, 1, $2::int8)
     ON CONFLICT (login) DO UPDATE SET
       failures = CASE WHEN login_failures.first_at <= $3::int8 THEN 1 ELSE login_failures.failures + 1 END,
       first_at = CASE WHEN login_failures.first_at <= $3::int8 THEN $2::int8 ELSE login_failures.first_at END
     RETURNING failures, first_at`,
    [login, BigInt(now), BigInt(windowStart)],
  );
  return row;
}

export async function clearLoginFailures(q: Queryable, login: string): Promise<void> {
  await q.query('DELETE FROM login_failures WHERE login = $1', [login]);
}

// ── the outbox (device codes when there is no SMS or e-mail provider) ──────────────────────────────

export async function insertOutboxMessage(
  q: Queryable,
  m: { id: string; recipient: string; kind: string; body: string; createdAt: number },
): Promise<void> {
  await q.query('INSERT INTO outbox (id, recipient, kind, body, created_at) VALUES ($1, $2, $3, $4, $5)', [
    m.id,
    m.recipient,
    m.kind,
    m.body,
    BigInt(m.createdAt),
  ]);
}

/** The messages to one recipient, or the first 200 of all, oldest first. */
export async function outboxMessages(q: Queryable, recipient?: string) {
  return q.query<{ id: string; recipient: string; kind: string; body: string; created_at: bigint }>(
    recipient
      ? 'SELECT * FROM outbox WHERE recipient = $1 ORDER BY created_at, seq'
      : 'SELECT * FROM outbox ORDER BY created_at, seq LIMIT 200',
    recipient ? [recipient] : [],
  );
}
