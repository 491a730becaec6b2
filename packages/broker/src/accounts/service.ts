/**
 * Customer accounts as Quick Pay has them: register with a login and a password (argon2id); each device
 * is confirmed with a 6-digit code sent through the notifier, with few attempts and a short lifetime
 * (devices.ts); optional TOTP. A verified device gets a bearer session token (signin.ts).
 * Every function takes its dependencies explicitly; createAccountService binds them for the routes.
 */
import { newId, nowSeconds } from '../context.ts';
import { fail } from '../errors.ts';
import { customerAccount } from '../ledger/ledger.ts';
import type { AccountDeps, Session } from './deps.ts';
import { newDevice, newDeviceFor, resendCode, verifyDevice } from './devices.ts';
import { checkedLogin, normalizeLogin } from './login.ts';
import { hashPassword } from './password.ts';
import { authenticate, checkCredentials, decoyHasher, logout, startSession } from './signin.ts';
import * as store from './store.ts';
import { toBase32, verifyTotp } from './totp.ts';

export type { AccountDeps, Session } from './deps.ts';
export { checkedLogin, normalizeLogin } from './login.ts';

/** A new customer with its ledger account and a first device, whose code goes to the login. */
export async function register(
  d: AccountDeps,
  input: { login: string; password: string; deviceName: string },
) {
  const login = checkedLogin(input.login);
  const customerId = newId(d, 'cus');
  const passwordHash = await hashPassword(input.password, d.random(16), d.config.argon2);
  return d.db.transaction(async (tx) => {
    if (await store.loginTaken(tx, login))
      throw fail('login_taken', 'an account with this login exists; sign in instead');
    await store.insertCustomer(tx, { id: customerId, login, passwordHash, createdAt: d.clock() });
    await d.ledger.openAccount(tx, customerAccount(customerId), 'customer');
    const deviceId = await newDevice(d, tx, customerId, input.deviceName, login);
    return { customerId, deviceId, verificationRequired: true as const };
  });
}

/** Signs in: a session at once on a verified device of the customer's, else a new device to verify. */
export async function login(
  d: AccountDeps,
  input: { login: string; password: string; deviceId?: string; deviceName?: string; totp?: string },
) {
  const c = await checkCredentials(d, input);
  return d.db.transaction(async (tx) => {
    if (input.deviceId && (await store.deviceVerified(tx, input.deviceId, c.customerId))) {
      return {
        verificationRequired: false as const,
        session: await startSession(d, tx, c.customerId, input.deviceId),
      };
    }
    const deviceId = await newDevice(d, tx, c.customerId, input.deviceName ?? 'device', c.login);
    return { verificationRequired: true as const, deviceId };
  });
}

/** Starts TOTP enrolment: returns the secret; it is enforced once confirmed with a code. */
export async function enrolTotp(d: Pick<AccountDeps, 'db' | 'random'>, session: Session) {
  const secret = toBase32(d.random(20));
  const login = await store.setTotpPending(d.db, session.customerId, secret);
  const uri = `otpauth://totp/NetPay:${encodeURIComponent(login ?? '')}?secret=${secret}&issuer=NetPay`;
  return { secret, uri };
}

export async function confirmTotp(d: Pick<AccountDeps, 'db' | 'clock'>, session: Session, code: string) {
  const secret = await store.totpPending(d.db, session.customerId);
  if (!secret) throw fail('bad_request', 'start TOTP enrolment first');
  if (!verifyTotp(secret, code, nowSeconds(d))) throw fail('totp_invalid', 'the authenticator code is wrong');
  await store.enableTotp(d.db, session.customerId, secret);
  return { enabled: true as const };
}

export async function profile(d: Pick<AccountDeps, 'db' | 'ledger'>, session: Session) {
  const c = await store.customerProfile(d.db, session.customerId);
  if (!c) throw fail('not_found', 'no such customer');
  return {
    customerId: session.customerId,
    login: c.login,
    totp: c.totp_secret !== null,
    balance: await d.ledger.balance(d.db, customerAccount(session.customerId)),
  };
}

/** The dev outbox: messages to a recipient (its login normalized when it is one), or the latest of all. */
export async function outbox(d: Pick<AccountDeps, 'db'>, recipient?: string) {
  const rows = await store.outboxMessages(
    d.db,
    recipient ? (normalizeLogin(recipient) ?? recipient) : undefined,
  );
  return rows.map((r) => ({
    id: r.id,
    recipient: r.recipient,
    kind: r.kind,
    body: r.body,
    createdAt: new Date(Number(r.created_at)).toISOString(),
  }));
}

/** The account functions bound to their dependencies: what the routes, the wallet page and tests call. */
export function createAccountService(deps: Omit<AccountDeps, 'decoyHash'>) {
  const { db, config, clock, random, ledger, notifier } = deps;
  const d: AccountDeps = {
    db,
    config,
    clock,
    random,
    ledger,
    notifier,
    decoyHash: decoyHasher(config.argon2),
  };
  return {
    register: (input: Parameters<typeof register>[1]) => register(d, input),
    verifyDevice: (input: Parameters<typeof verifyDevice>[1]) => verifyDevice(d, input),
    resendCode: (deviceId: string) => resendCode(d, deviceId),
    checkCredentials: (input: Parameters<typeof checkCredentials>[1]) => checkCredentials(d, input),
    newDeviceFor: (customerId: string, login: string, name: string) =>
      newDeviceFor(d, customerId, login, name),
    login: (input: Parameters<typeof login>[1]) => login(d, input),
    authenticate: (token: string | undefined) => authenticate(d, token),
    logout: (token: string) => logout(d, token),
    enrolTotp: (session: Session) => enrolTotp(d, session),
    confirmTotp: (session: Session, code: string) => confirmTotp(d, session, code),
    profile: (session: Session) => profile(d, session),
    outbox: (recipient?: string) => outbox(d, recipient),
  };
}

export type AccountService = ReturnType<typeof createAccountService>;
