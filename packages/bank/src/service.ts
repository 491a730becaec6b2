/**
 * The bank's one typed API (`createBankService`): the HTTP routes, the tests and any in-process caller use
 * these functions. Each operation is a plain function over the bank's dependencies, in its own module:
 * accounts.ts (open, the token check, read), transfers.ts (move money, find a transfer) and statement.ts;
 * context.ts names the dependencies.
 */
import type { Db } from '@netpay/db';
import { type Currency, NetPayError } from '@netpay/protocol';
import * as accounts from './accounts.ts';
import { type BankServiceDeps, bankContext } from './context.ts';
import { statement } from './statement.ts';
import { findTransfer, type TransferLookup, type TransferResult, transfer } from './transfers.ts';
import type { Account, CreatedAccount, Statement, StatementPage, Transfer, TransferInput } from './wire.ts';

export { hashToken } from './accounts.ts';
export { type BankServiceDeps, type Clock, DEFAULT_CURRENCY, systemClock } from './context.ts';
export type { TransferLookup, TransferResult } from './transfers.ts';

export interface BankInfo {
  readonly currency: Currency;
  readonly dev: boolean;
}

/** The bank's one typed API: the HTTP routes, the tests and any in-process caller use these functions. */
export interface BankService {
  info(): BankInfo;
  createAccount(input: { name: string; initialBalance?: bigint | undefined }): Promise<CreatedAccount>;
  /** The account a bearer token belongs to; 401 `unauthorized` otherwise. */
  authenticate(token: string | undefined): Promise<string>;
  getAccount(token: string | undefined, accountId: string): Promise<Account>;
  transfer(token: string | undefined, key: string | undefined, input: TransferInput): Promise<TransferResult>;
  /** By id or by idempotency key, with the token of either party. */
  findTransfer(token: string | undefined, lookup: TransferLookup): Promise<Transfer>;
  statement(token: string | undefined, accountId: string, page?: StatementPage): Promise<Statement>;
}

export function createBankService(deps: BankServiceDeps): BankService {
  const ctx = bankContext(deps);
  return {
    info: () => ({ currency: ctx.currency, dev: ctx.dev }),
    createAccount: (input) => accounts.createAccount(ctx, input),
    authenticate: (token) => accounts.authenticate(ctx, token),
    getAccount: (token, accountId) => accounts.getAccount(ctx, token, accountId),
    transfer: (token, key, input) => transfer(ctx, token, key, input),
    findTransfer: (token, lookup) => findTransfer(ctx, token, lookup),
    statement: (token, accountId, page) => statement(ctx, token, accountId, page),
  };
}

/**
 * Records the bank's currency on first start and refuses to run an existing bank in another one, which
 * would silently reinterpret every balance: a NetPayError `bank_config` (the stored data does not fit how
 * the bank is being started).
 */
export async function claimCurrency(db: Db, cur: Currency): Promise<void> {
  const value = `${cur.code}/${cur.exponent}`;
  await db.query(
    `INSERT INTO bank_settings (key, value) VALUES ('currency', $1) ON CONFLICT (key) DO NOTHING`,
    [value],
  );
  const [row] = await db.query<{ value: string }>(`SELECT value FROM bank_settings WHERE key = 'currency'`);
  if (row?.value !== value) {
    throw new NetPayError(
      'bank_config',
      `this bank's data is kept in ${row?.value ?? '?'}; it cannot be started with ${value}`,
    );
  }
}
