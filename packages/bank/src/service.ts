import {
  ACCOUNT_ID_PREFIX,
  DEFAULT_STATEMENT_LIMIT,
  MAX_STATEMENT_LIMIT,
  TOKEN_PREFIX,
  TRANSFER_ID_PREFIX,
} from '@netpay/api';
import type { Db, Queryable } from '@netpay/db';
import {
  type Currency,
  invariant,
  MAX_MINOR,
  currency as makeCurrency,
  NetPayError,
  randomBytes,
  sha256,
  toBase64url,
  toHex,
  utf8,
} from '@netpay/protocol';
import { idempotent, requireIdempotencyKey } from '@netpay/service';
import { bankError } from './errors.ts';
import {
  type Account,
  type CreatedAccount,
  type Statement,
  type StatementEntry,
  type StatementPage,
  type Transfer,
  type TransferInput,
  transferFromWire,
  transferToWire,
} from './wire.ts';

/** Wall-clock time in milliseconds since the Unix epoch; injected so tests can move time. */
export interface Clock {
  now(): number;
}
export const systemClock: Clock = { now: () => Date.now() };

export const DEFAULT_CURRENCY: Currency = makeCurrency('USD', 2);

export interface BankServiceDeps {
  readonly db: Db;
  readonly clock: Clock;
  /** Source of ids and tokens. Default: the platform CSPRNG. */
  readonly random?: (length: number) => Uint8Array;
  /** The one currency of this bank. Default USD with 2 decimals. */
  readonly currency?: Currency;
  /** Dev mode lets anyone open an account with money in it. Default false. */
  readonly dev?: boolean;
}

export interface BankInfo {
  readonly currency: Currency;
  readonly dev: boolean;
}

export type TransferLookup = { readonly id: string } | { readonly key: string };

export interface TransferResult {
  readonly transfer: Transfer;
  /** True when this is the stored answer to an earlier request with the same idempotency key. */
  readonly replayed: boolean;
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

const TOKEN_RE = /^bkt_[A-Za-z0-9_-]{43}$/;

interface TransferRow {
  id: string;
  from_account: string;
  to_account: string;
  amount: bigint;
  reference: string | null;
  idempotency_key: string;
  created_at: bigint;
}

interface EntryRow {
  seq: bigint;
  kind: StatementEntry['kind'];
  amount: bigint;
  balance_after: bigint;
  counterparty: string | null;
  transfer_id: string | null;
  reference: string | null;
  created_at: bigint;
}

const TRANSFER_COLUMNS = 'id, from_account, to_account, amount, reference, idempotency_key, created_at';

const isoTime = (ms: bigint | number) => new Date(Number(ms)).toISOString();

function transferFromRow(r: TransferRow): Transfer {
  return {
    id: r.id,
    from: r.from_account,
    to: r.to_account,
    amount: r.amount,
    reference: r.reference,
    key: r.idempotency_key,
    createdAt: isoTime(r.created_at),
  };
}

export function hashToken(token: string): string {
  return toHex(sha256(utf8(token)));
}

export function createBankService(deps: BankServiceDeps): BankService {
  const { db, clock } = deps;
  const random = deps.random ?? randomBytes;
  const currency = deps.currency ?? DEFAULT_CURRENCY;
  const dev = deps.dev ?? false;

  const newId = (prefix: string) => prefix + toBase64url(random(16));

  async function authenticate(token: string | undefined): Promise<string> {
    if (token === undefined) {
      throw bankError('unauthorized', 'send Authorization: Bearer <account token>');
    }
    if (!TOKEN_RE.test(token)) throw bankError('unauthorized', 'that is not an account token');
    const [row] = await db.query<{ id: string }>('SELECT id FROM bank_accounts WHERE token_hash = $1', [
      hashToken(token),
    ]);
    if (!row) throw bankError('unauthorized', 'unknown account token');
    return row.id;
  }

  async function authorize(token: string | undefined, accountId: string): Promise<void> {
    const holder = await authenticate(token);
    if (holder !== accountId)
      throw bankError('forbidden', `this token does not authorize account ${accountId}`);
  }

  async function createAccount(input: { name: string; initialBalance?: bigint | undefined }) {
    const initial = input.initialBalance ?? 0n;
    if (initial < 0n || initial > MAX_MINOR)
      throw bankError('invalid_amount', 'initialBalance is out of range');
    if (initial > 0n && !dev) {
      throw bankError(
        'initial_balance_not_allowed',
        'initialBalance is allowed only when the bank runs in dev mode',
      );
    }
    const id = newId(ACCOUNT_ID_PREFIX);
    const token = TOKEN_PREFIX + toBase64url(random(32));
    const now = BigInt(clock.now());
    await db.transaction(async (tx) => {
      await tx.query(
        `INSERT INTO bank_accounts (id, name, balance, token_hash, last_seq, created_at)
         VALUES ($1, $2, $3, $4, $5, $6)`,
        [id, input.name, initial, hashToken(token), initial > 0n ? 1n : 0n, now],
      );
      if (initial > 0n) {
        await tx.query(
          `INSERT INTO bank_entries (account_id, seq, kind, amount, balance_after, created_at)
           VALUES ($1, 1, 'opening', $2, $2, $3)`,
          [id, initial, now],
        );
      }
    });
    return { id, name: input.name, balance: initial, token };
  }

  async function getAccount(token: string | undefined, accountId: string): Promise<Account> {
    await authorize(token, accountId);
    const [row] = await db.query<{ id: string; name: string; balance: bigint }>(
      'SELECT id, name, balance FROM bank_accounts WHERE id = $1',
      [accountId],
    );
    invariant(row, `authorized account ${accountId} has no row`);
    return row;
  }

  /** Moves the money: both account rows locked in id order, so concurrent transfers cannot deadlock. */
  async function executeTransfer(tx: Queryable, key: string, input: TransferInput): Promise<Transfer> {
    const { from, to, amount } = input;
    const rows = await tx.query<{ id: string; balance: bigint; last_seq: bigint }>(
      'SELECT id, balance, last_seq FROM bank_accounts WHERE id IN ($1, $2) ORDER BY id FOR UPDATE',
      [from, to],
    );
    const payer = rows.find((r) => r.id === from);
    const payee = rows.find((r) => r.id === to);
    if (!payer) throw bankError('account_not_found', `no account ${from}`);
    if (!payee) throw bankError('account_not_found', `no account ${to}`);
    if (payer.balance < amount) {
      throw bankError('insufficient_funds', `account ${from} holds ${payer.balance}, less than ${amount}`, {
        available: payer.balance.toString(),
      });
    }
    if (payee.balance > MAX_MINOR - amount) {
      throw bankError('balance_limit_exceeded', `account ${to} cannot hold that much more`);
    }
    const payerBalance = payer.balance - amount;
    const payeeBalance = payee.balance + amount;
    invariant(payerBalance >= 0n && payeeBalance >= amount, 'a transfer must not make a balance negative');
    invariant(
      payerBalance + payeeBalance === payer.balance + payee.balance,
      'a transfer must conserve money',
    );
    const payerSeq = payer.last_seq + 1n;
    const payeeSeq = payee.last_seq + 1n;
    const id = newId(TRANSFER_ID_PREFIX);
    const now = BigInt(clock.now());
    const reference = input.reference ?? null;

    await tx.query(
      `INSERT INTO bank_transfers (id, from_account, to_account, amount, reference, idempotency_key, created_at)
       VALUES ($1, $2, $3, $4, $5, $6, $7)`,
      [id, from, to, amount, reference, key, now],
    );
    await tx.query(
      `UPDATE bank_accounts AS a SET balance = v.balance, last_seq = v.seq
       FROM (VALUES ($1::text, $2::bigint, $3::bigint), ($4::text, $5::bigint, $6::bigint)) AS v (id, balance, seq)
       WHERE a.id = v.id`,
      [from, payerBalance, payerSeq, to, payeeBalance, payeeSeq],
    );
    await tx.query(
      `INSERT INTO bank_entries (account_id, seq, kind, amount, balance_after, counterparty, transfer_id, created_at)
       VALUES ($1, $2, 'debit', $3, $4, $5, $9, $10), ($5, $6, 'credit', $7, $8, $1, $9, $10)`,
      [from, payerSeq, -amount, payerBalance, to, payeeSeq, amount, payeeBalance, id, now],
    );
    return { id, from, to, amount, reference, key, createdAt: isoTime(now) };
  }

  async function transfer(token: string | undefined, key: string | undefined, input: TransferInput) {
    await authorize(token, input.from);
    const checkedKey = requireIdempotencyKey(key);
    if (input.amount <= 0n || input.amount > MAX_MINOR) {
      throw bankError('invalid_amount', 'a transfer moves more than zero and at most 2^63−1 minor units');
    }
    if (input.from === input.to) throw bankError('same_account', 'a transfer needs two different accounts');
    const request = {
      from: input.from,
      to: input.to,
      amount: input.amount.toString(),
      reference: input.reference ?? null,
    };
    const result = await idempotent(
      db,
      { scope: `bank.transfer:${input.from}`, key: checkedKey, request, now: () => clock.now() },
      async (tx) => ({ status: 201, body: transferToWire(await executeTransfer(tx, checkedKey, input)) }),
    );
    return { transfer: transferFromWire(result.body), replayed: result.replayed };
  }

  async function findTransfer(token: string | undefined, lookup: TransferLookup): Promise<Transfer> {
    const holder = await authenticate(token);
    if ('key' in lookup) {
      // The payer finds its own transfer by key; a payee may ask too (a merchant checking that a customer
      // paid it under the key it gave them). Keys are per payer, so a payee sees the oldest match.
      const [row] = await db.query<TransferRow>(
        `SELECT ${TRANSFER_COLUMNS} FROM bank_transfers
         WHERE idempotency_key = $2 AND (from_account = $1 OR to_account = $1)
         ORDER BY (from_account = $1) DESC, created_at, id LIMIT 1`,
        [holder, lookup.key],
      );
      if (!row)
        throw bankError('transfer_not_found', 'no transfer to or from this account was made with that key');
      return transferFromRow(row);
    }
    const [row] = await db.query<TransferRow>(
      `SELECT ${TRANSFER_COLUMNS} FROM bank_transfers WHERE id = $1`,
      [lookup.id],
    );
    // A transfer between other accounts is reported as missing, so a token cannot probe for ids.
    if (!row || (row.from_account !== holder && row.to_account !== holder)) {
      throw bankError('transfer_not_found', `no transfer ${lookup.id} involving this account`);
    }
    return transferFromRow(row);
  }

  async function statement(token: string | undefined, accountId: string, page: StatementPage = {}) {
    await authorize(token, accountId);
    const limit = page.limit ?? DEFAULT_STATEMENT_LIMIT;
    invariant(
      Number.isInteger(limit) && limit >= 1 && limit <= MAX_STATEMENT_LIMIT,
      `bad statement limit ${limit}`,
    );
    const after = BigInt(page.after ?? '0');
    const rows = await db.query<EntryRow>(
      `SELECT e.seq, e.kind, e.amount, e.balance_after, e.counterparty, e.transfer_id, t.reference, e.created_at
       FROM bank_entries e LEFT JOIN bank_transfers t ON t.id = e.transfer_id
       WHERE e.account_id = $1 AND e.seq > $2
       ORDER BY e.seq
       LIMIT $3`,
      [accountId, after, limit + 1],
    );
    const more = rows.length > limit;
    const entries = rows.slice(0, limit).map(
      (r): StatementEntry => ({
        seq: r.seq,
        kind: r.kind,
        amount: r.amount,
        balanceAfter: r.balance_after,
        counterparty: r.counterparty,
        transferId: r.transfer_id,
        reference: r.reference,
        createdAt: isoTime(r.created_at),
      }),
    );
    const last = entries.at(-1);
    return { accountId, entries, next: more && last ? last.seq.toString() : null };
  }

  return {
    info: () => ({ currency, dev }),
    createAccount,
    authenticate,
    getAccount,
    transfer,
    findTransfer,
    statement,
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
